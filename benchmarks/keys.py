"""Several API keys in one run (`--api-key A --api-key B --key-mix 10,1`): which request each key
sends, and per-key figures with Jain's fairness index.

Requests are dealt to keys by smooth weighted round robin (nginx's), so a 10:1 mix interleaves
one light request among every ten heavy ones rather than sending them in blocks. Keys are named
key1, key2, ... in every output; the keys themselves are never printed or written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmarks.client import RequestResult
from benchmarks.stats import summarize
from benchmarks.workload import BenchRequest


def parse_mix(text: str | None, keys: int) -> list[float]:
    """--key-mix "10,1" -> [10.0, 1.0]; equal shares when not given."""
    if text is None:
        return [1.0] * keys
    try:
        mix = [float(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--key-mix {text!r}: comma-separated positive numbers") from None
    if len(mix) != keys or min(mix) <= 0:
        raise ValueError(f"--key-mix needs one positive number per --api-key ({keys} here)")
    return mix


def deal(reqs: list[BenchRequest], mix: list[float]) -> list[BenchRequest]:
    """Each request with the index of the key that sends it, in the proportions of `mix`."""
    current = [0.0] * len(mix)
    total = sum(mix)
    out = []
    for req in reqs:
        current = [c + w for c, w in zip(current, mix, strict=True)]
        k = max(range(len(mix)), key=lambda i: current[i])
        current[k] -= total
        out.append(dataclasses.replace(req, key=k))
    return out


def jain(values: list[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one takes everything."""
    if not values or not any(values):
        return 0.0
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def per_key(
    results: list[RequestResult], duration: float, mix: list[float], slos: dict[str, float]
) -> dict[str, Any]:
    """Figures per key, 429s per key, and Jain's index over each key's output throughput
    divided by its share of the mix (1.0: every key got tokens in proportion to its share)."""
    keys: dict[str, Any] = {}
    for k in range(len(mix)):
        mine = [r for r in results if r.key == k]
        row = summarize(mine, duration, slos) if mine else {"completed": 0}
        row["http_429"] = sum(r.error == "http_429" for r in mine)
        keys[f"key{k + 1}"] = row
    per_share = [
        keys[f"key{k + 1}"].get("output_throughput", 0.0) / (w / sum(mix))
        for k, w in enumerate(mix)
    ]
    return {"keys": keys, "jain_fairness": jain(per_share)}


def print_keys(run: dict[str, Any]) -> None:
    print(f"{'':>10} {'key':<6}{'done':>6}{'429':>6}{'tok/s':>9}{'TTFT med':>10}{'TTFT p99':>10}")
    for name, row in run["keys"].items():
        if not row.get("completed"):
            print(f"{'':>10} {name:<6}{0:>6}{row['http_429']:>6}")
            continue
        print(
            f"{'':>10} {name:<6}{row['completed']:>6}{row['http_429']:>6}"
            f"{row['output_throughput']:>9.1f}{row['median_ttft_ms']:>10.1f}"
            f"{row['p99_ttft_ms']:>10.1f}"
        )
    print(f"{'':>10} Jain's fairness index (throughput per share): {run['jain_fairness']:.3f}")

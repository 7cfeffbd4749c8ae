"""The safety checks' own cost on one idle core: the input check of a 2,000-character prompt in
each language of the held-out set, and the stream guard's cost per streamed chunk.

    python -m benchmarks.safety_latency [--reps 300] [--policy default]

Prompts are the held-out set's benign texts of one language joined to 2,000 characters (text
nobody here tuned on); the streamed output is the same texts cut into chunks of 3-6 characters,
about a token's worth. Issue 12's targets: input p50 <= 2 ms, per chunk p50 <= 0.2 ms. Figures
come from this process on an idle machine: inside a loaded server the same code costs several
times more (see `make safety-bench`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from safety.policy import PolicyError
from serve.app import load_guard

HELDOUT = Path(__file__).parents[1] / "safety" / "data" / "heldout" / "heldout_v2.jsonl"
LANGS = ("en", "de", "es", "fr", "zh")


def prompt(rows: list[dict[str, Any]], lang: str, chars: int) -> str:
    text = " ".join(r["text"] for r in rows if r.get("lang") == lang and not r.get("labels"))
    if not text:
        raise ValueError(f"no benign {lang} texts in the held-out set")
    while len(text) < chars:
        text += " " + text
    return text[:chars]


def chunks(text: str, seed: int) -> list[str]:
    r = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        n = r.randint(3, 6)
        out.append(text[i : i + n])
        i += n
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(len(s) * q))] * 1e3, 3)


def run(policy: str, reps: int, chars: int) -> dict[str, Any]:
    guard = load_guard(policy)
    if guard is None:
        raise ValueError("--policy none has nothing to time")
    rows = [json.loads(x) for x in HELDOUT.read_text().splitlines() if x.strip()]
    out: dict[str, Any] = {"chars": chars, "reps": reps, "input": {}, "chunk": {}}
    for lang in LANGS:
        text = prompt(rows, lang, chars)
        guard.check_input(text, "warm")
        xs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            guard.check_input(text, "bench")
            xs.append(time.perf_counter() - t0)
        out["input"][lang] = {"p50_ms": pct(xs, 0.5), "p99_ms": pct(xs, 0.99)}
        ys = []
        for rep in range(max(1, reps // 30)):
            stream = guard.output(f"bench-{rep}")
            for c in chunks(text, rep):
                t0 = time.perf_counter()
                stream.feed(c)
                ys.append(time.perf_counter() - t0)
            stream.finish()
        out["chunk"][lang] = {"p50_ms": pct(ys, 0.5), "p99_ms": pct(ys, 0.99), "n": len(ys)}
    return out


def render(result: dict[str, Any]) -> str:
    lines = [
        f"| language | input check, {result['chars']:,} chars: p50 / p99 (ms) "
        "| per streamed chunk: p50 / p99 (ms) |",
        "|---|---|---|",
    ]
    for lang in LANGS:
        i, c = result["input"][lang], result["chunk"][lang]
        lines.append(
            f"| {lang} | {i['p50_ms']:.2f} / {i['p99_ms']:.2f} "
            f"| {c['p50_ms']:.3f} / {c['p99_ms']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.safety_latency", description=__doc__)
    ap.add_argument("--policy", default="default", help="default, or a policy YAML file")
    ap.add_argument("--reps", type=int, default=300, help="input checks per language")
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ns = ap.parse_args(argv)
    if ns.reps < 1 or ns.chars < 1:
        ap.error("--reps and --chars must be at least 1")
    try:
        result = run(ns.policy, ns.reps, ns.chars)
    except (ValueError, OSError, PolicyError) as exc:
        print(f"safety_latency: error: {exc}", file=sys.stderr)
        return 1
    print(render(result))
    if ns.json:
        ns.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

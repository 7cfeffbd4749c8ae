"""Per-run figures from per-request results, under vLLM's benchmark result names.

Percentiles are numpy's linear interpolation (what `vllm bench serve` uses). Goodput counts the
completed requests that met every SLO given (`ttft=500ms`, `tpot=50ms`, `itl=...`, `e2el=2s`;
for itl, every gap of the request must meet it), per second of the run.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from benchmarks.client import RequestResult
from benchmarks.workload import BenchError

PERCENTILES = (90, 99)
METRICS = ("ttft", "tpot", "itl", "e2el")
_SLO = re.compile(r"^(ttft|tpot|itl|e2el)=(\d+(?:\.\d+)?)(ms|s)?$")


def parse_slo(spec: str) -> tuple[str, float]:
    """`ttft=500ms` -> ("ttft", 0.5) in seconds; a bare number is milliseconds (vLLM's unit)."""
    m = _SLO.match(spec.strip().lower())
    if not m:
        raise BenchError(f"bad --slo {spec!r}: expected e.g. ttft=500ms, tpot=50ms, e2el=2s")
    value = float(m.group(2))
    return m.group(1), value if m.group(3) == "s" else value / 1000.0


def meets(r: RequestResult, slos: dict[str, float]) -> bool:
    if not r.ok:
        return False
    for name, limit in slos.items():
        if name == "ttft" and r.ttft > limit:
            return False
        if name == "tpot" and (r.tpot or 0.0) > limit:
            return False
        if name == "itl" and any(gap > limit for gap in r.itl):
            return False
        if name == "e2el" and r.latency > limit:
            return False
    return True


def _describe(name: str, seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0 if seconds else np.zeros(1)
    out = {
        f"mean_{name}_ms": float(ms.mean()),
        f"median_{name}_ms": float(np.median(ms)),
        f"std_{name}_ms": float(ms.std()),
    }
    for p in PERCENTILES:
        out[f"p{p}_{name}_ms"] = float(np.percentile(ms, p))
    return out


def summarize(
    results: list[RequestResult], duration: float, slos: dict[str, float] | None = None
) -> dict[str, Any]:
    """The run's figures: counts, throughputs, goodput, latency statistics, failures by kind."""
    if duration <= 0:
        raise ValueError("duration must be positive")
    done = [r for r in results if r.ok]
    failures = Counter(r.error for r in results if not r.ok)
    total_in = sum(r.input_len for r in done)
    total_out = sum(r.output_len for r in done)
    series = {
        "ttft": [r.ttft for r in done],
        "tpot": [t for r in done if (t := r.tpot) is not None],
        "itl": [gap for r in done for gap in r.itl],
        "e2el": [r.latency for r in done],
    }
    out: dict[str, Any] = {
        "duration": duration,
        "completed": len(done),
        "failed": len(results) - len(done),
        "failures": dict(sorted(failures.items())),
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "request_throughput": len(done) / duration,
        "request_goodput": (sum(meets(r, slos) for r in results) / duration if slos else None),
        "output_throughput": total_out / duration,
        "total_token_throughput": (total_in + total_out) / duration,
    }
    for name in METRICS:
        out.update(_describe(name, series[name]))
    if slos:
        out["slo"] = {k: v * 1000.0 for k, v in slos.items()}  # ms, like the latency fields
    return out

"""llm-bench's figures from hand-made results: percentiles, TPOT, goodput, failures."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.client import RequestResult
from benchmarks.loadgen import arrival_gaps
from benchmarks.stats import parse_slo, summarize
from benchmarks.workload import BenchError


def done(ttft: float, gaps: list[float], out: int, inp: int = 10) -> RequestResult:
    return RequestResult(
        input_len=inp, output_len=out, ttft=ttft, itl=gaps, latency=ttft + sum(gaps)
    )


def test_percentiles_interpolate_linearly() -> None:
    # TTFTs 100, 200, ..., 1000 ms: median 550, p90 = 100 + 0.9 * 9 * 100 = 910, p99 = 991
    results = [done(t / 10, [0.01], 2) for t in range(1, 11)]
    s = summarize(results, duration=10.0)
    assert s["median_ttft_ms"] == pytest.approx(550.0)
    assert s["mean_ttft_ms"] == pytest.approx(550.0)
    assert s["p90_ttft_ms"] == pytest.approx(910.0)
    assert s["p99_ttft_ms"] == pytest.approx(991.0)


def test_tpot_excludes_the_first_token_and_single_token_requests() -> None:
    # 5 tokens: 4 gaps after the first token, 0.2 s in all -> TPOT 50 ms
    a = done(0.5, [0.05, 0.05, 0.05, 0.05], 5)
    b = done(0.5, [], 1)  # one token: no TPOT
    assert a.tpot == pytest.approx(0.05)
    assert b.tpot is None
    s = summarize([a, b], duration=2.0)
    assert s["median_tpot_ms"] == pytest.approx(50.0)
    assert s["median_itl_ms"] == pytest.approx(50.0)
    assert s["median_e2el_ms"] == pytest.approx(600.0)  # (700 + 500) / 2


def test_throughputs_count_completed_requests_only() -> None:
    ok = [done(0.1, [0.01] * 9, 10, inp=20) for _ in range(4)]
    bad = [RequestResult(input_len=20, error="http_429"), RequestResult(error="timeout")]
    s = summarize(ok + bad, duration=4.0)
    assert s["completed"] == 4 and s["failed"] == 2
    assert s["failures"] == {"http_429": 1, "timeout": 1}
    assert s["total_output_tokens"] == 40 and s["total_input_tokens"] == 80
    assert s["output_throughput"] == pytest.approx(10.0)
    assert s["request_throughput"] == pytest.approx(1.0)
    assert s["total_token_throughput"] == pytest.approx(30.0)
    assert s["request_goodput"] is None


def test_goodput_needs_every_slo_met() -> None:
    fast = done(0.2, [0.02] * 4, 5)
    slow_first = done(0.8, [0.02] * 4, 5)
    slow_gap = done(0.2, [0.02, 0.3, 0.02, 0.02], 5)  # TPOT 90 ms, one 300 ms gap
    failed = RequestResult(error="http_5xx")
    results = [fast, slow_first, slow_gap, failed]
    assert summarize(results, 2.0, {"ttft": 0.5})["request_goodput"] == pytest.approx(1.0)
    both = {"ttft": 0.5, "tpot": 0.05}
    assert summarize(results, 2.0, both)["request_goodput"] == pytest.approx(0.5)
    assert summarize(results, 2.0, {"itl": 0.1})["request_goodput"] == pytest.approx(1.0)
    assert summarize(results, 2.0, {"itl": 0.1})["slo"] == {"itl": pytest.approx(100.0)}


@pytest.mark.parametrize(
    ("spec", "name", "seconds"),
    [("ttft=500ms", "ttft", 0.5), ("tpot=50", "tpot", 0.05), ("e2el=2s", "e2el", 2.0)],
)
def test_parse_slo_units(spec: str, name: str, seconds: float) -> None:
    assert parse_slo(spec) == (name, pytest.approx(seconds))


@pytest.mark.parametrize("spec", ["ttft", "ttft=fast", "latency=5ms", "ttft=5min"])
def test_parse_slo_rejects_junk(spec: str) -> None:
    with pytest.raises(BenchError):
        parse_slo(spec)


def test_poisson_and_gamma_arrivals_have_the_asked_rate_and_burstiness() -> None:
    n = 20000
    poisson = np.array(arrival_gaps(n, rate=4.0, burstiness=1.0, seed=1)[1:])
    assert poisson.mean() == pytest.approx(0.25, rel=0.03)
    assert poisson.std() / poisson.mean() == pytest.approx(1.0, rel=0.05)  # exponential
    bursty = np.array(arrival_gaps(n, rate=4.0, burstiness=0.25, seed=1)[1:])
    assert bursty.mean() == pytest.approx(0.25, rel=0.05)
    assert (bursty.std() / bursty.mean()) ** 2 == pytest.approx(4.0, rel=0.1)  # CV^2 = 1/k
    assert arrival_gaps(5, float("inf"), 1.0, 0) == [0.0] * 5

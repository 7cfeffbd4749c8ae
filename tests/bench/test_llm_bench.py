"""llm-bench end to end against a fake server with scripted latencies: what it measures, how it
loads the server, what it writes, and compare mode."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks import cli, loadgen
from benchmarks.loadgen import arrival_gaps
from benchmarks.workload import load_tokenizer, synthetic
from tests.bench.fake_server import fake_server

TTFT, ITL = 0.3, 0.05


def prompts(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    return path


def test_measures_the_scripted_latencies(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    with fake_server(TTFT, ITL) as (url, _):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", ["a b c", "d e"])), "--output-len", "5",
            "--num-requests", "6", "--concurrency", "2", "--warmup", "0", "--no-progress",
            "--slo", "ttft=1s", "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    run = json.loads(out.read_text())
    assert run["completed"] == 6 and run["failed"] == 0
    assert run["total_output_tokens"] == 30  # from the server's usage
    assert run["total_input_tokens"] == 3 * 3 + 3 * 2
    # scripted: first token after 300 ms, then one every 50 ms. Below, never under the script;
    # above, scheduling slack on a shared 2-core host (a CI run measured 107 ms a token while
    # both workers ran engines), but under what a TTFT/TPOT mix-up would read (300 ms a token)
    assert 300 <= run["median_ttft_ms"] < 300 + 300
    assert 50 <= run["median_tpot_ms"] < 50 + 100
    assert 50 <= run["median_itl_ms"] < 50 + 100
    assert 500 <= run["median_e2el_ms"] < 500 + 500
    assert len(run["itls"]) == 6 and all(len(gaps) == 4 for gaps in run["itls"])
    # three waves of two requests, each at least 0.5 s (no upper bound: a shared machine stalls)
    assert run["output_throughput"] == pytest.approx(30 / run["duration"])
    assert run["duration"] >= 1.5
    assert run["request_goodput"] == pytest.approx(run["request_throughput"])
    for key in ("request_throughput", "output_throughput", "median_ttft_ms", "p99_ttft_ms",
                "median_tpot_ms", "median_itl_ms", "p99_itl_ms", "mean_e2el_ms"):  # fmt: skip
        assert isinstance(run[key], float), key


def test_closed_loop_holds_concurrency_and_warmup_is_not_counted(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    with fake_server(0.05, 0.01) as (url, app):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", ["x"])), "--output-len", "3",
            "--num-requests", "9", "--concurrency", "3", "--warmup", "4", "--no-progress",
            "--no-plots", "--output", str(out),
        ])  # fmt: skip
        assert rc == 0
        assert app.state.max_in_flight == 3
        assert app.state.requests == 4 + 9
    run = json.loads(out.read_text())
    assert run["completed"] == 9 and run["num_prompts"] == 9  # the 4 warm-up ones are not here


def test_failures_are_counted_by_kind(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    texts = ["fine", "FAIL429", "FAIL500", "BREAK here"]
    with fake_server(0.01, 0.01) as (url, _):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", texts)), "--output-len", "4",
            "--num-requests", "8", "--concurrency", "4", "--warmup", "0", "--no-progress",
            "--no-plots", "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    run = json.loads(out.read_text())
    assert run["completed"] == 2 and run["failed"] == 6
    assert run["failures"] == {"http_429": 2, "http_5xx": 2, "stream_error": 2}
    assert run["total_output_tokens"] == 8
    assert run["errors"].count("") == 2


@pytest.mark.parametrize("chat", [False, True])
def test_tokens_with_empty_text_are_output_not_failures(tmp_path: Path, chat: bool) -> None:
    """Counted by the server's usage, as vLLM's benchmark does; only a stream with no token
    at all is empty_output."""
    out = tmp_path / "run.json"
    with fake_server(0.01, 0.01) as (url, _):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", ["EMPTYTEXT", "fine", "NOTOKENS"])),
            "--output-len", "4", "--num-requests", "6", "--concurrency", "2", "--warmup", "0",
            "--no-progress", "--no-plots", "--output", str(out), *(["--chat"] if chat else []),
        ])  # fmt: skip
    assert rc == 0
    run = json.loads(out.read_text())
    assert run["completed"] == 4 and run["failures"] == {"empty_output": 2}
    assert run["total_output_tokens"] == 16
    assert all(t > 0 for t in run["ttfts"] if t)


def test_sweep_writes_json_csv_and_plots(tmp_path: Path, tokenizer_dir: Path) -> None:
    out = tmp_path / "sweep.json"
    with fake_server(0.02, 0.005) as (url, _):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--tokenizer", str(tokenizer_dir),
            "--input-len", "40", "--output-len", "4", "--num-requests", "6",
            "--concurrency", "1,3", "--warmup", "1", "--no-progress", "--chat",
            "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    doc = json.loads(out.read_text())
    assert [r["max_concurrency"] for r in doc["runs"]] == [1, 3]
    rows = list(csv.DictReader((tmp_path / "sweep.csv").open()))
    assert [int(r["max_concurrency"]) for r in rows] == [1, 3]
    assert "ttfts" not in rows[0] and float(rows[0]["output_throughput"]) > 0
    for name in ("sweep-latency.png", "sweep-dist.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_open_loop_rate_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rates.json"
    schedules: list[list[float]] = []

    def recorded(n: int, rate: float, burstiness: float, seed: int) -> list[float]:
        gaps = arrival_gaps(n, rate, burstiness, seed)
        schedules.append(gaps)
        return gaps

    monkeypatch.setattr(loadgen, "arrival_gaps", recorded)
    with fake_server(0.01, 0.001) as (url, _):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", ["x"])), "--output-len", "2",
            "--num-requests", "40", "--rate", "20,80", "--warmup", "0", "--no-progress",
            "--no-plots", "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    slow, fast = json.loads(out.read_text())["runs"]
    assert slow["request_rate"] == 20.0 and fast["request_rate"] == 80.0
    assert slow["completed"] == fast["completed"] == 40
    # the same seeded schedule, scaled by the rate: 39 gaps of mean 1/rate after an immediate first
    slow_gaps, fast_gaps = schedules
    assert slow_gaps[0] == fast_gaps[0] == 0.0 and len(slow_gaps) == len(fast_gaps) == 40
    assert sum(fast_gaps) == pytest.approx(sum(slow_gaps) / 4)
    assert 1.0 < sum(slow_gaps) < 3.5
    # arrivals pace the run: it cannot end before its last request was sent (a lower bound only;
    # a shared machine can always stall, so no upper bound on wall time)
    assert slow["duration"] >= sum(slow_gaps) and fast["duration"] >= sum(fast_gaps)


def test_compare_mode_alternates_and_prints_ratios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp.json"
    with fake_server(0.05, 0.02, "m") as (a, _), fake_server(0.05, 0.04, "m") as (b, _):
        rc = cli.main([
            "--base-url", a, "--compare-url", b, "--labels", "ours,ref", "--model", "m",
            "--prompts", str(prompts(tmp_path / "p.jsonl", ["x y"])), "--output-len", "6",
            "--num-requests", "4", "--concurrency", "2", "--rounds", "2", "--warmup", "0",
            "--no-progress", "--no-plots", "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    doc = json.loads(out.read_text())
    assert [r["server"] for r in doc["runs"]] == ["ours", "ref", "ref", "ours"]
    (row,) = doc["ratios"]
    assert row["median_tpot_ms"] == pytest.approx(0.5, abs=0.12)  # 20 ms vs 40 ms per token
    assert row["output_throughput"] > 1.2
    printed = capsys.readouterr().out
    assert "ratios ours / ref" in printed and "concurrency=2" in printed


def test_synthetic_prompts_are_token_exact(tokenizer_dir: Path) -> None:
    tok = load_tokenizer(str(tokenizer_dir))
    for n in (1, 3, 64, 300):
        reqs = synthetic(tok, 20, n, 8, seed=n)
        assert {len(tok.encode(r.prompt or "", add_special_tokens=False)) for r in reqs} == {n}
    shared = synthetic(tok, 12, 16, 8, prefix_len=50, num_prefixes=3, seed=1)
    assert {len(tok.encode(r.prompt or "", add_special_tokens=False)) for r in shared} == {66}
    heads = {(r.prompt or "")[:20] for r in shared}
    assert len(heads) == 3
    uniform = synthetic(tok, 200, 100, 100, dist="uniform", spread=0.5, seed=2)
    ins = [r.input_len for r in uniform]
    assert min(ins) >= 50 and max(ins) <= 150 and len(set(ins)) > 20


def test_several_keys_share_the_requests_by_the_mix_and_are_reported_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys.json"
    with fake_server(0.01, 0.01) as (url, app):
        rc = cli.main([
            "--base-url", url, "--model", "fake", "--prompts",
            str(prompts(tmp_path / "p.jsonl", ["a b"])), "--output-len", "3",
            "--num-requests", "8", "--concurrency", "2", "--warmup", "0", "--no-progress",
            "--no-plots", "--api-key", "secret-one", "--api-key", "limited", "--key-mix", "3,1",
            "--output", str(out),
        ])  # fmt: skip
    assert rc == 0
    assert app.state.bearers.count("secret-one") == 6 and app.state.bearers.count("limited") == 2
    assert app.state.bearers.index("limited") < 4  # interleaved, not a block at the end
    run = json.loads(out.read_text())
    assert run["keys"]["key1"]["completed"] == 6 and run["keys"]["key1"]["http_429"] == 0
    assert run["keys"]["key2"]["completed"] == 0 and run["keys"]["key2"]["http_429"] == 2
    assert run["jain_fairness"] == pytest.approx(0.5)  # one of two keys got nothing
    printed = capsys.readouterr().out
    assert "Jain's fairness index" in printed
    assert "secret-one" not in printed + out.read_text()  # keys are never written


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--slo", "ttft=soon"], "bad --slo"),
        (["--input-len", "0"], "--input-len must be at least 1"),
        (["--output", "x.txt"], "must name a .json file"),
        (["--model", "other"], "does not serve 'other'"),
        ([], "synthetic prompts need --tokenizer"),
        (["--api-key", "a", "--key-mix", "1,2"], "one positive number per --api-key"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_server(0.01, 0.01) as (url, _):
        rc = cli.main(["--base-url", url, "--model", "fake", "--no-progress", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unreachable_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.launch import free_port

    rc = cli.main(["--base-url", f"http://127.0.0.1:{free_port()}", "--model", "m"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach" in err and "Traceback" not in err

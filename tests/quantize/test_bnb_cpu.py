"""NF4 checkpoints on the three CPU kinds we run on: no bf16, avx512_bf16, avx512_bf16 + AMX.

bitsandbytes 0.50 takes one of two CPU paths for an NF4 Linear, chosen once per module from
`has_avx512bf16()` (read in `Linear4bit.__init__`): without avx512_bf16 it dequantizes the stored
layout and runs a plain matmul; with it (AMX or not: bitsandbytes has no AMX branch) it repacks
the weight on the first forward and runs its fused bf16 kernel. We force each path by patching
that check; the packed kernel itself only exists on avx512_bf16 CPUs, so its forward is skipped
elsewhere, while the repacking (plain torch) is checked on every CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from quantize.errors import QuantizeError
from quantize.export_bnb import bnb_config, nf4_blocksize, requantize_nf4, save_bitsandbytes

IGNORE = ["lm_head"]


def nf4_linears(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    from bitsandbytes.nn import Linear4bit

    return ((n, m) for n, m in model.named_modules() if isinstance(m, Linear4bit))


def save_nf4(src: Path, dest: Path) -> list[str]:
    dest.mkdir()
    names, blocksize = save_bitsandbytes(src, dest, "w4a16", IGNORE, torch.bfloat16)
    # the tiny model's down_proj reads the 352-wide MLP: 64 does not divide it, 32 does
    assert blocksize == 32
    return names


@pytest.fixture(scope="module")
def nf4(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("nf4") / "m"
    return out, save_nf4(tiny_llama, out)


def test_block_size_follows_the_layer_shapes() -> None:
    assert nf4_blocksize({"q": (128, 128), "gate": (352, 128)}) == 64  # bitsandbytes' default
    assert nf4_blocksize({"q": (128, 128), "down": (128, 352)}) == 32
    for shape in ((100, 128), (128, 100)):  # no block size serves these on avx512_bf16 CPUs
        with pytest.raises(QuantizeError, match="multiples of 32; add it to --ignore"):
            nf4_blocksize({"odd": shape})


def test_requantizing_at_the_default_block_gives_transformers_own_bytes(tiny_llama: Path) -> None:
    """requantize_nf4 quantizes what transformers' loader quantizes (the same dtype and codes),
    so choosing another block size changes only the block size."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(tiny_llama),
        quantization_config=bnb_config("w4a16", IGNORE, torch.bfloat16),
        device_map="cpu",
        dtype=torch.bfloat16,
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    requantize_nf4(model, tiny_llama, 64, torch.bfloat16)
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k


@pytest.mark.parametrize("avx512_bf16", [False, True], ids=["no-bf16", "avx512_bf16"])
def test_checkpoint_is_the_same_bytes_on_every_cpu_kind(
    tiny_llama: Path,
    nf4: tuple[Path, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    avx512_bf16: bool,
) -> None:
    """A checkpoint is a file format: the CPU that wrote it must not show in it."""
    import bitsandbytes.nn.modules

    monkeypatch.setattr(bitsandbytes.nn.modules, "has_avx512bf16", lambda: avx512_bf16)
    save_nf4(tiny_llama, tmp_path / "m")
    reference, _ = nf4
    for f in ("model.safetensors", "config.json"):
        assert (tmp_path / "m" / f).read_bytes() == (reference / f).read_bytes(), f


def test_every_nf4_layer_survives_the_packed_cpu_repacking(nf4: tuple[Path, list[str]]) -> None:
    """What an avx512_bf16 CPU does to each weight on the first forward, run here on any CPU:
    the repacking accepts every layer and keeps its codes and (to bf16) its scales. With
    bitsandbytes' default block of 64 it raised on down_proj: shape '[128, 5]' is invalid."""
    from bitsandbytes.functional import (
        _convert_weight_packed_for_cpu,
        _convert_weight_packed_for_cpu_inverse,
    )
    from transformers import AutoModelForCausalLM

    path, names = nf4
    model = AutoModelForCausalLM.from_pretrained(str(path), device_map="cpu")
    layers = dict(nf4_linears(model))
    assert sorted(layers) == sorted(names) and len(names) == 14
    for name, m in layers.items():
        codes, qs = m.weight.data.clone(), m.weight.quant_state
        absmax = qs.absmax.clone()
        packed, qs = _convert_weight_packed_for_cpu(m.weight.data, qs)
        out_f, in_f = qs.shape
        assert packed.shape == (out_f, in_f // 2) and qs.absmax.shape == (in_f // 32, out_f)
        torch.testing.assert_close(qs.absmax.T.reshape(-1).float(), absmax, rtol=2**-8, atol=0)
        restored, _ = _convert_weight_packed_for_cpu_inverse(packed, qs)
        assert torch.equal(restored, codes), name


@pytest.mark.parametrize(
    "avx512_bf16",
    [
        pytest.param(False, id="no-bf16: dequantize + matmul"),
        pytest.param(True, id="avx512_bf16 with or without AMX: packed bf16 kernel"),
    ],
)
def test_logits_match_the_dequantized_weights_on_both_cpu_paths(
    tiny_llama: Path,
    nf4: tuple[Path, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    avx512_bf16: bool,
) -> None:
    import bitsandbytes.functional as bnb_f
    import bitsandbytes.nn.modules
    from transformers import AutoModelForCausalLM

    if avx512_bf16 and not bnb_f.has_avx512bf16():
        pytest.skip("bitsandbytes registers its packed CPU kernel only on avx512_bf16 CPUs")
    monkeypatch.setattr(bitsandbytes.nn.modules, "has_avx512bf16", lambda: avx512_bf16)
    path, names = nf4
    model = AutoModelForCausalLM.from_pretrained(str(path), device_map="cpu")
    ref = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    for name, m in nf4_linears(model):  # before the forward, while the stored layout is intact
        w = bnb_f.dequantize_4bit(m.weight.data, m.weight.quant_state)
        ref.get_submodule(name).weight.data = w.float()
    ids = torch.randint(0, 600, (2, 48), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = model(input_ids=ids).logits.float(), ref(input_ids=ids).logits
    packed = {getattr(m.weight.quant_state, "packing_format_for_cpu", False) for _, m in
              nf4_linears(model)}  # fmt: skip
    assert packed == {avx512_bf16}  # the path we forced is the path that ran
    # bf16 compute is about 0.01 off the float32 reference; NF4 itself moves the logits ~0.1
    torch.testing.assert_close(got, want, atol=0.03, rtol=0)

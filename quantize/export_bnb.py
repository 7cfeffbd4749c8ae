"""bitsandbytes checkpoints (LLM.int8() and NF4) through transformers' own serialization.

bitsandbytes quantizes while transformers loads the float checkpoint; saving then writes its
int8/NF4 tensors with their quantization state, and `from_pretrained` reads them back without
a quantization config. transformers reads them on CPU and CUDA; vLLM 0.32 has no built-in
bitsandbytes loader (a plugin can register one), so llm-serve refuses them in one line.

NF4 and the CPU kinds. On a CPU with avx512_bf16 (with or without AMX) bitsandbytes 0.50
repacks every NF4 weight on its first forward in eval mode (`Linear4bit.forward` ->
`functional._convert_weight_packed_for_cpu`, for its fused bf16 kernel); other CPUs and CUDA
dequantize the stored layout as it is. The repacking reshapes the per-block absmax to
(out_features, in_features // blocksize) and tiles rows by 32, so it fails on a layer whose
in_features the block size does not divide (the tiny models' 352-wide MLP with bitsandbytes'
default 64: "shape '[128, 5]' is invalid for input of size 704") or whose out_features is not
a multiple of 32. We therefore choose the block size from the layer shapes alone, so that the
checkpoint is byte-for-byte the same whichever CPU writes it and loads on all three kinds, and
refuse in one line the shapes no block size can serve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from quantize.errors import QuantizeError

NF4_BLOCKSIZES = (64, 32)
"""Weights per NF4 absmax, in order of preference: bitsandbytes' default, then its smallest."""
PACKED_ROWS = 32
"""Rows per tile of bitsandbytes' packed CPU layout (`block_n` of the repacking)."""


def bnb_config(scheme: str, ignore: list[str], dtype: torch.dtype):  # type: ignore[no-untyped-def]
    from transformers import BitsAndBytesConfig

    if scheme == "w8a16":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=ignore)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_use_double_quant=False,
        llm_int8_skip_modules=ignore,
    )


def nf4_blocksize(shapes: dict[str, tuple[int, int]]) -> int:
    """The NF4 block size for Linears of these (out_features, in_features): the first of
    NF4_BLOCKSIZES dividing every in_features, so bitsandbytes' packed CPU path accepts them."""
    for name, (out_f, in_f) in shapes.items():
        if out_f % PACKED_ROWS or in_f % NF4_BLOCKSIZES[-1]:
            raise QuantizeError(
                f"NF4 cannot store {name} ({out_f}x{in_f}) in a form every CPU runs: bitsandbytes' "
                f"kernel for avx512_bf16 CPUs needs both widths multiples of {PACKED_ROWS}; "
                "add it to --ignore or use --format compressed-tensors"
            )
    return next(b for b in NF4_BLOCKSIZES if all(i % b == 0 for _, i in shapes.values()))


def requantize_nf4(model: torch.nn.Module, src: Path, blocksize: int, dtype: torch.dtype) -> None:
    """Quantize every NF4 Linear of `model` again from `src`'s float weights with `blocksize`
    weights per absmax (transformers' loader always uses bitsandbytes' default, 64)."""
    from bitsandbytes.nn.modules import Linear4bit, Params4bit
    from safetensors import safe_open

    todo = {n + ".weight": m for n, m in model.named_modules() if isinstance(m, Linear4bit)}
    for f in sorted(src.glob("*.safetensors")):
        with safe_open(str(f), "pt") as fh:
            for key in sorted(todo.keys() & set(fh.keys())):
                m = todo.pop(key)
                old: Any = m.weight  # a Params4bit: bitsandbytes' attributes are untyped
                new: Any = Params4bit(
                    fh.get_tensor(key).to(dtype),  # what transformers' loader quantizes
                    requires_grad=False,
                    blocksize=blocksize,
                    compress_statistics=old.compress_statistics,
                    quant_type=old.quant_type,
                    quant_storage=old.quant_storage,
                    module=m,
                )
                m.weight = new.to(old.device)  # quantizes
    if todo:
        raise QuantizeError(f"{next(iter(todo))} is not in {src}'s safetensors files")


def save_bitsandbytes(
    src: Path, dest: Path, scheme: str, ignore: list[str], dtype: torch.dtype
) -> tuple[list[str], int | None]:
    """Quantize `src` with bitsandbytes into the existing directory `dest`; returns the names
    of the quantized Linears and the NF4 block size (None for int8)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(src),
        quantization_config=bnb_config(scheme, ignore, dtype),
        device_map="cpu",
        dtype=dtype,
    )
    from bitsandbytes.nn.modules import Linear4bit, Linear8bitLt

    layers = {n: m for n, m in model.named_modules() if isinstance(m, (Linear8bitLt, Linear4bit))}
    blocksize = None
    if scheme == "w4a16":
        blocksize = nf4_blocksize({n: (m.out_features, m.in_features) for n, m in layers.items()})
        if blocksize != NF4_BLOCKSIZES[0]:
            requantize_nf4(model, src, blocksize, dtype)
    # No forward before saving: on avx512_bf16 CPUs the first forward repacks NF4 weights, and
    # the inverse that saving runs leaves absmax in bf16 and transposed: another checkpoint.
    model.save_pretrained(str(dest))
    return list(layers), blocksize

"""bitsandbytes checkpoints (LLM.int8() and NF4) through transformers' own serialization.

bitsandbytes quantizes while transformers loads the float checkpoint; saving then writes its
int8/NF4 tensors with their quantization state, and `from_pretrained` reads them back without
a quantization config. transformers reads them on CPU and CUDA; vLLM 0.32 has no built-in
bitsandbytes loader (a plugin can register one), so llm-serve refuses them in one line.
"""

from __future__ import annotations

from pathlib import Path

import torch


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


def save_bitsandbytes(
    src: Path, dest: Path, scheme: str, ignore: list[str], dtype: torch.dtype
) -> list[str]:
    """Quantize `src` with bitsandbytes into the existing directory `dest`; returns the names
    of the quantized Linears."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(src),
        quantization_config=bnb_config(scheme, ignore, dtype),
        device_map="cpu",
        dtype=dtype,
    )
    from bitsandbytes.nn.modules import Linear4bit, Linear8bitLt

    names = [n for n, m in model.named_modules() if isinstance(m, (Linear8bitLt, Linear4bit))]
    model.save_pretrained(str(dest))
    return names

"""Write a compressed-tensors checkpoint (the format vLLM reads on CPU and CUDA) from our codes.

The compressed-tensors library owns the file format: we attach its quantization config to the HF
model, give each Linear our scales and a weight equal to codes x scale, and let its compressor
pack and save. Scales are rounded to the checkpoint dtype first, so the library's own rounding
recovers exactly our integer codes (checked in the tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from train.checkpoint import atomic_output

# scheme -> (weight bits, activation quantization, compressed-tensors format)
SCHEMES: dict[str, tuple[int, bool, str]] = {
    "w4a16": (4, False, "pack-quantized"),
    "w8a16": (8, False, "pack-quantized"),
    "w8a8": (8, True, "int-quantized"),
}


@dataclass
class LayerCodes:
    """One Linear's integer codes (out, in) int8 and scales (out, groups) float."""

    codes: torch.Tensor
    scales: torch.Tensor


def scheme_config(scheme: str, group_size: int | None, ignore: list[str]):  # type: ignore[no-untyped-def]
    from compressed_tensors.quantization import (
        QuantizationArgs,
        QuantizationConfig,
        QuantizationScheme,
        QuantizationStatus,
    )

    bits, act, _ = SCHEMES[scheme]
    if group_size:
        weights = QuantizationArgs(
            num_bits=bits, type="int", symmetric=True, strategy="group", group_size=group_size
        )
    else:
        weights = QuantizationArgs(num_bits=bits, type="int", symmetric=True, strategy="channel")
    inputs = (
        QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True)
        if act
        else None
    )
    return QuantizationConfig(
        config_groups={
            "group_0": QuantizationScheme(
                targets=["Linear"], weights=weights, input_activations=inputs
            )
        },
        ignore=ignore,
        quantization_status=QuantizationStatus.FROZEN,
    )


def save_compressed_tensors(
    model: torch.nn.Module,
    dest: Path,
    scheme: str,
    group_size: int | None,
    layers: dict[str, LayerCodes],
    dtype: torch.dtype = torch.bfloat16,
    also_ignore: list[str] | None = None,
) -> None:
    """Save `model` (float, any transforms already applied) with `layers` quantized as `scheme`
    into the existing directory `dest`. The model is consumed: its Linears become compressed.

    Every other Linear is named in the checkpoint's ignore list (--ignore's, and those outside
    the decoder layers: lm_head, GPT-NeoX's embed_out), so no loader takes one for quantized;
    so is each name in `also_ignore` (mixture-of-experts routers, which are not Linears in
    transformers but are in vLLM)."""
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import apply_quantization_config

    model = model.float()
    kept = [
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n not in layers
    ]
    apply_quantization_config(model, scheme_config(scheme, group_size, kept))
    _put_codes(model, layers, dtype)
    compressor = ModelCompressor.from_pretrained_model(
        model, quantization_format=SCHEMES[scheme][2]
    )
    compressor.compress_model(model)
    model = model.to(dtype)
    model.save_pretrained(str(dest))  # type: ignore[operator]
    compressor.update_config(str(dest))
    if also_ignore:  # names no module has here: compressed-tensors would drop them
        _add_to_ignore(dest / "config.json", also_ignore)


def _put_codes(model: torch.nn.Module, layers: dict[str, LayerCodes], dtype: torch.dtype) -> None:
    """Each targeted Linear's weight becomes codes x scale and its scale ours, rounded to the
    checkpoint dtype first, so the compressor recovers exactly our codes."""
    done = set()
    for name, mod in model.named_modules():
        if not hasattr(mod, "weight_scale"):
            continue
        if name not in layers:
            raise ValueError(f"no codes for quantized layer {name}")
        lc = layers[name]
        scales = lc.scales.to(dtype).float()  # what the checkpoint will store
        out_f, cols = lc.codes.shape
        groups = scales.shape[1]
        deq = lc.codes.float().view(out_f, groups, cols // groups) * scales.unsqueeze(-1)
        with torch.no_grad():
            mod.weight.copy_(deq.view(out_f, cols))
            mod.weight_scale.copy_(scales.view_as(mod.weight_scale))
            if hasattr(mod, "weight_zero_point"):
                mod.weight_zero_point.zero_()
        done.add(name)
    missing = set(layers) - done
    if missing:
        raise ValueError(f"layers not targeted by the scheme: {sorted(missing)[:3]}")


def _add_to_ignore(config_file: Path, names: list[str]) -> None:
    config = json.loads(config_file.read_text())
    ignore = config["quantization_config"].setdefault("ignore", [])
    ignore += [n for n in names if n not in ignore]
    config_file.write_text(json.dumps(config, indent=2) + "\n")


def copy_tokenizer(src: Path, dest: Path) -> None:
    """Tokenizer, chat template and generation defaults travel with the weights."""
    from transformers import AutoTokenizer, GenerationConfig

    AutoTokenizer.from_pretrained(str(src)).save_pretrained(str(dest))
    if (src / "generation_config.json").exists():
        GenerationConfig.from_pretrained(str(src)).save_pretrained(str(dest))


def write_compressed_tensors(
    src: Path,
    out: Path,
    scheme: str,
    group_size: int | None,
    layers: dict[str, LayerCodes],
    dtype: torch.dtype = torch.bfloat16,
) -> None:
    """Load `src`, put `layers` into it as `scheme` and publish the result at `out` atomically."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    with atomic_output(out) as tmp:
        save_compressed_tensors(model, tmp, scheme, group_size, layers, dtype)
        copy_tokenizer(src, tmp)


def linear_weights(src: Path, ignore: list[str]) -> dict[str, torch.Tensor]:
    """The float weights of every Linear the schemes target (all but `ignore`)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    return {
        name: mod.weight.detach().clone()
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] not in ignore
    }

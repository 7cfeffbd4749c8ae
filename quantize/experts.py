"""Mixture-of-experts blocks, made quantizable.

transformers 5 keeps a block's experts as two fused 3-D tensors (`gate_up_proj` [E, 2I, H] and
`down_proj` [E, H, I]), where GPTQ, the scaling methods and compressed-tensors all work on Linear
layers. `unfuse` swaps each fused experts module for one Linear per projection and expert, named
as the model's original checkpoints name them (Mixtral's w1/w3/w2, Qwen's and DeepSeek's
gate_proj/up_proj/down_proj), read from transformers' own checkpoint conversion mapping; so
`save_pretrained` writes the per-expert keys vLLM loads, as llm-compressor's outputs have them.

Calibration: every expert sees every token (llm-compressor's default for MoE models, so that an
expert the calibration set rarely routes to still gets a full Hessian), while the block's output
uses only the routed tokens, as in the model. The router stays in 16 bits: it is not a Linear in
transformers, and its checkpoint name goes into the ignore list so vLLM does not look for
quantized router weights either.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DEFAULT_NAMES = ("gate_proj", "up_proj", "down_proj")


class Expert(nn.Module):
    """One expert's three projections, under the checkpoint's names."""

    def __init__(self, names: tuple[str, str, str], gate: torch.Tensor, up: torch.Tensor,
                 down: torch.Tensor) -> None:  # fmt: skip
        super().__init__()
        self.names = names
        for name, w in zip(names, (gate, up, down), strict=True):
            lin = nn.Linear(w.shape[1], w.shape[0], bias=False, device=w.device, dtype=w.dtype)
            lin.weight = nn.Parameter(w.detach().clone(), requires_grad=False)
            setattr(self, name, lin)

    def forward(self, x: torch.Tensor, act: Any) -> torch.Tensor:
        gate, up, down = (getattr(self, n) for n in self.names)
        out: torch.Tensor = down(act(gate(x)) * up(x))
        return out


class UnfusedExperts(nn.ModuleList):
    """A drop-in for transformers' fused experts module: same forward signature, one `Expert`
    per index (so module names read `...experts.3.w1`)."""

    calibrate_all = True  # every expert runs on every token; the output stays routed

    def __init__(self, fused: nn.Module, names: tuple[str, str, str]) -> None:
        gate_up, down = _tensor(fused, "gate_up_proj"), _tensor(fused, "down_proj")
        assert gate_up is not None and down is not None
        inter = down.shape[2]
        super().__init__(
            Expert(names, gate_up[e, :inter], gate_up[e, inter:], down[e])
            for e in range(gate_up.shape[0])
        )
        object.__setattr__(self, "act_fn", fused.act_fn)  # not a child: the list holds experts

    def forward(
        self, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
    ) -> torch.Tensor:
        out = torch.zeros_like(hidden_states)
        for e, expert in enumerate(self):
            token, slot = torch.where(top_k_index == e)
            if self.calibrate_all:
                y = expert(hidden_states, self.act_fn)[token]
            elif len(token):
                y = expert(hidden_states[token], self.act_fn)
            else:
                continue
            out.index_add_(0, token, (y * top_k_weights[token, slot, None]).to(out.dtype))
        return out


def _tensor(mod: nn.Module, name: str) -> torch.Tensor | None:
    t = getattr(mod, name, None)
    return t if isinstance(t, torch.Tensor) else None


def fused_experts(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (name, mod)
        for name, mod in model.named_modules()
        if (t := _tensor(mod, "gate_up_proj")) is not None and t.dim() == 3
    ]


def expert_names(model_type: str) -> tuple[str, str, str]:
    """(gate, up, down) as this model type's checkpoints name an expert's projections."""
    from transformers.conversion_mapping import get_checkpoint_conversion_mapping

    found: dict[str, list[str]] = {}
    for conv in get_checkpoint_conversion_mapping(model_type) or []:
        for target in getattr(conv, "target_patterns", []):
            if target.endswith(("experts.gate_up_proj", "experts.down_proj")):
                found[target.rsplit(".", 1)[1]] = [
                    s.split("*.")[1].removesuffix(".weight") for s in conv.source_patterns
                ]
    gate_up, down = found.get("gate_up_proj", []), found.get("down_proj", [])
    if len(gate_up) == 2 and len(down) == 1:
        return gate_up[0], gate_up[1], down[0]
    return DEFAULT_NAMES


def checkpoint_name(model_type: str, module: str) -> str:
    """A module's name as the original checkpoint spells it (transformers 5 renames some on
    loading: Mixtral's block_sparse_moe is its mlp)."""
    from transformers.conversion_mapping import get_checkpoint_conversion_mapping
    from transformers.core_model_loading import WeightRenaming

    key = f"{module}.weight"
    for conv in get_checkpoint_conversion_mapping(model_type) or []:
        if isinstance(conv, WeightRenaming):
            for src, dst in zip(conv.source_patterns, conv.target_patterns, strict=False):
                key = key.replace(dst, src)
    return key.removesuffix(".weight")


def unfuse(model: nn.Module) -> dict[str, str]:
    """Replace every fused experts module of `model` in place. Returns the routers beside them
    (the block's `gate`/`router` and any Linear directly under it, such as Qwen2-MoE's
    shared_expert_gate), module name -> checkpoint name: they stay in 16 bits. Refuses, in one
    line, a layout it does not know (biases, transposed or interleaved experts)."""
    model_type = str(getattr(getattr(model, "config", None), "model_type", ""))
    names = expert_names(model_type)
    routers = {}
    for path, fused in fused_experts(model):
        _check_layout(path, fused)
        block_path, _, child = path.rpartition(".")
        block = model.get_submodule(block_path)
        setattr(block, child, UnfusedExperts(fused, names))
        for name, mod in block.named_children():
            if name in ("gate", "router") or isinstance(mod, nn.Linear):
                module = f"{block_path}.{name}"
                routers[module] = checkpoint_name(model_type, module)
    return routers


def _check_layout(path: str, fused: nn.Module) -> None:
    gate_up, down = _tensor(fused, "gate_up_proj"), _tensor(fused, "down_proj")
    ok = (
        gate_up is not None
        and down is not None
        and down.dim() == 3
        and gate_up.shape[0] == down.shape[0]
        and gate_up.shape[1] == 2 * down.shape[2]
        and gate_up.shape[2] == down.shape[1]
        and not getattr(fused, "is_transposed", False)
        and not any("bias" in n for n, _ in fused.named_parameters())
    )
    if not ok:
        raise ValueError(
            f"{path}: experts with biases or a transposed/interleaved layout are not supported "
            "(llm-quantize reads gate_up_proj [E, 2I, H] and down_proj [E, H, I])"
        )

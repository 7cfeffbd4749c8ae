"""Round-to-nearest symmetric quantization: per-channel (int8) or group-wise (int4) scales.

Shapes: W is (out, in), as in nn.Linear. Scales are (out, 1) per channel or (out, in / g) per group.
"""

from __future__ import annotations

import torch


def qrange(bits: int) -> tuple[int, int]:
    """Signed symmetric range: int8 -> [-128, 127], int4 -> [-8, 7]."""
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def scales_for(w: torch.Tensor, bits: int) -> torch.Tensor:
    """absmax / qmax along the last dim, never zero. (..., n) -> (..., 1)."""
    _, qmax = qrange(bits)
    return (w.abs().amax(dim=-1, keepdim=True) / qmax).clamp(min=1e-8)


def quantize_with(w: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer codes of `w` under `scale` (broadcast), as int8."""
    lo, hi = qrange(bits)
    return torch.clamp(torch.round(w / scale), lo, hi).to(torch.int8)


def rtn(w: torch.Tensor, bits: int, group_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes int8 (out, in), scales (out, groups)); group_size None = one scale per row."""
    w = w.float()
    out, cols = w.shape
    if group_size is None or group_size >= cols:
        s = scales_for(w, bits)
        return quantize_with(w, s, bits), s
    if cols % group_size:
        raise ValueError(f"in_features {cols} is not a multiple of group size {group_size}")
    g = w.view(out, cols // group_size, group_size)
    s = scales_for(g, bits)  # (out, groups, 1)
    return quantize_with(g, s, bits).view(out, cols), s.squeeze(-1)


def dequantize(codes: torch.Tensor, scales: torch.Tensor, group_size: int | None) -> torch.Tensor:
    """Back to float: codes (out, in) x scales (out, groups)."""
    out, cols = codes.shape
    if scales.shape[1] == 1:
        return codes.float() * scales
    g = cols // scales.shape[1]
    return (codes.float().view(out, -1, g) * scales.unsqueeze(-1)).view(out, cols)

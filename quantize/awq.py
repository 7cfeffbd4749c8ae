"""AWQ-style activation-aware scaling (Lin et al. 2023) for weight-only int4/int8.

Weights that meet large activations matter most. For each group of Linears sharing an input,
search s = mean|X|^alpha over a grid of alpha, scale those weight columns up by s (and the
producer down by s, an exact float equivalence), quantize, and keep the alpha whose quantized
outputs on calibration inputs are closest to the float outputs. Weight clipping search, the
other half of the AWQ paper, is not done here.
"""

from __future__ import annotations

import torch

from quantize.rtn import dequantize, rtn


def search_scales(
    x: torch.Tensor,
    x_absmean: torch.Tensor,
    weights: list[torch.Tensor],
    bits: int,
    group_size: int | None,
    grid: int = 20,
) -> tuple[torch.Tensor, float, float]:
    """x: (N, in) sample of inputs; returns (s (in,), best loss, loss at alpha = 0 i.e. RTN)."""
    w = torch.cat(weights, dim=0).float()  # (out_total, in)
    x = x.float()
    y = x @ w.T
    best_s = torch.ones(w.shape[1])
    best = base = float("inf")
    for k in range(grid):
        alpha = k / grid
        s = x_absmean.float().clamp(min=1e-4).pow(alpha)
        s = s / (s.max() * s.min()).sqrt()
        codes, scales = rtn(w * s, bits, group_size)
        wq = dequantize(codes, scales, group_size) / s
        loss = float(((x @ wq.T - y) ** 2).mean())
        if k == 0:
            base = loss
        if loss < best:
            best, best_s = loss, s
    return best_s, best, base

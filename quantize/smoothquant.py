"""SmoothQuant (Xiao et al. 2022): move activation outliers into the weights before W8A8.

Per input channel j of a group of Linears that read the same normalized input,
s_j = max|X_j|^alpha / max|W_:,j|^(1 - alpha); the norm's weight is divided by s and the
Linears' columns multiplied by s, so the float model computes the same function while the
activations the int8 kernels see have smaller outliers.
"""

from __future__ import annotations

import torch
from torch import nn


def smoothing_scales(
    act_absmax: torch.Tensor, weights: list[torch.Tensor], alpha: float
) -> torch.Tensor:
    """act_absmax: (in,) over calibration tokens; weights: (out_i, in) each -> s (in,)."""
    w_absmax = torch.cat([w.abs() for w in weights], dim=0).amax(dim=0).clamp(min=1e-5)
    a = act_absmax.float().clamp(min=1e-5)
    return (a.pow(alpha) / w_absmax.float().pow(1 - alpha)).clamp(min=1e-5)


@torch.no_grad()
def apply_scales(prev: nn.Module, linears: list[nn.Linear], s: torch.Tensor) -> None:
    """Divide the producer's output channels by s and the consumers' input columns by 1/s.

    `prev` is a norm (its weight scales each output channel) or a Linear (scale its rows).
    """
    if isinstance(prev, nn.Linear):
        prev.weight.div_(s.view(-1, 1).to(prev.weight.dtype))
        if prev.bias is not None:
            prev.bias.div_(s.to(prev.bias.dtype))
    else:
        w = prev.weight
        assert isinstance(w, torch.Tensor)
        w.div_(s.to(w.dtype))
        bias = getattr(prev, "bias", None)
        if isinstance(bias, torch.Tensor):
            bias.div_(s.to(bias.dtype))
    for lin in linears:
        lin.weight.mul_(s.view(1, -1).to(lin.weight.dtype))

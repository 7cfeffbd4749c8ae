"""GPTQ (Frantar et al. 2022): quantize a layer's columns one at a time, pushing each column's
rounding error onto the columns not yet quantized, weighted by the inverse Hessian of the
layer's calibration inputs (H = 2 X^T X / n), so the layer's output changes as little as possible.

Follows the reference implementation: lazy block updates, Cholesky of the damped inverse
Hessian, group scales taken when a group starts. With activation order (columns with the largest
Hessian diagonal first), the group scales are fixed up front on the original contiguous groups
("static groups", llm-compressor's actorder="weight"), so the checkpoint needs no g_idx.
"""

from __future__ import annotations

import torch

from quantize.rtn import qrange, scales_for


class Hessian:
    """Accumulates H = 2/n * sum x x^T over calibration batches of a layer's inputs."""

    def __init__(self, cols: int) -> None:
        self.h = torch.zeros(cols, cols, dtype=torch.float64)
        self.n = 0

    def add(self, x: torch.Tensor) -> None:
        """x: (..., cols) inputs to the layer."""
        x = x.reshape(-1, x.shape[-1]).double()
        m = x.shape[0]
        self.h *= self.n / (self.n + m)
        self.n += m
        self.h += (2.0 / self.n) * x.T @ x


def gptq(
    w: torch.Tensor,
    h: torch.Tensor,
    bits: int,
    group_size: int | None,
    damp: float = 0.01,
    act_order: bool = False,
    block: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (codes int8 (out, in), scales (out, groups)), both in the original column order:
    group g covers columns g*gs .. (g+1)*gs - 1, as RTN's do."""
    w = w.clone().float()
    out, cols = w.shape
    gs = group_size if group_size is not None and group_size < cols else cols
    if cols % gs:
        raise ValueError(f"in_features {cols} is not a multiple of group size {gs}")
    h = h.clone().float()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = None
    static = None
    if act_order:
        perm = torch.argsort(torch.diag(h), descending=True)
        # (out, groups): fixed before any error feedback, on the original groups
        static = scales_for(w.view(out, cols // gs, gs), bits).squeeze(-1)
        w, h = w[:, perm], h[perm][:, perm]
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)

    lo, hi = qrange(bits)
    codes = torch.zeros(out, cols, dtype=torch.int8)
    scales = torch.zeros(out, cols // gs)
    scale = scales_for(w[:, :gs], bits)
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            if static is not None and perm is not None:
                scale = static[:, int(perm[col]) // gs].unsqueeze(1)
            elif col % gs == 0:
                # scale from the group's current weights (earlier errors already folded in
                # for columns before this block; in-block updates are lazy, as in the reference)
                grp = torch.cat([w1[:, i:], w[:, i2:]], dim=1)[:, :gs]
                scale = scales_for(grp, bits)
                scales[:, col // gs] = scale.squeeze(1)
            x = w1[:, i]
            q = torch.clamp(torch.round(x / scale.squeeze(1)), lo, hi)
            codes[:, col] = q.to(torch.int8)
            e = (x - q * scale.squeeze(1)) / hinv1[i, i]
            w1[:, i:] -= e.unsqueeze(1) @ hinv1[i, i:].unsqueeze(0)
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    if perm is not None and static is not None:
        codes, scales = codes[:, torch.argsort(perm)], static
    return codes, scales

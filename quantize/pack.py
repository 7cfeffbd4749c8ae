"""int4 packing in the compressed-tensors layout vLLM reads: 8 signed nibbles per int32.

Each value v in [-8, 7] is stored as the unsigned nibble v + 8; element k of a group of eight
goes to bits 4k..4k+3 (little-endian nibble order), along the last dimension.
"""

from __future__ import annotations

import torch

NIBBLES = 8  # int4 values per int32


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """(rows, cols) int8 in [-8, 7] -> (rows, ceil(cols / 8)) int32."""
    if q.dtype != torch.int8:
        raise ValueError("pack_int4 takes int8 values")
    if q.numel() and (q.min() < -8 or q.max() > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    rows, cols = q.shape
    pad = (-cols) % NIBBLES
    u = q.to(torch.int64) + 8
    if pad:
        u = torch.nn.functional.pad(u, (0, pad), value=0)
    u = u.view(rows, -1, NIBBLES)  # (rows, cols/8, 8)
    shifts = torch.arange(NIBBLES, dtype=torch.int64) * 4
    packed = (u << shifts).sum(dim=-1)  # 32 bits, unsigned
    return (packed - (packed >= 2**31).to(torch.int64) * 2**32).to(torch.int32)  # same bits


def unpack_int4(packed: torch.Tensor, cols: int) -> torch.Tensor:
    """Inverse of pack_int4: (rows, ceil(cols / 8)) int32 -> (rows, cols) int8."""
    p = packed.to(torch.int64) & 0xFFFFFFFF
    shifts = torch.arange(NIBBLES, dtype=torch.int64) * 4
    u = (p.unsqueeze(-1) >> shifts) & 0xF  # (rows, cols/8, 8)
    return (u.flatten(1)[:, :cols] - 8).to(torch.int8)

"""The referee's verdict: a paired interval of per-token KL differences, not two means."""

from __future__ import annotations

import torch

from benchmarks.quant_referee import judge


def kl(values: torch.Tensor) -> dict[str, object]:
    return {"kl_per_token": values.double()}


def test_ours_worse_beyond_the_interval_fails_and_noise_does_not() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(8192, generator=g) * 1e-3
    # per-token noise of the same size as the means, no shift: the interval holds zero
    noisy = ref + (torch.rand(8192, generator=g) - 0.5) * 1e-3
    assert judge(kl(noisy), kl(ref))["verdict"] == "same"
    worse = judge(kl(ref * 1.05), kl(ref))
    assert worse["verdict"] == "worse" and worse["kl_diff_ci95"][0] > 0
    assert judge(kl(ref * 0.95), kl(ref))["verdict"] == "better"


def test_pairing_matters_when_tokens_differ_in_difficulty() -> None:
    """Hard tokens dominate both series; pairing removes that shared variation, so a small
    but consistent gain is seen where two unpaired means would overlap."""
    g = torch.Generator().manual_seed(1)
    difficulty = torch.rand(8192, generator=g) ** 8 * 1e-2
    ref = difficulty + 1e-5
    ours = difficulty + 0.5e-5
    r = judge(kl(ours), kl(ref))
    assert r["verdict"] == "better"
    assert r["kl_diff"] < 0

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from train.planner import chinchilla_optimal, plan


def test_chinchilla_fit_matches_paper_scale() -> None:
    # Chinchilla itself: ~5.76e23 FLOPs -> ~70B params, ~1.4T tokens (paper, table 3 regime)
    n, d = chinchilla_optimal(5.76e23)
    assert 2e10 < n < 1.2e11
    assert 5e11 < d < 4e12
    assert 6 * n * d == pytest.approx(5.76e23, rel=1e-6)


def test_params_mode_uses_20_tokens_per_param() -> None:
    p = plan(params=1e9)
    assert p.tokens == pytest.approx(2e10)
    assert p.compute_flops == pytest.approx(6 * 1e9 * 2e10)
    assert p.inference_memory_gib["int4"] == pytest.approx(p.inference_memory_gib["bf16"] / 4)
    assert p.train_memory_gib["total_checkpointed"] < p.train_memory_gib["total"]


def test_cli_json() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "train", "plan", "--params", "125e6", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(r.stdout)
    assert out["tokens"] == pytest.approx(2.5e9)
    r = subprocess.run(
        [sys.executable, "-m", "train", "plan", "--params", "-1"], capture_output=True, text=True
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1

"""Atomic checkpoints: write into a temporary directory, then rename over the old one.

An interrupted run leaves either the previous complete checkpoint or the new complete one, never a
half-written directory with a final name. Resumable state holds model, optimizer, scheduler,
RNG states and the data position.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from train.errors import TrainError

STATE = "train_state.pt"


def atomic_dir(final: Path) -> Path:
    """A fresh temporary directory beside `final` (same filesystem, so rename is atomic)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))


@contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """Write into the yielded temporary directory beside `final`: when the block ends normally
    it replaces `final` (commit_dir); on any failure it is removed and `final` is untouched."""
    tmp = atomic_dir(final)
    try:
        yield tmp
        commit_dir(tmp, final)
    finally:
        if tmp.exists():  # not committed
            shutil.rmtree(tmp, ignore_errors=True)


def _publish_modes(tmp: Path) -> None:
    """mkdtemp makes 0700 directories: give the result the modes the umask asks for, so a server
    running as another user can read the checkpoint."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [tmp, *tmp.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def commit_dir(tmp: Path, final: Path) -> None:
    """Replace `final` with `tmp`: the old one is renamed away first, then removed."""
    _publish_modes(tmp)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_state(final: Path, state: dict[str, Any]) -> None:
    with atomic_output(final) as tmp:
        torch.save(state, tmp / STATE)


def load_state(path: Path) -> dict[str, Any]:
    f = path / STATE
    if not f.exists():
        raise TrainError(f"no resumable checkpoint in {path}")
    state: dict[str, Any] = torch.load(f, map_location="cpu", weights_only=False)
    return state

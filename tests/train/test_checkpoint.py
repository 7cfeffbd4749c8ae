"""atomic_output: the one "write beside, publish by rename, clean up on failure" helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.checkpoint import atomic_output


def test_success_replaces_the_old_directory_whole(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_output(final) as tmp:
        assert tmp.parent == final.parent and tmp != final
        (tmp / "new.txt").write_text("new")
        assert (final / "old.txt").exists()  # nothing is published before the block ends
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary left


def test_failure_leaves_the_old_directory_and_no_temporary(tmp_path: Path) -> None:
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_output(final) as tmp:
        (tmp / "half.txt").write_text("half")
        raise KeyboardInterrupt  # also on BaseException, as a Ctrl-C mid-write
    assert (final / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]

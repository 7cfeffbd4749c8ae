"""The offline default corpus: this interpreter's standard-library sources and pydoc topics."""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from pathlib import Path


def stdlib_files(limit: int | None = None) -> list[Path]:
    """The standard library's .py files (no tests, no site-packages), sorted for determinism."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__")
    files = sorted(
        p for p in root.rglob("*.py") if not any(part in skip for part in p.relative_to(root).parts)
    )
    return files[:limit] if limit else files


def pydoc_topics() -> list[str]:
    """The help() topic texts shipped with the interpreter."""
    from pydoc_data.topics import topics

    return [topics[k] for k in sorted(topics)]


def default_texts(max_files: int | None = None) -> Iterator[str]:
    """Stdlib sources then pydoc topics, one document each."""
    for p in stdlib_files(max_files):
        try:
            yield p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
    yield from pydoc_topics()

"""The card's inputs: prompt sets and held-out text windows, from the user's files or the bundled
defaults. Nothing is fetched at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safety.bias import ProbeError


@dataclass(frozen=True)
class Prompts:
    generation: list[str]  # greedy agreement, top-k overlap, attention, latency
    safety: list[str]  # outputs scanned by the safety detectors and for refusals


def read_prompts(path: Path) -> Prompts:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ProbeError(f"cannot read {path}: {exc}") from None
    lists = {}
    for key in ("generation", "safety"):
        items = spec.get(key) if isinstance(spec, dict) else None
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(p, str) and p.strip() for p in items)
        ):
            raise ProbeError(f"{path}: '{key}' must be a non-empty list of non-empty strings")
        lists[key] = items
    return Prompts(lists["generation"], lists["safety"])


def text_windows(path: Path | None, windows: int, chars: int) -> list[str]:
    """`windows` pieces of `chars` characters, cut at line ends, spread evenly over the text."""
    from quantize.calibration import load_texts
    from quantize.errors import QuantizeError

    try:
        texts = load_texts(path, "eval", windows * chars * 2)
    except QuantizeError as exc:
        raise ProbeError(str(exc)) from None
    text = "\n".join(t for t in texts if t.strip())
    if len(text) < chars:
        raise ProbeError(f"{path}: fewer than {chars} characters of text")
    step = max(chars, (len(text) - chars) // max(windows - 1, 1))
    out = []
    for start in range(0, len(text) - chars + 1, step):
        piece = text[start : start + chars]
        cut = piece.rfind("\n")
        out.append(piece[: cut if cut > chars // 2 else chars])
        if len(out) == windows:
            break
    return out

"""BBQ-style bias items (Parrish et al., 2022; nyu-mll/BBQ's JSONL, CC BY 4.0), read from a file.

Each item is a context, a question and three answers; the model's choice is the answer whose
full text "context question Answer: answer" is most likely (lm-eval's unnormalised
log-likelihood choice). In ambiguous contexts the correct answer is the "unknown" one, so a drop
in accuracy there means the model leans on a stereotype more often; the card reports accuracy per
category and context condition.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from safety.bias import Client, ProbeError


@dataclass(frozen=True)
class BbqItem:
    context: str
    question: str
    answers: tuple[str, str, str]
    label: int
    category: str
    condition: str  # ambig | disambig (BBQ's context_condition), or "" when absent

    @property
    def group(self) -> str:
        return f"{self.category}/{self.condition}" if self.condition else self.category


def read_bbq(path: Path) -> list[BbqItem]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"cannot read {path}: {exc}") from None
    items = [_item(path, i, line) for i, line in enumerate(lines, 1) if line.strip()]
    if not items:
        raise ProbeError(f"{path} has no BBQ items")
    return items


def _item(path: Path, lineno: int, line: str) -> BbqItem:
    try:
        r = json.loads(line)
        answers = (str(r["ans0"]), str(r["ans1"]), str(r["ans2"]))
        label = int(r["label"])
        if label not in (0, 1, 2):
            raise ValueError("label must be 0, 1 or 2")
        return BbqItem(
            str(r["context"]),
            str(r["question"]),
            answers,
            label,
            str(r["category"]),
            str(r.get("context_condition", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ProbeError(
            f"{path}:{lineno}: needs context, question, ans0-ans2, label and category ({exc})"
        ) from None


async def choose(client: Client, item: BbqItem) -> int:
    """The index of the answer the model finds most likely."""
    prefix = f"{item.context} {item.question} Answer:"
    scores = await asyncio.gather(*(client.score(f"{prefix} {a}") for a in item.answers))
    return max(range(3), key=lambda i: scores[i][0])

"""Prompt injection, TRAIN group, benign: the Self-Instruct authors' handwritten instructions.

yizhongw/self-instruct (Apache-2.0) holds 175 seed tasks and 252 user-oriented instructions,
written by the paper's authors (not generated), each with example inputs: "Rewrite the given
text and correct grammar", "Ignore the parenthetical in the sentence and ...". They are what
users ask an assistant, imperative and often about a text they paste, which the benign
training rows had few of (questions, commands to a voice assistant, documentation). Each task
gives its instruction alone and, for each instance with an input, the instruction followed by
that input (as a user would paste it). The eval never reads this repository.
"""

import json

from .mirrors import Mirrors
from .text import Record, dedupe_labelled

REPO = "yizhongw/self-instruct"
FILES = ("data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl")


def _rows(task: dict[str, object], path: str) -> list[Record]:
    instruction = str(task["instruction"]).strip()
    texts = [instruction]
    for inst in task.get("instances") or []:  # type: ignore[attr-defined]
        given = str(inst.get("input") or "").strip()
        if given:
            texts.append(f"{instruction}\n\n{given}")
    source = f"{REPO}/{path.split('/')[-1].removesuffix('.jsonl')}"
    return [
        {"text": t, "label": 0, "lang": "en", "source": source, "category": "instruction",
         "lang_method": "dataset"}
        for t in texts
    ]  # fmt: skip


def build_selfinstruct(m: Mirrors) -> list[Record]:
    out: list[Record] = []
    for path in FILES:
        for line in m.text(REPO, path).splitlines():
            if line.strip():
                out.extend(_rows(json.loads(line), path))
    rows, _ = dedupe_labelled(out)
    return rows

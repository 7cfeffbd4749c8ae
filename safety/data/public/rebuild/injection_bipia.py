"""Prompt injection, TRAIN group, indirect: BIPIA's *train-split* attacks inside documents.

The eval suite (injection_eval.py) inserts BIPIA's test-split attacks into test-split contexts
and takes its benign documents from the train-split contexts it samples. This file uses what
the eval never reads: the train-split attacks (other attack categories than the test split's)
inserted into the train-split tables the eval did not sample, and into this interpreter's pydoc
paragraphs for the code attacks (every train-split email and code context is an eval negative).
Benign rows are the same unsampled tables, untouched. Each row is one window of about the size
the learned detector scores (safety/learned.py WINDOW), so an attack is not diluted by a long
document it was never seen in.

Attack categories that are a plain request with nothing addressed to "your answer" or "your
code" (BIPIA's task-irrelevant ones: "What is the capital of Brazil?") are left out: on their
own they are ordinary user questions, and the benign sets are full of those.
"""

import random

from .injection_eval import BIPIA_N_NEG_CTX, _bipia_contexts, _flat_attacks
from .injection_train import select_fields
from .mirrors import Mirrors
from .text import Record, rng, sample

WINDOW = 320
PLAIN_REQUESTS = {"Information Retrieval", "Content Creation", "Learning and Tutoring",
                  "Programming Help"}  # fmt: skip
COPIES = 4  # each attack inserted into this many documents
N_CLEAN = 600  # untouched table windows


def unsampled_tables(m: Mirrors) -> list[str]:
    """Train-split table contexts the eval's benign sample does not contain."""
    ctx = [c["context"] or "" for c in _bipia_contexts(m, "table", "train")]
    taken = set(sample(ctx, BIPIA_N_NEG_CTX["table"], "bipia-neg-table"))
    return [c for c in ctx if c not in taken]


def pydoc_paragraphs() -> list[str]:
    """Paragraphs of pydoc topics, from the end of the order safety.train_injection draws its
    benign ones from the start of (seed 0), so the two do not meet for up to half of them."""
    from pydoc_data.topics import topics

    paras = [p.strip() for t in topics.values() for p in t.split("\n\n")]
    paras = [p for p in paras if 60 <= len(p) <= 800]
    random.Random(0).shuffle(paras)
    return paras[len(paras) // 2 :]


def window(r: random.Random, doc: str, room: int) -> str:
    """A slice of `doc` of at most `room` characters, starting at a line boundary."""
    if len(doc) <= room:
        return doc
    starts = [0] + [i + 1 for i, ch in enumerate(doc[: len(doc) - room]) if ch == "\n"]
    at = r.choice(starts)
    return doc[at : at + room]


def insert(r: random.Random, doc: str, attack: str) -> tuple[str, str]:
    """The attack at the start, the end or a line boundary of a window of `doc`."""
    part = window(r, doc, max(0, WINDOW - len(attack) - 1))
    pos = r.choice(["start", "end", "middle"])
    cuts = [i + 1 for i, ch in enumerate(part) if ch == "\n"]
    if pos == "middle" and cuts:
        k = r.choice(cuts)
        return f"{part[:k]}{attack}\n{part[k:]}", pos
    if pos == "end" or pos == "middle":
        return f"{part}\n{attack}", "end"
    return f"{attack}\n{part}", pos


def _row(text: str, label: int, category: str) -> Record:
    return {"text": text, "label": label, "lang": "en", "source": "microsoft/BIPIA (train split)",
            "category": category}  # fmt: skip


def build_bipia_train(m: Mirrors) -> list[Record]:
    r = rng("bipia-train")
    tables, prose = unsampled_tables(m), pydoc_paragraphs()
    text = _flat_attacks(m.json("microsoft/BIPIA", "benchmark/text_attack_train.json"))
    code = _flat_attacks(m.json("microsoft/BIPIA", "benchmark/code_attack_train.json"))
    out = []
    for hosts, attacks, kind in ((tables, text, "table"), (prose, code, "pydoc")):
        for name, attack in attacks:
            if name in PLAIN_REQUESTS:
                continue
            for _ in range(COPIES):
                t, pos = insert(r, hosts[r.randrange(len(hosts))], attack)
                out.append(_row(t, 1, f"indirect/{kind}/{name}/{pos}"))
    for doc in sample(tables, N_CLEAN, "bipia-train-clean"):
        out.append(_row(window(r, doc, WINDOW), 0, "clean-context/table"))
    r.shuffle(out)
    return select_fields(out)

"""Shared helpers: seeded sampling, normalisation, a cheap language guess, JSONL output."""

import json
import os
import random
import re
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
Record = dict[str, Any]

SEED = "safety-data-public-v1"
MAX_BYTES = 3 * 1024 * 1024


def rng(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def norm_text(t: str) -> str:
    return re.sub(r"\s+", " ", t).strip().lower()


def sample(items: Iterable[T], n: int | None, name: str) -> list[T]:
    items = list(items)
    if n is None or len(items) <= n:
        return items
    r = rng(name)
    idx = sorted(r.sample(range(len(items)), n))
    return [items[i] for i in idx]


# ---------------------------------------------------------------------------
# language guess
# ---------------------------------------------------------------------------
_SCRIPT_RANGES = [
    ("ja", r"[\u3040-\u30ff]"),
    ("ko", r"[\uac00-\ud7af]"),
    ("zh", r"[\u4e00-\u9fff]"),
    ("ru", r"[\u0400-\u04ff]"),
    ("ar", r"[\u0600-\u06ff]"),
    ("hi", r"[\u0900-\u097f]"),
    ("bn", r"[\u0980-\u09ff]"),
    ("th", r"[\u0e00-\u0e7f]"),
    ("el", r"[\u0370-\u03ff]"),
]
_STOP = {
    "en": (
        "the and is are you to of what how i a in it for my me your do can this that be with "
        "please from have not"
    ).split(),
    "de": (
        "der die das und ist nicht ich sie wie was ein eine zu mit auf für du es den dem von wer "
        "wo bitte sind mir mein haben kann wir auch oder"
    ).split(),
    "es": (
        "el la los las y es que de en un una por para con cómo qué no se su del al lo como está "
        "mi tu"
    ).split(),
    "fr": (
        "le la les et est que de des un une pour en dans qui quel quelle comment ne pas vous je "
        "du au sur avec il elle"
    ).split(),
    "it": "il lo gli e è che di un una per con non come cosa sono del della mi ti".split(),
    "pt": "o os as e é que de um uma para com não como do da em você qual".split(),
}
_LANGS = ("en", "de", "es", "fr", "it", "pt")


def _script_lang(text: str) -> str | None:
    """A language whose script dominates the text (two kana are enough for Japanese)."""
    letters = [c for c in text if c.isalpha()]
    if letters:
        for code, pat in _SCRIPT_RANGES:
            n = len(re.findall(pat, text))
            if code == "ja" and n >= 2:
                return "ja"
            if code != "ja" and n / max(1, len(letters)) > 0.3:
                return code
    return None


def guess_lang(text: str, candidates: Sequence[str] = _LANGS) -> str:
    """Cheap deterministic language guess (script ranges + stop words).

    Only used for sources that do not state a language; records produced with
    it carry "lang_method": "heuristic"."""
    by_script = _script_lang(text)
    if by_script is not None:
        return by_script
    words = re.findall(r"[a-zA-ZÀ-ÿ]+", text.lower())
    scores = {c: sum(1 for w in words if w in set(_STOP[c])) for c in candidates}
    if "de" in candidates and re.search(r"[äöüß]", text.lower()):
        scores["de"] += 2
    best = max(scores.values()) if scores else 0
    if best == 0:
        return candidates[0]
    top = [c for c in candidates if scores[c] == best]
    return top[0]


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------
def write_jsonl(path: str, records: Iterable[Record]) -> int:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        print(f"WARNING: {path} is {size} bytes (> 3 MB)", file=sys.stderr)
    return size


def dedupe_labelled(records: Iterable[Record], key: str = "text") -> tuple[list[Record], int]:
    """Drop exact (normalised) duplicates; drop texts that occur with both labels."""
    by: OrderedDict[str, list[Record]] = OrderedDict()
    for r in records:
        k = norm_text(r[key])
        by.setdefault(k, []).append(r)
    out: list[Record] = []
    conflicts = 0
    for rs in by.values():
        labels = {r["label"] for r in rs}
        if len(labels) > 1:
            conflicts += 1
            continue
        out.append(rs[0])
    return out, conflicts


# ---------------------------------------------------------------------------
# notes taken from the comments of third-party test sources
# ---------------------------------------------------------------------------
_NOTE_DROP = re.compile(r"^(gitleaks:allow|noqa\b.*|pragma: allowlist.*|nosec.*|TODO:.*)$", re.I)


def clean_notes(comments: Iterable[str]) -> str:
    """Keep descriptive comments; drop lint markers and commented-out code."""
    out = []
    for c in comments:
        c = c.strip()
        if not c or _NOTE_DROP.match(c):
            continue
        if c[0] in "\"`'{<[(" or ":=" in c or c.endswith(",") or c.startswith("http"):
            continue
        out.append(c)
    return "; ".join(out)


def read_jsonl(path: str) -> list[Record]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

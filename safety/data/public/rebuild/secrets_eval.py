"""Secrets: gitleaks' and detect-secrets' test examples merged into one labelled set."""

from collections import OrderedDict
from typing import Any

from .detect_secrets_cases import detect_secrets_cases
from .gitleaks_cases import gitleaks_cases
from .mirrors import Mirrors
from .text import Record

SOURCES = {
    "gitleaks": ("gitleaks/gitleaks", "rule-test"),
    "detect-secrets": ("Yelp/detect-secrets", "plugin-test"),
}


def _new_record(src: str, c: Record, kind: Any) -> Record:
    r: Record = OrderedDict()
    r["text"] = c["text"]
    r["label"] = c["label"]
    r["kind"] = kind
    r["kinds"] = [kind]
    r["source"], r["label_scope"] = SOURCES[src]
    if c.get("note"):
        r["note"] = c["note"]
    if c.get("path"):
        r["path"] = c["path"]
    r["file"] = c["file"]
    return r


def merge_cases(sources: list[tuple[str, list[Record]]]) -> tuple[list[Record], int]:
    """One record per (text, label), listing every rule / plugin that tests it; a negative
    whose text is some other rule's positive is dropped (and counted)."""
    tp_texts = {c["text"] for _, cs in sources for c in cs if c["label"] == 1}
    recs: OrderedDict[tuple[Any, int], Record] = OrderedDict()
    cross = 0
    for src, cs in sources:
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
            recs[key] = _new_record(src, c, kind)
    out = []
    for r in recs.values():
        if len(r["kinds"]) == 1:
            del r["kinds"]
        out.append(r)
    return out, cross


def build_secrets(m: Mirrors) -> tuple[list[Record], dict[str, Any]]:
    gl, gl_skip = gitleaks_cases(m)
    ds, ds_skip = detect_secrets_cases(m)
    out, cross = merge_cases([("gitleaks", gl), ("detect-secrets", ds)])
    return out, {
        "gitleaks_skipped": gl_skip,
        "detect_secrets_skipped": ds_skip,
        "cross_rule_fps_dropped": cross,
        "gitleaks_raw": len(gl),
        "detect_secrets_raw": len(ds),
    }

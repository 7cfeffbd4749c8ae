"""Secrets, the cross-tool check: Nosey Parker's rule examples and negative examples.

Nosey Parker (Praetorian, Apache-2.0) ships with each of its rules the strings the rule must
find (`examples`) and must not (`negative_examples`). Neither our patterns nor gitleaks' rules
were written from them, so this set measures how far secret detection carries to formats and
examples another team chose. A negative that is some rule's example is dropped, and so is any
text already in secrets_eval.jsonl (so the two suites share no row).
"""

from collections import Counter, OrderedDict
from typing import Any

import yaml

from .mirrors import Mirrors
from .text import Record

REPO = "praetorian-inc/noseyparker"
RULES_DIR = "crates/noseyparker/data/default/builtin/rules"


def _examples(m: Mirrors) -> list[tuple[str, str, int]]:
    """(rule id, text, label) for every example of every rule, in file order."""
    out = []
    for name in sorted(m.ls(REPO, RULES_DIR)):
        if not name.endswith(".yml"):
            continue
        doc = yaml.safe_load(m.text(REPO, f"{RULES_DIR}/{name}")) or {}
        for rule in doc.get("rules") or []:
            for label, key in ((1, "examples"), (0, "negative_examples")):
                out += [(rule["id"], str(t), label) for t in rule.get(key) or [] if str(t).strip()]
    return out


def build_secrets_np(m: Mirrors, exclude: set[str]) -> tuple[list[Record], dict[str, Any]]:
    examples = _examples(m)
    positives = {t for _, t, label in examples if label}
    recs: OrderedDict[tuple[str, int], Record] = OrderedDict()
    info: Counter[str] = Counter()
    for rule_id, text, label in examples:
        if text in exclude:
            info["dropped: already in secrets_eval"] += 1
        elif label == 0 and text in positives:
            info["dropped: negative that is another rule's example"] += 1
        elif (text, label) in recs:
            recs[text, label]["kinds"].append(rule_id)
        else:
            recs[text, label] = OrderedDict(
                text=text,
                label=label,
                kind=rule_id,
                kinds=[rule_id],
                source=REPO,
                label_scope="rule-example",
            )
    return list(recs.values()), dict(info)

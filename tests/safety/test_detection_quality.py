"""Measured detection quality on the labeled set (targets from the issue)."""

from __future__ import annotations

import json

from safety.evaluate import DEFAULT_DATA, evaluate
from safety.policy import load_policy


def test_labeled_set_meets_the_targets() -> None:
    records = [json.loads(line) for line in DEFAULT_DATA.read_text().splitlines() if line]
    assert len(records) >= 200
    assert sum(1 for r in records if not r["labels"]) >= 80  # benign look-alikes included
    assert {r["direction"] for r in records} == {"input", "output"}
    table = evaluate(load_policy(DEFAULT_DATA.with_name("terms_policy.yaml")), records)
    for cat in ("pii_financial", "pii_contact", "pii_network", "secrets"):
        assert table[cat]["recall"] >= 0.98, (cat, table[cat])
        assert table[cat]["precision"] >= 0.95, (cat, table[cat])
    # term lists: exact on every obfuscated variant and every look-alike
    assert table["blocked_terms"]["fp"] == 0 and table["blocked_terms"]["fn"] == 0

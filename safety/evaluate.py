"""Precision and recall of the policy's detectors on a labeled set.

    python -m safety.evaluate [--data FILE] [--policy FILE] [--json]   (default: the tuned set,
        safety/data/tuned/labeled.jsonl)
    python -m safety.evaluate --suite injection --suite pii --suite secrets --suite secrets-matched
        --suite secrets-np --suite heldout --suite heldout-v3 ... --suite heldout-v17 [--readme]

Each record is {"text", "direction", "labels": [categories]}; a category counts as detected when
any of its detectors finds a span (whatever the action), so this measures detection, not policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from safety.moderation import categories_found
from safety.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy
from safety.suites import SUITES, run_suite, summary
from safety.suites import render as render_suite

DEFAULT_DATA = Path(__file__).with_name("data") / "tuned" / "labeled.jsonl"  # the tuned set
_TUNED_POLICY = DEFAULT_DATA.with_name("terms_policy.yaml")  # the default plus a term list


def detected(policy: Policy, text: str) -> set[str]:
    return set(categories_found(policy, text))


def evaluate(policy: Policy, records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    cats = sorted(n for n, c in policy.categories.items() if c.detectors)
    counts = {c: {"tp": 0, "fp": 0, "fn": 0, "support": 0} for c in cats}
    misses: list[tuple[str, str, list[str]]] = []
    for r in records:
        truth = set(r["labels"])
        got = detected(policy, r["text"])
        for c in cats:
            if c in truth:
                counts[c]["support"] += 1
            if c in truth and c in got:
                counts[c]["tp"] += 1
            elif c in got:
                counts[c]["fp"] += 1
                misses.append(("false positive", c, [r["text"]]))
            elif c in truth:
                counts[c]["fn"] += 1
                misses.append(("missed", c, [r["text"]]))
    table: dict[str, dict[str, float]] = {}
    for c, k in counts.items():
        tp, fp, fn = k["tp"], k["fp"], k["fn"]
        table[c] = {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            **{key: float(v) for key, v in k.items()},
        }
    table["_errors"] = {f"{kind}: {c}: {t[0][:60]!r}": 1.0 for kind, c, t in misses}
    return table


def by_group(policy: Policy, records: list[dict[str, Any]], field: str) -> str:
    """Per value of a record field (e.g. the evasion kind): positives whose category was found,
    and benign texts where anything was found."""
    groups: dict[str, list[int]] = {}
    for r in records:
        g = groups.setdefault(str(r.get(field, "")), [0, 0, 0, 0])
        got = detected(policy, r["text"])
        if r["labels"]:
            g[0] += 1
            g[1] += bool(set(r["labels"]) & got)
        else:
            g[2] += 1
            g[3] += bool(got)
    lines = [f"| {field} | positives found | benign flagged |", "|---|---|---|"]
    for name, (pos, hit, neg, fp) in sorted(groups.items()):
        lines.append(f"| {name} | {hit}/{pos} | {fp}/{neg} |")
    return "\n".join(lines)


def render(table: dict[str, dict[str, float]], n: int) -> str:
    lines = [
        f"{n} labeled texts",
        "| category | precision | recall | TP | FP | FN | positives |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, m in table.items():
        if c.startswith("_"):
            continue
        lines.append(
            f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['tp']:.0f} | {m['fp']:.0f} "
            f"| {m['fn']:.0f} | {m['support']:.0f} |"
        )
    for e in table.get("_errors", {}):
        lines.append(f"  {e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m safety.evaluate", description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--policy", type=Path, default=_TUNED_POLICY)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--by", metavar="FIELD", help="also tabulate by this record field (evasion)")
    ap.add_argument(
        "--suite",
        choices=sorted(SUITES),
        action="append",
        help="a public suite instead of --data (repeatable; see safety/suites.py)",
    )
    ap.add_argument(
        "--readme", action="store_true", help="with --suite: rewrite the README's suites table"
    )
    ns = ap.parse_args(argv)
    if ns.suite:
        sys.exit(_suites(ns))
    try:
        policy = load_policy(ns.policy)
        records = [json.loads(line) for line in ns.data.read_text().splitlines() if line.strip()]
    except (PolicyError, OSError, json.JSONDecodeError) as exc:
        print(f"safety.evaluate: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(1)
    table = evaluate(policy, records)
    print(json.dumps(table, indent=2) if ns.json else render(table, len(records)))
    if ns.by:
        print(by_group(policy, records, ns.by))


def _suites(ns: argparse.Namespace) -> int:
    try:
        policy = load_policy(ns.policy if ns.policy != _TUNED_POLICY else DEFAULT_POLICY)
        results = [run_suite(policy, name) for name in ns.suite]
    except (PolicyError, OSError, json.JSONDecodeError) as exc:
        print(f"safety.evaluate: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2) if ns.json else "\n\n".join(map(render_suite, results)))
    if ns.readme:
        from benchmarks.results import update_readme

        update_readme(summary(results), "safety-suites")
    return 0


if __name__ == "__main__":
    main()

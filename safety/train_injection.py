"""Train the learned prompt-injection detector (safety/learned.py) from public data.

    python -m safety.train_injection [--data FILE ...] [--out safety/models/prompt_injection.npz]

Records are {"text", "label": 1 injection / 0 benign, "lang", "source"}: the public training
file (safety/data/public/LICENSES.md says where each source comes from and its license), the
project's handwritten multilingual files (safety/data/injection_extra*.jsonl, written for
training by a writer who never saw the evaluation data), the project's tuned set
(safety/data/tuned/labeled.jsonl as injection / not: texts with PII, secrets and look-alikes
that are not injections), and benign paragraphs of this interpreter's pydoc topics. A stratified
fifth of the training file is held back to choose the decision threshold (the lowest one whose
precision on it is at least --precision); the public evaluation suite
(`python -m safety.evaluate --suite injection`) uses other sources and is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from safety.detectors import Views
from safety.learned import MODEL, InjectionModel, features

DATA = [
    Path(__file__).with_name("data") / "public" / "injection_train.jsonl",
    Path(__file__).with_name("data") / "public" / "injection_train_bipia.jsonl",
    Path(__file__).with_name("data") / "injection_extra.jsonl",
    Path(__file__).with_name("data") / "injection_extra2.jsonl",
    Path(__file__).with_name("data") / "injection_tuned.jsonl",
    Path(__file__).with_name("data") / "injection_benign_docs.jsonl",
    Path(__file__).with_name("data") / "injection_benign_trigger.jsonl",
]


def python_docs(n: int, seed: int) -> list[dict[str, object]]:
    """Benign prose and code talk from this interpreter's pydoc topics (PSF license), split
    into paragraphs: statements and explanations, where the public benign sets are mostly
    questions."""
    import random
    from pydoc_data.topics import topics

    paras = [p.strip() for t in topics.values() for p in t.split("\n\n")]
    paras = [p for p in paras if 60 <= len(p) <= 800]
    random.Random(seed).shuffle(paras)
    return [{"text": p, "label": 0, "lang": "en", "source": "python/pydoc_topics"}
            for p in paras[:n]]  # fmt: skip


def view_text(text: str) -> str:
    return Views(text).get("loose").text


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    ap = argparse.ArgumentParser(prog="python -m safety.train_injection", description=__doc__)
    ap.add_argument("--data", type=Path, nargs="+", default=DATA)
    ap.add_argument("--python-docs", type=int, default=1500, help="benign pydoc paragraphs")
    ap.add_argument("--out", type=Path, default=MODEL)
    ap.add_argument("--n-features", type=int, default=2**18)
    ap.add_argument("--C", type=float, default=8.0, help="inverse regularisation strength")
    ap.add_argument("--precision", type=float, default=0.95, help="on the held-back fifth")
    ap.add_argument("--seed", type=int, default=0)
    ns = ap.parse_args(argv)
    try:
        rows = [json.loads(x) for d in ns.data for x in d.read_text().split("\n") if x.strip()]
        rows += python_docs(ns.python_docs, ns.seed)
        texts, labels = [view_text(r["text"]) for r in rows], np.array([r["label"] for r in rows])
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"safety.train_injection: error: {exc}", file=sys.stderr)
        return 1
    strata = [f"{r['label']}-{r.get('lang', '')}" for r in rows]
    tr, dev = train_test_split(np.arange(len(rows)), test_size=0.2, random_state=ns.seed,
                               stratify=strata)  # fmt: skip
    x = features(texts, ns.n_features)
    clf = LogisticRegression(C=ns.C, class_weight="balanced", max_iter=5000)
    clf.fit(x[tr], labels[tr])
    p_dev = clf.predict_proba(x[dev])[:, 1]
    threshold = choose_threshold(p_dev, labels[dev], ns.precision)
    clf.fit(x, labels)  # the final model sees all of the training file
    card = {
        "data": [d.name for d in ns.data] + ["python/pydoc_topics"],
        "records": len(rows),
        "positives": int(labels.sum()),
        "languages": dict(Counter(r.get("lang", "") for r in rows).most_common()),
        "sources": dict(Counter(r["source"] for r in rows).most_common()),
        "C": ns.C,
        "dev": dev_scores(p_dev, labels[dev], threshold),
        "dev_recall_by_lang": {
            lang: round(float((p_dev[m & (labels[dev] == 1)] >= threshold).mean()), 3)
            for lang in ("en", "de", "es", "fr", "zh")
            if (m := np.array([rows[i].get("lang") == lang for i in dev])).any()
            and (m & (labels[dev] == 1)).any()
        },
    }
    model = InjectionModel(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), threshold,
                           ns.n_features, card)  # fmt: skip
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(ns.out)
    print(json.dumps({"out": str(ns.out), "threshold": threshold, "dev": card["dev"],
                      "dev_recall_by_lang": card["dev_recall_by_lang"]}))  # fmt: skip
    return 0


def choose_threshold(p: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest threshold whose precision on (p, y) reaches `precision` (0.5 if none)."""
    for t in np.arange(0.30, 0.96, 0.01):
        pred = p >= t
        if pred.sum() and (pred & (y == 1)).sum() / pred.sum() >= precision:
            return round(float(t), 2)
    return 0.5


def dev_scores(p: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    pred = p >= t
    tp, fp, fn = (pred & (y == 1)).sum(), (pred & (y == 0)).sum(), (~pred & (y == 1)).sum()
    return {
        "precision": round(float(tp / max(tp + fp, 1)), 3),
        "recall": round(float(tp / max(tp + fn, 1)), 3),
        "n": int(len(y)),
    }


if __name__ == "__main__":
    sys.exit(main())

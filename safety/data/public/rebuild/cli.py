"""The command line: build every data set and write it as JSONL, with a summary on stdout."""

import argparse
import os
from collections import Counter
from typing import Any

from . import __doc__ as package_doc
from .injection_bipia import build_bipia_train
from .injection_eval import build_injection_eval, near_dup_filter
from .injection_jailbreaks import build_jailbreaks
from .injection_selfinstruct import build_selfinstruct
from .injection_train import build_injection_train
from .mirrors import Mirrors
from .pii import build_pii
from .secrets_eval import build_secrets
from .secrets_np import build_secrets_np
from .text import Record, read_jsonl, write_jsonl

# safety/data/public/, the directory above this package
DATA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def summarize(name: str, recs: list[Record]) -> None:
    lab = Counter(r.get("label") for r in recs)
    langs: Counter[Any] = Counter(r.get("lang") for r in recs if "lang" in r)
    srcs: Counter[tuple[Any, Any]] = Counter((r["source"], r.get("label")) for r in recs)
    print(f"== {name}: {len(recs)} records, labels {dict(lab)}")
    if langs:
        print("   langs:", dict(langs.most_common()))
        for lang in sorted(langs):
            c = Counter(r["label"] for r in recs if r.get("lang") == lang)
            print(f"     {lang}: pos={c[1]} neg={c[0]}")
    for (s, label), n in sorted(srcs.items()):
        print(f"   {s:<60} label={label} n={n}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m safety.data.public.rebuild",
        description=package_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--mirror-root", default="/work/.mirror")
    ap.add_argument("--repo", action="append", default=[], help="owner/name=/path/to/git-dir")
    ap.add_argument("--out", default=DATA_DIR)
    ap.add_argument("--only", choices=sorted(WRITERS), action="append",
                    help="build only these files (repeatable; default: all)")  # fmt: skip
    return ap.parse_args(argv)


def write_injection(m: Mirrors, out: str) -> None:
    train, conf_tr, lang_dropped = build_injection_train(m)
    write_jsonl(os.path.join(out, "injection_train.jsonl"), train)
    summarize("injection_train", train)
    print("   conflicting-label duplicates dropped:", conf_tr)
    print("   positives dropped for lack of same-language benign rows:", dict(lang_dropped))

    ev, conf_ev, near_dups = build_injection_eval(m, train)
    print("   eval rows dropped as near-duplicates of train:", near_dups)
    write_jsonl(os.path.join(out, "injection_eval.jsonl"), ev)
    summarize("injection_eval", ev)
    print("   conflicting-label duplicates dropped:", conf_ev)


def write_bipia_train(m: Mirrors, out: str) -> None:
    _write_train(out, "injection_train_bipia", build_bipia_train(m))


def write_selfinstruct(m: Mirrors, out: str) -> None:
    _write_train(out, "injection_train_selfinstruct", build_selfinstruct(m))


def write_jailbreaks(m: Mirrors, out: str) -> None:
    """Rows that nearly duplicate an eval row or a handwritten held-out row are left out."""
    heldout = os.path.join(os.path.dirname(out), "heldout")
    avoid = read_jsonl(os.path.join(out, "injection_eval.jsonl"))
    for name in sorted(os.listdir(heldout)) if os.path.isdir(heldout) else []:
        avoid += read_jsonl(os.path.join(heldout, name)) if name.endswith(".jsonl") else []
    rows, dropped = build_jailbreaks(m, avoid)
    print("   rows dropped as near duplicates of eval or held-out rows:", dropped)
    _write_train(out, "injection_train_jailbreaks", rows)


def _write_train(out: str, name: str, train: list[Record]) -> None:
    """A training file built from sources the eval does not read; refused if any eval row is
    a near duplicate of one of its rows anyway."""
    ev = read_jsonl(os.path.join(out, "injection_eval.jsonl"))
    _, dups = near_dup_filter(ev, train)
    if dups:
        raise SystemExit(f"{len(dups)} eval rows are near duplicates of {name} rows")
    write_jsonl(os.path.join(out, f"{name}.jsonl"), train)
    summarize(name, train)
    print("   eval rows that are near duplicates of these: 0")


def write_pii(m: Mirrors, out: str) -> None:
    pii, bad = build_pii(m)
    write_jsonl(os.path.join(out, "pii_eval.jsonl"), pii)
    span_types = Counter(s["type"] for r in pii for s in r["spans"])
    print(
        f"== pii_eval: {len(pii)} records ({bad} dropped for offset mismatch); "
        f"span types {dict(span_types.most_common())}"
    )


def write_secrets(m: Mirrors, out: str) -> None:
    sec, info = build_secrets(m)
    write_jsonl(os.path.join(out, "secrets_eval.jsonl"), sec)
    labels = dict(Counter(r["label"] for r in sec))
    by_source = dict(Counter((r["source"], r["label"]) for r in sec))
    print(f"== secrets_eval: {len(sec)} records, labels {labels}, by source {by_source}")
    print("   ", {k: (dict(v) if isinstance(v, Counter) else v) for k, v in info.items()})


def write_secrets_np(m: Mirrors, out: str) -> None:
    taken = {r["text"] for r in read_jsonl(os.path.join(out, "secrets_eval.jsonl"))}
    sec, info = build_secrets_np(m, taken)
    write_jsonl(os.path.join(out, "secrets_np_eval.jsonl"), sec)
    labels = dict(Counter(r["label"] for r in sec))
    print(f"== secrets_np_eval: {len(sec)} records, labels {labels}, rules", end=" ")
    print(len({k for r in sec for k in r["kinds"]}), info)


WRITERS = {
    "injection": write_injection,
    "bipia-train": write_bipia_train,
    "selfinstruct": write_selfinstruct,
    "jailbreaks": write_jailbreaks,
    "pii": write_pii,
    "secrets": write_secrets,
    "secrets-np": write_secrets_np,
}


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    overrides = dict(x.split("=", 1) for x in a.repo)
    m = Mirrors(a.mirror_root, overrides)
    os.makedirs(a.out, exist_ok=True)
    for name in a.only or WRITERS:
        WRITERS[name](m, a.out)

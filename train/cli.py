"""llm-train: fit | eval | plan | tokenizer. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from llm_deploy import flags
from train.config import PRESETS, TrainConfig

if TYPE_CHECKING:
    from safety.card.config import CardConfig

_NOT_FLAGS = ("max_position_embeddings",)  # the exported context length is --seq-len


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training configuration (defaults come from --preset)")
    flags.add_flags(g, TrainConfig, dest_prefix="cfg_", skip=_NOT_FLAGS)


def config_from_args(ns: argparse.Namespace) -> TrainConfig:
    return flags.apply(PRESETS[ns.preset](), ns, dest_prefix="cfg_")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-train", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    fit = sub.add_parser("fit", help="train a tokenizer and a Llama; export a HF checkpoint")
    fit.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    fit.add_argument("--out", type=Path, required=True, help="output HF directory")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing output")
    fit.add_argument("--resume", action="store_true", help="continue from OUT.run/checkpoints")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.add_argument(
        "--card-against", type=Path, default=None, metavar="OLD",
        help="then serve OLD and the new model with llm-serve and write a recovery card "
        "(card.md, card.json, card.png) into --out",
    )  # fmt: skip
    from safety.card.cli import add_run_flags

    add_run_flags(fit, "with --card-against")
    _add_config_flags(fit)

    ev = sub.add_parser("eval", help="perplexity of a HF checkpoint on text")
    ev.add_argument("model", type=Path)
    ev.add_argument("--text", type=Path, required=True, help="UTF-8 text file")
    ev.add_argument("--seq-len", type=int, default=512)
    ev.add_argument("--max-tokens", type=int, default=100_000)

    pl = sub.add_parser("plan", help="Chinchilla-optimal size, FLOPs and memory estimates")
    which = pl.add_mutually_exclusive_group(required=True)
    which.add_argument("--compute", type=float, help="training FLOPs budget")
    which.add_argument("--params", type=float, help="parameter count")
    pl.add_argument("--context", type=int, default=2048)
    pl.add_argument("--batch", type=int, default=8)
    pl.add_argument("--json", action="store_true")

    tk = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer alone")
    tk.add_argument("--out", type=Path, required=True)
    tk.add_argument("--vocab-size", type=int, default=4096)
    tk.add_argument("--data", nargs="+", default=[])
    tk.add_argument("--max-corpus-files", type=int, default=0)
    tk.add_argument("--overwrite", action="store_true")
    return p


def _card_config(ns: argparse.Namespace) -> CardConfig | None:
    """The --card-against run's options, checked before training starts."""
    from safety.bias import ProbeError
    from safety.card.cli import config_from

    if ns.card_against is None:
        return None
    if not (ns.card_against / "config.json").is_file():
        raise ValueError(f"--card-against {ns.card_against}: not a model directory")
    try:
        return config_from(ns.card_args)
    except ProbeError as exc:
        raise ValueError(str(exc)) from None


def run(ns: argparse.Namespace) -> int:
    if ns.cmd == "fit":
        from train.loop import fit

        cfg = config_from_args(ns)
        card = _card_config(ns)
        res = fit(cfg, ns.out, overwrite=ns.overwrite, resume=ns.resume, quiet=ns.quiet)
        print(
            f"parameters {res.params:,}  steps {res.steps}  time {res.seconds:.0f} s  "
            f"tokens {res.tokens_seen:,}"
        )
        if res.skipped_files:
            print(f"skipped {res.skipped_files} unreadable or non-UTF-8 files")
        print(f"validation perplexity {res.val_ppl:.2f}  (unigram baseline {res.unigram_ppl:.2f})")
        print(f"exported {res.out}")
        if card is not None:
            from safety.card.cli import run_for_dirs

            run_for_dirs("llm-train", ns.card_against, res.out, card, ns.card_serve_args)
        return 0
    if ns.cmd == "eval":
        from train.errors import TrainError
        from train.evaluate import perplexity

        try:
            text = ns.text.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainError(f"cannot read {ns.text} as UTF-8 text: {exc}") from None
        print(json.dumps(perplexity(ns.model, text, ns.seq_len, ns.max_tokens)))
        return 0
    if ns.cmd == "plan":
        from train.planner import plan, render, to_dict

        if (ns.compute is not None and ns.compute <= 0) or (
            ns.params is not None and ns.params <= 0
        ):
            raise ValueError("--compute and --params must be positive")
        result = plan(compute=ns.compute, params=ns.params, context=ns.context, batch=ns.batch)
        print(json.dumps(to_dict(result), indent=2) if ns.json else render(result))
        return 0
    if ns.cmd == "tokenizer":
        from train import checkpoint as ckpt
        from train.data import load_corpus
        from train.errors import TrainError
        from train.tokenizer import save_tokenizer, train_tokenizer

        if ns.out.exists() and any(ns.out.iterdir()) and not ns.overwrite:
            raise TrainError(f"{ns.out} is not empty; pass --overwrite to replace it")
        corpus = load_corpus(ns.data, ns.max_corpus_files)
        tok = train_tokenizer(corpus.documents, ns.vocab_size)
        with ckpt.atomic_output(ns.out) as tmp:
            save_tokenizer(tok, tmp, 2048)
        print(
            f"tokenizer with {tok.get_vocab_size()} tokens saved to {ns.out} "
            f"({len(corpus.documents)} documents, {corpus.skipped} files skipped)"
        )
        return 0
    return 2


def main(argv: list[str] | None = None) -> None:
    from train.errors import TrainError
    from train.tokenizer import TokenizerError

    ns = build_parser().parse_args(argv)
    try:
        code = run(ns)
    except (TrainError, TokenizerError, ValueError, OSError) as exc:
        print(
            f"llm-train: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            file=sys.stderr,
        )
        code = 1
    except KeyboardInterrupt:
        print("llm-train: interrupted; the last complete checkpoint is kept", file=sys.stderr)
        code = 130
    sys.exit(code)

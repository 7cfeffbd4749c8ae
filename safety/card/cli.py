"""`llm-probe card` and the card runs of `llm-quantize --card` and `llm-train --card-against`."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

from llm_deploy import flags
from safety.bias import ProbeError
from safety.card.config import CardConfig

SERVE_ARGS = "--enforce-eager"  # llm-serve flags for both models when the card starts them


def add_parser(sub: Any) -> None:
    c = sub.add_parser(
        "card",
        help="a base and a candidate model side by side, every change with a paired bootstrap "
        "interval; exits 1 when a --max-*/--min-* threshold is crossed",
    )
    c.add_argument("--base-url", required=True, help="the base model's OpenAI base URL (.../v1)")
    c.add_argument("--model", required=True, help="the base model's served name")
    c.add_argument("--candidate-url", required=True, help="the candidate's OpenAI base URL")
    c.add_argument("--candidate-model", required=True, help="the candidate's served name")
    c.add_argument("--out", type=Path, default=Path("card"), help="output directory")
    flags.add_flags(c, CardConfig, defaults=CardConfig())


def main(ns: argparse.Namespace) -> None:
    from safety.card.report import render, write
    from safety.card.run import Endpoint, run_card

    os.environ.setdefault("TQDM_DISABLE", "1")  # lm-eval's and transformers' progress bars
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cfg = flags.apply(CardConfig(), ns)
    base, cand = Endpoint(ns.base_url, ns.model), Endpoint(ns.candidate_url, ns.candidate_model)
    try:
        result = asyncio.run(run_card(base, cand, cfg))
        paths = write(result, ns.out)
    except (ProbeError, OSError) as exc:
        _fail(exc)
    print(render(result))
    print("wrote " + ", ".join(str(p) for p in paths))
    gate_exit(result)


def add_run_flags(p: argparse.ArgumentParser, what: str) -> None:
    """--card-args / --card-serve-args for the CLIs that start both models themselves."""
    p.add_argument(
        "--card-args", default="", metavar="ARGS",
        help=f"{what}: `llm-probe card` options, given with '=': "
        "--card-args='--windows 8 --max-ppl-increase 0.05'",
    )  # fmt: skip
    p.add_argument(
        "--card-serve-args", default=SERVE_ARGS, metavar="ARGS",
        help=f"{what}: llm-serve flags for both models, given with '=' (default: {SERVE_ARGS})",
    )  # fmt: skip


def config_from(card_args: str) -> CardConfig:
    """A CardConfig from `llm-probe card`-style options in one string."""
    p = argparse.ArgumentParser(prog="--card-args", exit_on_error=False)
    flags.add_flags(p, CardConfig, defaults=CardConfig())
    try:
        ns = p.parse_args(shlex.split(card_args))
    except (argparse.ArgumentError, ValueError) as exc:
        raise ProbeError(f"--card-args: {exc}") from None
    return flags.apply(CardConfig(), ns)


def run_for_dirs(prog: str, base: Path, cand: Path, cfg: CardConfig, serve_args: str) -> None:
    """Serve both checkpoints, write the card into `cand`, exit 1 on a crossed gate."""
    from safety.card.report import render
    from safety.card.run import serve_and_card

    try:
        result, paths = serve_and_card(base, cand, cand, cfg, shlex.split(serve_args))
    except (ProbeError, OSError) as exc:
        _fail(exc, prog)
    print(render(result))
    print("wrote " + ", ".join(str(p) for p in paths))
    gate_exit(result, prog)


def gate_exit(result: dict[str, Any], prog: str = "llm-probe") -> None:
    """Exit 1 with one line per crossed threshold."""
    for failure in result["gate"]["failures"]:
        print(f"{prog}: gate: {failure}", file=sys.stderr)
    if result["gate"]["failures"]:
        sys.exit(1)


def _fail(exc: BaseException, prog: str = "llm-probe") -> NoReturn:
    print(f"{prog}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
    sys.exit(1)

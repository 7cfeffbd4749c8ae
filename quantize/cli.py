"""`llm-quantize MODEL --scheme ... --method ... --out DIR`: flags mirror QuantizeConfig."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from llm_deploy import flags
from quantize.config import FORMATS, METHODS, SCHEMES, QuantizeConfig

_CHOICES = {"scheme": SCHEMES, "method": METHODS, "format": FORMATS}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-quantize",
        description="Quantize a Hugging Face checkpoint to int8/int4 (compressed-tensors for "
        "vLLM, or bitsandbytes) and report perplexity, size, time and memory.",
    )
    p.add_argument("model", type=Path, help="Hugging Face model directory (float weights)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    flags.add_flags(p, QuantizeConfig, defaults=QuantizeConfig(), choices=_CHOICES)
    p.add_argument("--json", action="store_true", help="print the report as JSON, not a table")
    p.add_argument(
        "--card", action="store_true",
        help="then serve MODEL and the output with llm-serve and write a recovery card "
        "(card.md, card.json, card.png) into the output directory",
    )  # fmt: skip
    from safety.card.cli import add_run_flags

    add_run_flags(p, "with --card")
    return p


def config_from_args(ns: argparse.Namespace) -> QuantizeConfig:
    return flags.apply(QuantizeConfig(), ns)


def main(argv: list[str] | None = None) -> None:
    import os

    from quantize.errors import QuantizeError

    ns = build_parser().parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # library progress bars; we print per layer
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        from safety.bias import ProbeError
        from safety.card.cli import config_from

        card = config_from(ns.card_args) if ns.card else None  # a bad option fails before work
    except ProbeError as exc:
        print(f"llm-quantize: error: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        from quantize.pipeline import quantize_checkpoint

        report = quantize_checkpoint(ns.model, ns.out, config_from_args(ns), ns.overwrite)
    except (QuantizeError, ValueError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"llm-quantize: error: {msg}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("llm-quantize: interrupted; nothing was written", file=sys.stderr)
        sys.exit(130)
    print(json.dumps(report, indent=2) if ns.json else _table(report))
    if card is not None:
        from safety.card.cli import run_for_dirs

        run_for_dirs("llm-quantize", ns.model, ns.out, card, ns.card_serve_args)


def _table(report: dict[str, object]) -> str:
    from quantize.report import render

    return render(report) + f"\nwrote {report['output']}/quantize_report.json"

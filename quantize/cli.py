"""`llm-quantize MODEL --scheme ... --method ... --out DIR`: flags mirror QuantizeConfig."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from quantize.config import FORMATS, METHODS, SCHEMES, QuantizeConfig


def _help(name: str) -> str:
    """A field's docstring, read from the dataclass source, as its --help text."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(QuantizeConfig)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
        ):
            return " ".join(str(nxt.value.value).split())
    return ""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-quantize",
        description="Quantize a Hugging Face checkpoint to int8/int4 (compressed-tensors for "
        "vLLM, or bitsandbytes) and report perplexity, size, time and memory.",
    )
    d = QuantizeConfig()
    p.add_argument("model", type=Path, help="Hugging Face model directory (float weights)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--scheme", choices=SCHEMES, default=d.scheme, help=_help("scheme"))
    p.add_argument("--method", choices=METHODS, default=d.method, help=_help("method"))
    p.add_argument("--format", choices=FORMATS, default=d.format, help=_help("format"))
    p.add_argument("--group-size", type=int, default=None, help=_help("group_size"))
    p.add_argument("--calibration", type=Path, default=None, help=_help("calibration"))
    p.add_argument("--samples", type=int, default=d.samples, help=_help("samples"))
    p.add_argument("--seq-len", type=int, default=d.seq_len, help=_help("seq_len"))
    p.add_argument("--eval-text", type=Path, default=None, help=_help("eval_text"))
    p.add_argument("--eval-tokens", type=int, default=d.eval_tokens, help=_help("eval_tokens"))
    p.add_argument("--damp", type=float, default=d.damp, help=_help("damp"))
    p.add_argument(
        "--act-order",
        action=argparse.BooleanOptionalAction,
        default=d.act_order,
        help=_help("act_order"),
    )
    p.add_argument("--smoothing", type=float, default=d.smoothing, help=_help("smoothing"))
    p.add_argument(
        "--ignore", nargs="+", default=list(d.ignore), metavar="NAME", help=_help("ignore")
    )
    p.add_argument("--seed", type=int, default=d.seed, help=_help("seed"))
    p.add_argument("--json", action="store_true", help="print the report as JSON, not a table")
    return p


def config_from_args(ns: argparse.Namespace) -> QuantizeConfig:
    names = {f.name for f in dataclasses.fields(QuantizeConfig)}
    return QuantizeConfig(**{k: v for k, v in vars(ns).items() if k in names})


def main(argv: list[str] | None = None) -> None:
    import os

    from quantize.errors import QuantizeError

    ns = build_parser().parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")  # library progress bars; we print per layer
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
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


def _table(report: dict[str, object]) -> str:
    from quantize.report import render

    return render(report) + f"\nwrote {report['output']}/quantize_report.json"

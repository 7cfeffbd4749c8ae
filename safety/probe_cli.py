"""`llm-probe bias --base-url URL --model NAME [--pairs FILE]`: measure a served model's bias.
`llm-probe attention MODEL_DIR --text TEXT [--layer L --head H]`: heatmaps of a checkpoint's
attention weights.
`llm-probe card --base-url A --model a --candidate-url B --candidate-model b --out DIR`: a base
and a candidate model side by side (quality, bias, safety, latency), with a gate."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from safety.bias import DEFAULT_COUNTERFACTUAL, DEFAULT_PAIRS, ProbeError, run_bias
from safety.card import cli as card_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-probe", description="Bias probes for served models.")
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser(
        "bias",
        help="likelihood pairs (CrowS-Pairs format) and counterfactual generations",
    )
    b.add_argument("--base-url", required=True, help="OpenAI-compatible base URL, e.g. .../v1")
    b.add_argument("--model", required=True, help="model name the server serves")
    b.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="CrowS-Pairs-format CSV")
    b.add_argument(
        "--counterfactual", type=Path, default=DEFAULT_COUNTERFACTUAL,
        help="groups and templates JSON for the generation probe",
    )  # fmt: skip
    b.add_argument("--no-counterfactual", action="store_true", help="pairs only")
    b.add_argument("--samples", type=int, default=4, help="continuations per prompt")
    b.add_argument("--max-tokens", type=int, default=24, help="tokens per continuation")
    b.add_argument("--api-key", default=None)
    b.add_argument("--concurrency", type=int, default=8)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", type=Path, default=Path("bias-report"), help="output directory")
    b.add_argument(
        "--fail-above", type=float, default=None,
        help="exit 1 when any bias type's stereotype share exceeds this (CI gating)",
    )  # fmt: skip
    _attention_parser(sub)
    card_cli.add_parser(sub)
    return p


def _attention_parser(sub: Any) -> None:
    a = sub.add_parser("attention", help="attention heatmaps of a checkpoint (any format)")
    a.add_argument("model", type=Path, help="model directory: float or quantized checkpoint")
    a.add_argument("--text", required=True, help="text whose tokens attend to each other")
    a.add_argument("--layer", type=int, default=-1, help="layer to draw (negative: from the end)")
    a.add_argument("--head", type=int, default=0, help="head drawn on its own")
    a.add_argument("--max-tokens", type=int, default=64, help="tokens of --text kept")
    a.add_argument("--out", type=Path, default=Path("attention"), help="output directory")


def attention(ns: argparse.Namespace) -> None:
    from transformers.utils import logging as hf_logging

    from safety.attention import AttentionError, attention_maps, write_outputs

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # stderr: the error only
    try:
        if ns.max_tokens < 1:
            raise AttentionError("--max-tokens must be positive")
        maps = attention_maps(ns.model, ns.text, ns.max_tokens)
        paths = write_outputs(maps, ns.out, ns.layer, ns.head)
    except (AttentionError, OSError) as exc:
        print(f"llm-probe: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(1)
    print(f"{len(maps.tokens)} tokens, {maps.weights.shape[0]} layers x {maps.weights.shape[1]} "
          f"heads; wrote " + ", ".join(str(p) for p in paths))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ns = build_parser().parse_args(argv)
    if ns.cmd == "attention":
        return attention(ns)
    if ns.cmd == "card":
        return card_cli.main(ns)
    from safety.bias import plot, render_markdown

    try:
        if ns.samples < 1 or ns.max_tokens < 1 or ns.concurrency < 1:
            raise ProbeError("--samples, --max-tokens and --concurrency must be positive")
        if ns.fail_above is not None and not 0 <= ns.fail_above <= 1:
            raise ProbeError("--fail-above is a share in [0, 1]")
        cf = None if ns.no_counterfactual else ns.counterfactual
        report = asyncio.run(
            run_bias(
                ns.base_url, ns.model, ns.pairs, cf, ns.samples, ns.max_tokens, ns.api_key,
                ns.concurrency, ns.seed,
            )
        )  # fmt: skip
        ns.out.mkdir(parents=True, exist_ok=True)
        (ns.out / "bias_report.json").write_text(json.dumps(report, indent=2) + "\n")
        md = render_markdown(report)
        (ns.out / "bias_report.md").write_text(md)
        plot(report, ns.out / "bias_report.png")
    except (ProbeError, OSError) as exc:
        print(f"llm-probe: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        sys.exit(1)
    print(md)
    print(f"wrote {ns.out}/bias_report.json, .md and .png")
    if ns.fail_above is not None:
        worst = max((r["stereotype_share"], t) for t, r in report["pairs"].items() if t != "all")
        if worst[0] > ns.fail_above:
            print(
                f"llm-probe: fail: {worst[1]} prefers the stereotype in {worst[0]:.1%} of pairs "
                f"(above {ns.fail_above:.1%})",
                file=sys.stderr,
            )
            sys.exit(1)


if __name__ == "__main__":
    main()

"""`llm-probe bias --base-url URL --model NAME [--pairs FILE]`: measure a served model's bias."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from safety.bias import DEFAULT_COUNTERFACTUAL, DEFAULT_PAIRS, ProbeError, run_bias


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
    return p


def main(argv: list[str] | None = None) -> None:
    ns = build_parser().parse_args(argv)
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

"""llm-bench: load tests against any OpenAI-compatible server, one run, a sweep, or two servers.

    llm-bench --base-url http://127.0.0.1:8000 --model NAME --tokenizer DIR \\
        --input-len 128 --output-len 128 --num-requests 200 --concurrency 1,4,16,64 \\
        --slo ttft=500ms --output results/run.json

`--concurrency` and `--rate` take comma lists; their product is the sweep. `--compare-url` runs
every point on a second server too, alternating which goes first, and prints ours/theirs ratios.
Next to FILE.json it writes FILE.csv, FILE-latency.png and FILE-dist.png.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.client import Target
from benchmarks.keys import deal, parse_mix, per_key, print_keys
from benchmarks.loadgen import Load, run_load
from benchmarks.report import per_request, plot, write_csv, write_json
from benchmarks.stats import parse_slo, summarize
from benchmarks.workload import BenchError, BenchRequest, Tokenizer, from_jsonl, load_tokenizer
from benchmarks.workload import synthetic as synthetic_requests

RATIO_KEYS = (
    "output_throughput",
    "request_throughput",
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "median_itl_ms",
)


def _ints(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part in ("", "none", "inf", "0"):
            out.append(None)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not a concurrency: {part!r}")
    return out


def _rates(text: str) -> list[float]:
    out = []
    for part in text.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a rate: {part!r}") from None
        if not rate > 0:
            raise argparse.ArgumentTypeError(f"rates must be positive, got {part!r}")
        out.append(rate)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llm-bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _server_flags(p)
    _workload_flags(p)
    _load_flags(p)
    _output_flags(p)
    return p


def _server_flags(p: argparse.ArgumentParser) -> None:
    t = p.add_argument_group("server")
    t.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
    t.add_argument("--model", required=True, help="the served model name")
    t.add_argument("--tokenizer", help="tokenizer directory (default: --model if a directory)")
    t.add_argument(
        "--api-key", action="append", default=None,
        help="bearer key (default: $OPENAI_API_KEY); repeat for several keys, see --key-mix",
    )  # fmt: skip
    t.add_argument(
        "--key-mix", default=None, metavar="W1,W2,...",
        help="share of requests per --api-key, e.g. 10,1 (default: equal); reports per-key "
        "latency, 429s and Jain's fairness index",
    )  # fmt: skip
    t.add_argument("--chat", action="store_true", help="use /v1/chat/completions")
    t.add_argument(
        "--no-ignore-eos",
        dest="ignore_eos",
        action="store_false",
        help="let the model stop early (output lengths are then not exact)",
    )
    t.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    c = p.add_argument_group("compare")
    c.add_argument("--compare-url", help="a second server: every run also goes there, alternated")
    c.add_argument("--compare-model", help="its served model name (default: --model)")
    c.add_argument("--labels", default="server,reference", help="names of the two servers")
    c.add_argument("--rounds", type=int, default=1, help="repeats of each point per server")


def _workload_flags(p: argparse.ArgumentParser) -> None:
    w = p.add_argument_group("workload")
    w.add_argument("--input-len", type=int, default=128, help="prompt tokens (synthetic)")
    w.add_argument("--output-len", type=int, default=128, help="generated tokens")
    w.add_argument("--length-dist", choices=("fixed", "uniform", "normal"), default="fixed")
    w.add_argument(
        "--length-spread",
        type=float,
        default=0.25,
        help="uniform: lengths in len*(1 +- spread); normal: sd = len*spread",
    )
    w.add_argument(
        "--prompts", type=Path, help='JSONL file of {"prompt": ...} or {"messages": ...}'
    )
    w.add_argument(
        "--prefix-len",
        type=int,
        default=0,
        help="shared-prefix workload: tokens of prefix shared by requests, before --input-len",
    )
    w.add_argument("--num-prefixes", type=int, default=1, help="distinct shared prefixes")
    w.add_argument("--num-requests", type=int, default=100, help="measured requests per run")
    w.add_argument("--warmup", type=int, default=2, help="requests sent first, not counted")
    w.add_argument("--seed", type=int, default=0)


def _load_flags(p: argparse.ArgumentParser) -> None:
    lo = p.add_argument_group("load")
    lo.add_argument(
        "--concurrency",
        type=_ints,
        default=[None],
        help="max requests in flight; a comma list is a sweep (closed loop)",
    )
    lo.add_argument(
        "--rate",
        type=_rates,
        default=[math.inf],
        help="arrivals per second (open loop); a comma list is a sweep",
    )
    lo.add_argument(
        "--burstiness",
        type=float,
        default=1.0,
        help="gamma shape of the arrival gaps: 1 = Poisson, <1 burstier, >1 more regular",
    )
    lo.add_argument(
        "--slo", action="append", default=[], help="goodput SLO, e.g. ttft=500ms (repeatable)"
    )


def _output_flags(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--output", type=Path, help="FILE.json; FILE.csv and FILE-*.png beside it")
    o.add_argument("--no-plots", action="store_true")
    o.add_argument("--no-progress", action="store_true")


def _check(args: argparse.Namespace) -> None:
    for name in ("input_len", "output_len", "num_requests", "rounds"):
        if getattr(args, name) < 1:
            raise BenchError(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.prefix_len < 0 or args.num_prefixes < 1:
        raise BenchError("--warmup and --prefix-len must be >= 0, --num-prefixes >= 1")
    if not args.burstiness > 0:
        raise BenchError("--burstiness must be positive")
    if args.output and args.output.suffix != ".json":
        raise BenchError(f"--output must name a .json file, got {args.output}")
    if args.prompts and args.prefix_len:
        raise BenchError("--prompts and --prefix-len are different workloads; give one")
    try:
        args.mix = parse_mix(args.key_mix, max(len(args.api_key or []), 1))
    except ValueError as e:
        raise BenchError(str(e)) from None


def build_workload(args: argparse.Namespace, tok: Tokenizer | None) -> list[BenchRequest]:
    if args.prompts:
        return from_jsonl(args.prompts, tok, args.num_requests, args.output_len, args.chat)
    if tok is None:
        raise BenchError("synthetic prompts need --tokenizer DIR (the model's tokenizer)")
    return synthetic_requests(
        tok,
        args.num_requests,
        args.input_len,
        args.output_len,
        dist=args.length_dist,
        spread=args.length_spread,
        prefix_len=args.prefix_len,
        num_prefixes=args.num_prefixes,
        seed=args.seed,
        chat=args.chat,
    )


def preflight(target: Target) -> None:
    """Fail fast with one line when the server is down or does not serve the model."""
    try:
        r = httpx.get(
            target.base_url.rstrip("/") + "/v1/models", headers=target.headers(), timeout=10
        )
    except httpx.HTTPError as e:
        raise BenchError(f"cannot reach {target.base_url}: {e}") from e
    if r.status_code != 200:
        raise BenchError(f"{target.base_url}/v1/models answered {r.status_code}: {r.text[:200]}")
    ids = [m.get("id") for m in r.json().get("data", [])]
    if target.model not in ids:
        raise BenchError(f"{target.base_url} does not serve {target.model!r} (it serves {ids})")


def _short(load: Load) -> str:
    if math.isfinite(load.rate):
        return f"r{load.rate:g}"
    return f"c{load.concurrency}" if load.concurrency else "all"


def one_run(
    args: argparse.Namespace,
    target: Target,
    server: str,
    reqs: list[BenchRequest],
    load: Load,
    tok: Tokenizer | None,
    slos: dict[str, float],
) -> dict[str, Any]:
    results, duration = asyncio.run(
        run_load(
            target,
            reqs,
            load,
            tok=tok,
            warmup=args.warmup,
            seed=args.seed,
            timeout=args.timeout,
            progress=not args.no_progress,
            desc=f"{server} {load.label}",
        )
    )
    run: dict[str, Any] = {
        "date": time.strftime("%Y%m%d-%H%M%S"),
        "backend": "llm-bench",
        "server": server,
        "base_url": target.base_url,
        "endpoint": "/v1/chat/completions" if target.chat else "/v1/completions",
        "model_id": target.model,
        "tokenizer_id": args.tokenizer,
        "num_prompts": len(reqs),
        "request_rate": load.rate if math.isfinite(load.rate) else "inf",
        "burstiness": load.burstiness,
        "max_concurrency": load.concurrency,
        "load": load.label,
        "load_short": _short(load),
        **summarize(results, duration, slos),
        **per_request(results),
    }
    if len(args.mix) > 1:
        run.update(per_key(results, duration, args.mix, slos))
    return run


def ratios(runs: list[dict[str, Any]], ours: str, ref: str) -> list[dict[str, Any]]:
    """ours / ref per sweep point, the median over rounds."""
    import statistics

    out = []
    for load in dict.fromkeys(r["load"] for r in runs):
        mine = [r for r in runs if r["load"] == load and r["server"] == ours]
        theirs = [r for r in runs if r["load"] == load and r["server"] == ref]
        row: dict[str, Any] = {"load": load}
        for key in RATIO_KEYS:
            per = [a[key] / b[key] for a, b in zip(mine, theirs, strict=True) if b[key]]
            row[key] = round(statistics.median(per), 4) if per else None
        out.append(row)
    return out


def print_run(run: dict[str, Any]) -> None:
    fails = ", ".join(f"{k} {v}" for k, v in run["failures"].items()) or "none"
    good = run["request_goodput"]
    print(
        f"{run['server']:>10} {run['load']:<28} done {run['completed']:>4} "
        f"failed {run['failed']} ({fails})\n"
        f"{'':>10} output {run['output_throughput']:.1f} tok/s, "
        f"requests {run['request_throughput']:.3f}/s"
        + (f", goodput {good:.3f}/s" if good is not None else "")
        + f"\n{'':>10} TTFT ms mean/median/p90/p99 {run['mean_ttft_ms']:.1f} / "
        f"{run['median_ttft_ms']:.1f} / {run['p90_ttft_ms']:.1f} / {run['p99_ttft_ms']:.1f}; "
        f"TPOT median {run['median_tpot_ms']:.1f}; ITL median/p99 {run['median_itl_ms']:.1f} / "
        f"{run['p99_itl_ms']:.1f}; E2E median {run['median_e2el_ms']:.0f}",
        flush=True,
    )
    if "keys" in run:
        print_keys(run)


def print_ratios(rows: list[dict[str, Any]], ours: str, ref: str) -> None:
    print(f"\nratios {ours} / {ref} (median over rounds)")
    print(f"{'load':<28}" + "".join(f"{k:>20}" for k in RATIO_KEYS))
    for row in rows:
        cells = "".join(
            f"{row[k]:>20.3f}" if row[k] is not None else f"{'-':>20}" for k in RATIO_KEYS
        )
        print(f"{row['load']:<28}{cells}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _main(args)
    except BenchError as e:
        print(f"llm-bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llm-bench: interrupted; no result file written", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    _check(args)
    slos = dict(parse_slo(s) for s in args.slo)
    if args.tokenizer is None and Path(args.model).is_dir():
        args.tokenizer = args.model
    tok = load_tokenizer(args.tokenizer) if args.tokenizer else None
    keys = args.api_key or [k for k in [os.environ.get("OPENAI_API_KEY")] if k]
    common = {
        "chat": args.chat,
        "api_key": keys[0] if keys else None,
        "api_keys": tuple(keys) if len(keys) > 1 else (),
        "ignore_eos": args.ignore_eos,
    }
    labels = args.labels.split(",")
    targets = {labels[0]: Target(args.base_url, args.model, **common)}
    if args.compare_url:
        if len(labels) != 2 or labels[0] == labels[1]:
            raise BenchError("--labels needs two different names, e.g. ours,vllm")
        targets[labels[1]] = Target(args.compare_url, args.compare_model or args.model, **common)
    for target in targets.values():
        preflight(target)
    reqs = build_workload(args, tok)
    if len(keys) > 1:
        reqs = deal(reqs, args.mix)

    loads = [Load(c, r, args.burstiness) for c, r in itertools.product(args.concurrency, args.rate)]
    runs: list[dict[str, Any]] = []
    names = list(targets)
    step = 0
    for load in loads:
        for _ in range(args.rounds):
            order = names if step % 2 == 0 else names[::-1]
            step += 1
            for name in order:
                run = one_run(args, targets[name], name, reqs, load, tok, slos)
                print_run(run)
                runs.append(run)

    doc: dict[str, Any]
    if len(runs) == 1:
        doc = runs[0]
    else:
        doc = {"runs": runs}
    if len(names) == 2:
        doc["ratios"] = ratios(runs, names[0], names[1])
        print_ratios(doc["ratios"], names[0], names[1])
    if args.output:
        write_json(args.output, doc)
        write_csv(args.output.with_suffix(".csv"), runs)
        written = [args.output, args.output.with_suffix(".csv")]
        if not args.no_plots:
            written += plot(args.output.with_suffix(""), runs)
        print("wrote " + ", ".join(str(p) for p in written))
    return 0 if any(r["completed"] for r in runs) else 1


def run_json(args: list[str]) -> dict[str, Any]:
    """llm-bench in process, for the report scripts: no plots, no bar; its JSON document."""
    import json

    out = Path(args[args.index("--output") + 1])
    rc = main([*args, "--no-plots", "--no-progress"])
    if rc != 0:
        raise SystemExit(f"llm-bench exited {rc} for {args}")
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


if __name__ == "__main__":
    sys.exit(main())

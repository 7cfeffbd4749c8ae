"""What the default safety policy costs: llm-serve with it against llm-serve without it.

Same checkpoint, same engine flags, the same load (llm-bench, streaming completions, the same
seeded prompts every run), one server at a time: each is launched alone, warmed with one full
batch, then measured, in cycles of ON, OFF, OFF, ON so slow drift of the machine cancels within
a cycle. Two servers up at once are not measured alike: the one launched first spent 1.14-1.41x
the frontend CPU of the other on identical work in A/A runs, which is larger than what is being
measured. `--aa-check` runs the same cycles with no policy on either label, to show the noise
floor of this method. Reports throughput and TTFT ratios (on / off, median over pairs), the
paired per-request TTFT difference, SSE chunks per request (the stream guard merges held text
into the next chunk), the CPU time each server's API process (the frontend, not the engine
core) spent per 1,000 generated tokens, per run, per cycle and overall, and from the safety-on
servers' /metrics: the CPU time of the checks themselves (measured on the thread that runs them)
per check and per 1,000 tokens, and how much text the stream guard held back. The checks' own
CPU gives a second ratio, within each policy run (its frontend CPU over that less the checks'),
which the run-to-run noise of a shared machine does not reach.

    python -m benchmarks.safety_cost [--cycles 2] [--model DIR] [--aa-check]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks import cli
from benchmarks.bench_model import DEFAULT_MODEL, ROOT, ensure_bench_model
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.perf_report import paired_ttft_diff

ON, OFF = "safety-on", "safety-off"
CYCLE = (ON, OFF, OFF, ON)  # within a cycle a linear drift of the machine cancels
NO_POLICY = ["--safety-policy", "none"]
SUM = "llm_deploy_safety_filter_seconds_sum"  # CPU seconds of the checks, on their own thread


def scrape(base_url: str) -> dict[str, float]:
    """Filter latency and hold-back from the server's Prometheus text."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    vals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        for key in (
            'llm_deploy_safety_filter_seconds_sum{direction="output"}',
            'llm_deploy_safety_filter_seconds_count{direction="output"}',
            'llm_deploy_safety_filter_seconds_sum{direction="input"}',
            'llm_deploy_safety_filter_seconds_count{direction="input"}',
            "llm_deploy_safety_output_chunks_total",
            "llm_deploy_safety_held_char_chunks_total",
            "llm_deploy_safety_held_chars_sum",
            "llm_deploy_safety_held_chars_count",
        ):
            if name == key:
                vals[key] = float(value)
    return vals


def api_cpu_seconds(server: ServerProcess) -> float:
    """User + system CPU of the API-server process alone (the engine core is a child)."""
    assert server.proc is not None
    t = psutil.Process(server.proc.pid).cpu_times()
    return float(t.user + t.system)


def measure(
    args: argparse.Namespace, model: str, name: str, policy: list[str], raw: Path, i: int
) -> dict[str, Any]:
    """One server alone: launched, warmed with one full batch (not measured), then the timed
    load; its run, its frontend CPU per 1,000 generated tokens and its filter counters."""
    port = free_port()
    argv = llm_serve_argv(model, port, *args.server_args.split(), *policy)
    load = [
        "--model", model, "--tokenizer", model, "--input-len", str(args.input_len),
        "--output-len", str(args.output_len), "--concurrency", str(args.concurrency),
        "--warmup", "0",
    ]  # fmt: skip
    stem = raw / f"safety_cost_{i}_{name}"
    with ServerProcess(argv, port, stem.with_suffix(".log")) as server:
        url = ["--base-url", server.base_url]
        warm = raw / "safety_cost_warmup.json"
        cli.run_json([*url, *load, "--num-requests", str(args.concurrency), "--output", str(warm)])
        filt0 = scrape(server.base_url)
        cpu0 = api_cpu_seconds(server)
        run = cli.run_json(
            [*url, *load, "--num-requests", str(args.num_requests), "--output", f"{stem}.json"]
        )
        cpu = api_cpu_seconds(server) - cpu0
        filt = {k: v - filt0.get(k, 0.0) for k, v in scrape(server.base_url).items()}
    run["server"] = name
    tokens = max(run["total_output_tokens"], 1)
    per_1k = 1000 * 1000 * cpu / tokens  # ms
    guard = sum(filt.get(f'{SUM}{{direction="{d}"}}', 0.0) for d in ("input", "output"))
    guard_per_1k = 1000 * 1000 * guard / tokens
    print(f"{i}: {name} frontend CPU {per_1k:.1f} ms per 1,000 tokens, "
          f"{guard_per_1k:.1f} of them in the safety checks", flush=True)  # fmt: skip
    return {"run": run, "cpu_per_1k": per_1k, "guard_per_1k": guard_per_1k, "filter": filt}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--cycles", type=int, default=2, help="cycles of ON, OFF, OFF, ON")
    p.add_argument("--num-requests", type=int, default=96)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--server-args", default="--dtype bfloat16 --max-model-len 1024 --enforce-eager")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "safety_cost.json")
    p.add_argument(
        "--aa-check",
        action="store_true",
        help="the same cycles with no policy on either label: the method's noise floor",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cycles < 1:
        print("safety_cost: --cycles must be at least 1", file=sys.stderr)
        return 2
    model = ensure_bench_model(args.model)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    policy = {ON: NO_POLICY if args.aa_check else [], OFF: NO_POLICY}
    order = CYCLE * args.cycles
    results = [measure(args, model, name, policy[name], raw, i) for i, name in enumerate(order)]
    report = build_report(args, model, results)
    out = args.out.with_name("safety_cost_aa.json") if args.aa_check else args.out
    out.write_text(json.dumps(report, indent=2) + "\n")
    keys = ("ratios_on_over_off", "median_ttft_delta_ms", "paired_ttft_delta_ms",
            "chunks_per_request", "api_cpu_ms_per_1k_tokens", "api_cpu_ms_per_1k_tokens_by_run",
            "api_cpu_ratio_by_cycle", "api_cpu_ratio_on_over_off", "guard_cpu_ms_per_1k_tokens",
            "api_cpu_ratio_within_runs", "filter")  # fmt: skip
    print(json.dumps({k: report[k] for k in keys}, indent=2))
    return 0


def build_report(
    args: argparse.Namespace, model: str, results: list[dict[str, Any]]
) -> dict[str, Any]:
    """All runs as one report: latency ratios, CPU per run, per cycle and overall, the filter."""
    runs = [r["run"] for r in results]
    cpu = {k: [r["cpu_per_1k"] for r in results if r["run"]["server"] == k] for k in (ON, OFF)}
    # one ratio per cycle (its two ON runs over its two OFF runs), combined geometrically
    by_cycle = [statistics.mean(cpu[ON][c : c + 2]) / statistics.mean(cpu[OFF][c : c + 2])
                for c in range(0, len(cpu[ON]), 2)]  # fmt: skip
    on_results = [r for r in results if r["run"]["server"] == ON]
    guard = [r["guard_per_1k"] for r in on_results if r["filter"]]
    within = [r["cpu_per_1k"] / (r["cpu_per_1k"] - r["guard_per_1k"]) for r in on_results
              if r["filter"]]  # fmt: skip
    (row,) = cli.ratios(runs, ON, OFF)
    on_runs = [r for r in runs if r["server"] == ON]
    off_runs = [r for r in runs if r["server"] == OFF]
    ttft_delta = statistics.median(
        a["median_ttft_ms"] - b["median_ttft_ms"] for a, b in zip(on_runs, off_runs, strict=True)
    )
    chunks = {
        name: statistics.mean(len(gaps) + 1 for r in rr for gaps in r["itls"])
        for name, rr in ((ON, on_runs), (OFF, off_runs))
    }
    return {
        "model": model,
        "server_args": args.server_args,
        "method": "one server at a time, cycles of " + ", ".join(CYCLE),
        "aa_check": args.aa_check,
        "load": {
            "input_len": args.input_len,
            "output_len": args.output_len,
            "num_requests": args.num_requests,
            "concurrency": args.concurrency,
            "cycles": args.cycles,
        },
        "runs": [{k: r[k] for k in ("server", *cli.RATIO_KEYS, "completed")} for r in runs],
        "ratios_on_over_off": {k: row[k] for k in cli.RATIO_KEYS},
        "median_ttft_delta_ms": round(ttft_delta, 2),
        "paired_ttft_delta_ms": round(paired_ttft_diff(runs, row["load"], ON, OFF), 2),
        "chunks_per_request": {k: round(v, 2) for k, v in chunks.items()},
        "api_cpu_ms_per_1k_tokens": {k: round(statistics.mean(v), 1) for k, v in cpu.items()},
        "api_cpu_ms_per_1k_tokens_by_run": [
            [r["run"]["server"], round(r["cpu_per_1k"], 1)] for r in results
        ],
        "api_cpu_ratio_by_cycle": [round(r, 3) for r in by_cycle],
        "api_cpu_ratio_on_over_off": round(math.exp(statistics.mean(map(math.log, by_cycle))), 3),
        # the same ratio within each policy run: its frontend CPU over that CPU less the checks'
        # own (measured on their thread), free of the run-to-run noise of the machine
        "guard_cpu_ms_per_1k_tokens": round(statistics.mean(guard), 1) if guard else None,
        "api_cpu_ratio_within_runs": round(statistics.mean(within), 3) if within else None,
        "filter": filter_summary([r["filter"] for r in results if r["filter"]]),
    }


def filter_summary(scrapes: list[dict[str, float]]) -> dict[str, float]:
    """Time in the filter and hold-back, from the policy servers' counters summed over passes."""
    filt: dict[str, float] = {}
    for scraped in scrapes:
        for k, v in scraped.items():
            filt[k] = filt.get(k, 0.0) + v

    def mean(prefix: str, per: str | None = None) -> float:
        c = filt.get(per or prefix.replace("_sum", "_count"), 0.0)
        return filt.get(prefix, 0.0) / c if c else 0.0

    per_chunk = "llm_deploy_safety_output_chunks_total"
    out_s = 'llm_deploy_safety_filter_seconds_sum{direction="output"}'
    in_s = 'llm_deploy_safety_filter_seconds_sum{direction="input"}'
    return {
        "output_cpu_us_per_chunk": round(1e6 * mean(out_s, per_chunk), 1),
        "input_cpu_us_per_request": round(1e6 * mean(in_s), 1),
        "mean_held_chars_per_chunk": round(
            mean("llm_deploy_safety_held_char_chunks_total", per_chunk), 2
        ),
        "mean_most_held_chars_per_choice": round(mean("llm_deploy_safety_held_chars_sum"), 2),
    }


if __name__ == "__main__":
    sys.exit(main())

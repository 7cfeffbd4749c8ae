"""What the default safety policy costs: llm-serve with it against llm-serve without it.

Same checkpoint, same engine flags, both servers up at once, the same load through llm-bench's
compare mode (streaming completions, order alternating between rounds), in two passes: each
launches the other server first, since the one launched first costs more CPU on the same work
(`--launch-order-check` measures that with no policy on either). Reports throughput and
TTFT ratios (on / off), the paired per-request TTFT difference, SSE chunks per request (the
stream guard merges held text into the next chunk), the CPU time each server's API process
(the frontend, not the engine core) spent per 1,000 generated tokens, and from the safety-on
server's /metrics: time in the filter per check and how much text the stream guard held back.

    python -m benchmarks.safety_cost [--rounds 2] [--model DIR]
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


def one_pass(
    args: argparse.Namespace, model: str, first: str, raw: Path, policy: list[str]
) -> dict[str, Any]:
    """Both servers up, `first` launched first; the compare run; CPU per server; filter counters.
    `policy`: the ON server's policy flags (none: its default policy)."""
    flags = args.server_args.split()
    ports = {ON: free_port(), OFF: free_port()}
    argv = {
        ON: llm_serve_argv(model, ports[ON], *flags, *policy),
        OFF: llm_serve_argv(model, ports[OFF], *flags, "--safety-policy", "none"),
    }
    order = [first, OFF if first == ON else ON]
    out = raw / f"safety_cost_{first}_first.json"
    with (
        ServerProcess(argv[order[0]], ports[order[0]], raw / f"{order[0]}.log") as s0,
        ServerProcess(argv[order[1]], ports[order[1]], raw / f"{order[1]}.log") as s1,
    ):
        servers = dict(zip(order, (s0, s1), strict=True))
        cpu0 = {k: api_cpu_seconds(s) for k, s in servers.items()}
        cli.run_json([
            "--base-url", servers[ON].base_url, "--compare-url", servers[OFF].base_url,
            "--labels", f"{ON},{OFF}", "--model", model, "--tokenizer", model,
            "--input-len", str(args.input_len), "--output-len", str(args.output_len),
            "--num-requests", str(args.num_requests), "--concurrency", str(args.concurrency),
            "--warmup", str(args.concurrency), "--rounds", str(args.rounds),
            "--output", str(out),
        ])  # fmt: skip
        cpu = {k: api_cpu_seconds(s) - cpu0[k] for k, s in servers.items()}
        filt = scrape(servers[ON].base_url)
    runs = json.loads(out.read_text())["runs"]
    tokens = {k: sum(r["total_output_tokens"] for r in runs if r["server"] == k) for k in cpu}
    per_1k = {k: 1000 * 1000 * cpu[k] / max(tokens[k], 1) for k in cpu}  # ms
    return {"runs": runs, "cpu_per_1k": per_1k, "filter": filt}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--rounds", type=int, default=2, help="rounds per pass (two passes)")
    p.add_argument("--num-requests", type=int, default=96)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--server-args", default="--dtype bfloat16 --max-model-len 1024 --enforce-eager")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "safety_cost.json")
    p.add_argument(
        "--launch-order-check",
        action="store_true",
        help="one pass with no policy on either server: the launch-order factor alone",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    model = ensure_bench_model(args.model)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if args.launch_order_check:
        check = one_pass(args, model, ON, raw, ["--safety-policy", "none"])["cpu_per_1k"]
        ms = {k: round(v, 1) for k, v in check.items()}  # ON: the one launched first
        ratio = round(check[ON] / check[OFF], 3)
        print(json.dumps({"first launched / second": ratio, "api_cpu_ms_per_1k_tokens": ms}))
        return 0
    # The server launched first spends more frontend CPU on identical work (1.12-1.41x in A/A
    # runs of two policy-less servers, README), so each pass launches the other one first and
    # the CPU ratio is the geometric mean of the two passes: the launch-order factor cancels.
    passes = {first: one_pass(args, model, first, raw, []) for first in (ON, OFF)}
    report = build_report(args, model, passes)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    keys = ("ratios_on_over_off", "median_ttft_delta_ms", "paired_ttft_delta_ms",
            "chunks_per_request", "api_cpu_ms_per_1k_tokens", "api_cpu_ms_per_1k_tokens_by_pass",
            "api_cpu_ratio_by_pass", "api_cpu_ratio_on_over_off",
            "filter")  # fmt: skip
    print(json.dumps({k: report[k] for k in keys}, indent=2))
    return 0


def build_report(
    args: argparse.Namespace, model: str, passes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Both passes' runs as one report: latency ratios, CPU per pass and combined, the filter."""
    runs = [r for ps in passes.values() for r in ps["runs"]]
    pass_ratio = {f: ps["cpu_per_1k"][ON] / ps["cpu_per_1k"][OFF] for f, ps in passes.items()}
    cpu_per_1k = {
        k: statistics.mean(ps["cpu_per_1k"][k] for ps in passes.values()) for k in (ON, OFF)
    }
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
        "load": {
            "input_len": args.input_len,
            "output_len": args.output_len,
            "num_requests": args.num_requests,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
        },
        "runs": [{k: r[k] for k in ("server", *cli.RATIO_KEYS, "completed")} for r in runs],
        "ratios_on_over_off": {k: row[k] for k in cli.RATIO_KEYS},
        "median_ttft_delta_ms": round(ttft_delta, 2),
        "paired_ttft_delta_ms": round(paired_ttft_diff(runs, row["load"], ON, OFF), 2),
        "chunks_per_request": {k: round(v, 2) for k, v in chunks.items()},
        # warm-up requests (the same for both) are in the CPU time, not in the token counts
        "api_cpu_ms_per_1k_tokens": {k: round(v, 1) for k, v in cpu_per_1k.items()},
        "api_cpu_ratio_on_over_off": round(math.sqrt(math.prod(pass_ratio.values())), 3),
        "api_cpu_ratio_by_pass": {
            f"{f} launched first": round(r, 3) for f, r in pass_ratio.items()
        },
        "api_cpu_ms_per_1k_tokens_by_pass": {
            f"{f} launched first": {k: round(v, 1) for k, v in ps["cpu_per_1k"].items()}
            for f, ps in passes.items()
        },
        "filter": filter_summary([ps["filter"] for ps in passes.values()]),
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
        "output_mean_us_per_chunk": round(1e6 * mean(out_s, per_chunk), 1),
        "input_mean_us_per_request": round(1e6 * mean(in_s), 1),
        "mean_held_chars_per_chunk": round(
            mean("llm_deploy_safety_held_char_chunks_total", per_chunk), 2
        ),
        "mean_most_held_chars_per_choice": round(mean("llm_deploy_safety_held_chars_sum"), 2),
    }


if __name__ == "__main__":
    sys.exit(main())

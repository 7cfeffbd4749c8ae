"""What the default safety policy costs: llm-serve with it against llm-serve without it.

Same checkpoint, same engine flags, same load (vLLM's load tool, streaming completions); the
order alternates between rounds. Reports throughput and TTFT ratios (on / off), and from the
safety-on server's /metrics: time in the filter per check and how much text the stream guard
held back.

    python -m benchmarks.safety_cost [--rounds 2] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.compare_servers import (
    DEFAULT_MODEL,
    KEYS,
    ROOT,
    build_bench_model,
    ratios,
    run_load,
)
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv


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
            "llm_deploy_safety_held_chars_sum",
            "llm_deploy_safety_held_chars_count",
        ):
            if name == key:
                vals[key] = float(value)
    return vals


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--num-prompts", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--server-args", default="--dtype bfloat16 --max-model-len 1024 --enforce-eager")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "safety_cost.json")
    args = p.parse_args(argv)
    if not (args.model / "config.json").exists():
        build_bench_model(args.model)
    model = str(args.model)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    flags = args.server_args.split()
    variants = {"safety-on": [], "safety-off": ["--safety-policy", "none"]}
    rounds: list[dict[str, dict[str, Any]]] = []
    filt: dict[str, float] = {}
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        results: dict[str, dict[str, Any]] = {}
        for name in order:
            port = free_port()
            argv_ = llm_serve_argv(model, port, *flags, *variants[name])
            with ServerProcess(argv_, port, raw / f"{name}.log") as srv:
                t0 = time.time()
                res = run_load(srv.base_url, model, args, raw / f"{name}-round{r}.json")
                results[name] = {k: res.get(k) for k in KEYS}
                if name == "safety-on":
                    for k, v in scrape(srv.base_url).items():
                        filt[k] = filt.get(k, 0.0) + v
                print(f"round {r} {name}: {results[name]} ({time.time() - t0:.0f} s)", flush=True)
        rounds.append(results)

    summary = ratios(rounds, "safety-on", "safety-off")
    ttft_delta = statistics.median(
        float(rr["safety-on"]["median_ttft_ms"]) - float(rr["safety-off"]["median_ttft_ms"])
        for rr in rounds
    )

    def mean(prefix: str) -> float:
        c = filt.get(prefix.replace("_sum", "_count"), 0.0)
        return filt.get(prefix, 0.0) / c if c else 0.0

    report = {
        "model": model,
        "server_args": args.server_args,
        "load": {
            "input_len": args.input_len,
            "output_len": args.output_len,
            "num_prompts": args.num_prompts,
            "concurrency": args.concurrency,
        },
        "rounds": rounds,
        "ratios_on_over_off": summary,
        "median_ttft_delta_ms": round(ttft_delta, 2),
        "filter": {
            "output_mean_us_per_chunk": round(
                1e6 * mean('llm_deploy_safety_filter_seconds_sum{direction="output"}'), 1
            ),
            "input_mean_us_per_request": round(
                1e6 * mean('llm_deploy_safety_filter_seconds_sum{direction="input"}'), 1
            ),
            "mean_held_chars_per_chunk": round(mean("llm_deploy_safety_held_chars_sum"), 2),
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("ratios_on_over_off", "median_ttft_delta_ms",
                                             "filter")}, indent=2))  # fmt: skip
    ok = summary["output_throughput"]["median"] >= 0.97 and ttft_delta <= 5.0
    print(f"targets (throughput >= 0.97x, median TTFT <= +5 ms): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

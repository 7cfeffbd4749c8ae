"""`make bench`: llm-serve against vLLM's own OpenAI server on the ~80M Llama, with llm-bench.

Both servers run at once on the same checkpoint and engine flags (an idle vLLM server uses no
CPU); every sweep point is run on both, alternating which goes first. Then a trust check (the
same load on one server through llm-bench and through `vllm.benchmarks.serve`, alternated), and
the machine's bounds: measured memory read bandwidth and matmul rate, against the decode rate.
Writes benchmarks/results/perf*.{json,csv,png} and the README table between perf-table markers.

    python -m benchmarks.perf_report [--quick] [--render-only | --profile-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks import cli, profile_frontend
from benchmarks.bench_model import DEFAULT_MODEL, count_parameters, ensure_bench_model
from benchmarks.launch import both_servers
from benchmarks.report import plot, write_csv, write_json
from benchmarks.results import FLAGS, OURS, REF, RESULTS, ROOT, update_readme

# concurrency -> measured requests: enough for two waves at low concurrency, one at 64
CONCURRENCY = {1: 6, 4: 16, 16: 32, 64: 64}
RATES = {0.25: 24, 0.5: 24, 1.0: 32}


def sweep(
    ours: str,
    ref: str,
    model: str,
    io: tuple[int, int],
    raw: Path,
    rounds: int,
    concurrency: dict[int, int],
    rates: dict[float, int],
) -> list[dict[str, Any]]:
    base = [
        "--base-url",
        ours,
        "--compare-url",
        ref,
        "--labels",
        f"{OURS},{REF}",
        "--model",
        model,
        "--tokenizer",
        model,
        "--input-len",
        str(io[0]),
        "--output-len",
        str(io[1]),
    ]
    runs: list[dict[str, Any]] = []
    for c, n in concurrency.items():
        doc = cli.run_json(
            [
                *base,
                "--concurrency",
                str(c),
                "--warmup",  # a full batch: the batch shapes are warm before the clock starts
                str(max(2, c)),
                "--num-requests",
                str(n),
                "--rounds",
                str(rounds),
                "--output",
                str(raw / f"perf-c{c}.json"),
            ]
        )
        runs += doc["runs"]
    for rate, n in rates.items():
        doc = cli.run_json(
            [
                *base,
                "--warmup",
                "2",
                "--rate",
                str(rate),
                "--num-requests",
                str(n),
                "--output",
                str(raw / f"perf-r{rate:g}.json"),
            ]
        )
        runs += doc["runs"]
    return runs


def trust(url: str, model: str, io: tuple[int, int], raw: Path, rounds: int) -> dict[str, Any]:
    """Same server, same load: llm-bench against vLLM's own load tool, alternated."""
    conc, n = 16, 64
    pairs = []
    for r in range(rounds):
        order = ["llm-bench", "vllm-bench"] if r % 2 == 0 else ["vllm-bench", "llm-bench"]
        got: dict[str, dict[str, Any]] = {}
        for tool in order:
            out = raw / f"trust-{tool}-{r}.json"
            run = _llm_bench if tool == "llm-bench" else _vllm_bench
            got[tool] = run(url, model, io, n, conc, r, out)
            print(
                f"trust round {r} {tool}: output {got[tool]['output_throughput']:.1f} tok/s, "
                f"median TTFT {got[tool]['median_ttft_ms']:.0f} ms",
                flush=True,
            )
        pairs.append(got)
    keys = ("output_throughput", "median_ttft_ms", "median_tpot_ms")
    return {
        "load": {"concurrency": conc, "num_requests": n, "input_len": io[0], "output_len": io[1]},
        "rounds": [{t: {k: p[t][k] for k in keys} for t in p} for p in pairs],
        "ratio_llm_bench_over_vllm_bench": {
            k: round(statistics.median(p["llm-bench"][k] / p["vllm-bench"][k] for p in pairs), 4)
            for k in keys
        },
    }


def _llm_bench(
    url: str, model: str, io: tuple[int, int], n: int, conc: int, _seed: int, out: Path
) -> dict[str, Any]:
    return cli.run_json(
        ["--base-url", url, "--model", model, "--tokenizer", model,
         "--input-len", str(io[0]), "--output-len", str(io[1]), "--num-requests", str(n),
         "--concurrency", str(conc), "--warmup", "1", "--output", str(out)]
    )  # fmt: skip


def _vllm_bench(
    url: str, model: str, io: tuple[int, int], n: int, conc: int, seed: int, out: Path
) -> dict[str, Any]:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "benchmarks.vllm_bench", "--backend", "openai", "--base-url", url,
         "--endpoint", "/v1/completions", "--model", model, "--tokenizer", model,
         "--dataset-name", "random", "--random-input-len", str(io[0]),
         "--random-output-len", str(io[1]), "--num-prompts", str(n),
         "--max-concurrency", str(conc), "--ignore-eos", "--seed", str(seed), "--save-result",
         "--result-dir", str(out.parent), "--result-filename", out.name],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def machine_bounds() -> dict[str, float]:
    """Measured memory read bandwidth (GB/s) and bf16 / fp32 matmul rates (GFLOP/s), all cores
    (the same measurements as benchmarks.roofline, which also takes the engine's threads)."""
    import torch

    from benchmarks.roofline import bandwidth_gb_s, matmul_gflop_s

    cores = os.cpu_count() or 1
    return {
        "read_bandwidth_gb_s": round(bandwidth_gb_s(cores), 1),
        "matmul_bf16_gflop_s": round(matmul_gflop_s(cores, torch.bfloat16), 1),
        "matmul_fp32_gflop_s": round(matmul_gflop_s(cores, torch.float32), 1),
    }


def analyse(runs: list[dict[str, Any]], params: int, bounds: dict[str, float]) -> dict[str, Any]:
    """Decode rate at concurrency 1 against the bandwidth and compute limits of this machine."""
    c1 = [r for r in runs if r["max_concurrency"] == 1 and r["request_rate"] == "inf"]
    tpot = statistics.median(r["median_tpot_ms"] for r in c1) / 1000
    weight_bytes = params * 2  # bf16
    bw_limit = bounds["read_bandwidth_gb_s"] * 1e9 / weight_bytes  # tokens/s, one sequence
    compute_limit = bounds["matmul_bf16_gflop_s"] * 1e9 / (2 * params)  # tokens/s, any batch
    best = max(r["output_throughput"] for r in runs)
    return {
        "weights_bytes": weight_bytes,
        "decode_tokens_per_s_c1": round(1 / tpot, 1),
        "bandwidth_limit_tokens_per_s_c1": round(bw_limit, 1),
        "fraction_of_bandwidth_limit_c1": round((1 / tpot) / bw_limit, 4),
        "compute_limit_tokens_per_s": round(compute_limit, 1),
        "best_output_throughput": round(best, 1),
        "fraction_of_compute_limit_best": round(best / compute_limit, 4),
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Model: Llama {report['parameters'] / 1e6:.1f}M parameters (bf16), "
        f"{report['io'][0]} prompt / {report['io'][1]} output tokens, engine flags "
        f"`{report['server_args']}`, both servers up at once, each point run on both in "
        f"alternating order ({report['rounds']} rounds for the concurrency sweep).",
        "",
        "| load | llm-serve tok/s | vLLM tok/s | throughput ratio | median TTFT ratio "
        "| p99 TTFT ratio | median TPOT ratio | median ITL ratio | paired TTFT diff (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["ratios"]:
        tp = {
            s: statistics.median(
                r["output_throughput"]
                for r in report["runs"]
                if r["load"] == row["load"] and r["server"] == s
            )
            for s in (OURS, REF)
        }
        lines.append(
            f"| {row['load']} | {tp[OURS]:.1f} | {tp[REF]:.1f} | {row['output_throughput']:.3f} "
            f"| {row['median_ttft_ms']:.3f} | {row['p99_ttft_ms']:.3f} "
            f"| {row['median_tpot_ms']:.3f} | {row['median_itl_ms']:.3f} "
            f"| {paired_ttft_diff(report['runs'], row['load']):+.0f} |"
        )
    t = report["trust"]["ratio_llm_bench_over_vllm_bench"]
    a = report["analysis"]
    b = report["machine"]
    lines += [
        "",
        f"Trust check (llm-serve, concurrency {report['trust']['load']['concurrency']}, "
        f"same load through both tools, alternated): llm-bench / `vllm.benchmarks.serve` = "
        f"{t['output_throughput']:.3f} on output throughput, {t['median_ttft_ms']:.3f} on "
        f"median TTFT, {t['median_tpot_ms']:.3f} on median TPOT.",
        "",
        f"Bounds: this machine read {b['read_bandwidth_gb_s']} GB/s and multiplied bf16 at "
        f"{b['matmul_bf16_gflop_s']} GFLOP/s (fp32 {b['matmul_fp32_gflop_s']}). One sequence "
        f"decodes at {a['decode_tokens_per_s_c1']} tok/s, "
        f"{100 * a['fraction_of_bandwidth_limit_c1']:.1f}% of the "
        f"{a['bandwidth_limit_tokens_per_s_c1']} tok/s that reading "
        f"{a['weights_bytes'] / 1e6:.0f} MB of weights per token allows; the best throughput, "
        f"{a['best_output_throughput']} tok/s, is {100 * a['fraction_of_compute_limit_best']:.1f}% "
        f"of the {a['compute_limit_tokens_per_s']} tok/s that 2 x params FLOPs per token at the "
        f"measured bf16 matmul rate allows.",
    ]
    if "frontend_profile" in report:
        lines += ["", *render_profile(report["frontend_profile"])]
    if "request_overhead" in report:
        o = report["request_overhead"]
        lines += [
            "",
            f'Per-request cost (40 one-token requests on the prompt "Hi", one at a time, 2 '
            f"rounds): median end-to-end {o[f'{OURS}_median_e2el_ms']} ms on llm-serve, "
            f"{o[f'{REF}_median_e2el_ms']} ms on vLLM's server ({o['difference_ms']:+.2f} ms).",
        ]
    lines += ["", "![throughput against latency](benchmarks/results/perf-latency.png)"]
    return "\n".join(lines)


def paired_ttft_diff(
    runs: list[dict[str, Any]], load: str, ours: str = OURS, ref: str = REF
) -> float:
    """Median over requests of (ours - theirs) TTFT in ms, request i against request i.

    Both servers get the same prompts (and, open loop, the same arrival times), so pairing
    removes what the aggregate median cannot: at low load the TTFT distribution has two modes
    (alone, or queued behind another prefill) and the median jumps between them."""
    diffs = []
    mine = [r for r in runs if r["load"] == load and r["server"] == ours]
    theirs = [r for r in runs if r["load"] == load and r["server"] == ref]
    for a, b in zip(mine, theirs, strict=True):
        for x, y in zip(a["ttfts"], b["ttfts"], strict=True):
            if x is not None and y is not None:
                diffs.append(1000 * (x - y))
    return statistics.median(diffs) if diffs else float("nan")


def render_profile(prof: dict[str, dict[str, Any]]) -> list[str]:
    owners = sorted({o for p in prof.values() for o in p["by_owner"]})
    lines = [
        "Frontend profile (py-spy on the API-server process, same load on each server: "
        "concurrency 16, 32 requests, 128 / 64 tokens):",
        "",
        "| server | output tok/s | frontend CPU s | share of one core | CPU ms per 1k tokens | "
        + " | ".join(owners)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(owners),
    ]
    for name, p in prof.items():
        shares = " | ".join(f"{100 * p['by_owner'].get(o, 0):.0f}%" for o in owners)
        lines.append(
            f"| {name} | {p['output_throughput']:.1f} | {p['frontend_cpu_s']} "
            f"| {p['frontend_cpu_share_of_one_core']:.2f} | {p['frontend_cpu_ms_per_1k_tokens']} "
            f"| {shares} |"
        )
    return lines


def profile_only(model: str, flags: list[str], raw: Path, out: Path) -> int:
    """Profile both frontends and merge the result into the saved report and the README."""
    with both_servers(model, flags, raw, "prof") as (ours, ref):
        prof, overhead = profile_frontend.compare_servers(ours, ref, model, raw)
    if out.exists():
        report = json.loads(out.read_text())
        report["frontend_profile"] = prof
        report["request_overhead"] = overhead
        out.write_text(json.dumps(report, indent=2))
        update_readme(render(report))
    print(json.dumps(prof, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--rounds", type=int, default=2, help="rounds of the concurrency sweep")
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--render-only", action="store_true", help="README from the saved JSON")
    p.add_argument(
        "--profile-only",
        action="store_true",
        help="only the frontend profile and request overhead, merged into the saved JSON",
    )
    p.add_argument("--quick", action="store_true", help="a few requests per point (smoke run)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--server-args", default=FLAGS, help="engine flags given to both servers")
    args = p.parse_args(argv)
    out = args.out_dir / "perf.json"
    if args.render_only:
        update_readme(render(json.loads(out.read_text())))
        return 0
    model = ensure_bench_model(args.model)
    raw = args.out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    io = (args.input_len, args.output_len)
    if args.profile_only:
        return profile_only(model, args.server_args.split(), raw, out)
    with both_servers(model, args.server_args.split(), raw, "perf") as (ours, ref):
        conc, rates = ({1: 2, 4: 4}, {2.0: 4}) if args.quick else (CONCURRENCY, RATES)
        runs = sweep(ours.base_url, ref.base_url, model, io, raw, args.rounds, conc, rates)
        trusted = trust(ours.base_url, model, io, raw, 1 if args.quick else 2)
        frontend, overhead = profile_frontend.compare_servers(ours, ref, model, raw)
    params = count_parameters(args.model)
    bounds = machine_bounds()
    report = {
        "model": model,
        "parameters": params,
        "server_args": args.server_args,
        "io": list(io),
        "rounds": args.rounds,
        "ratios": cli.ratios(runs, OURS, REF),
        "trust": trusted,
        "machine": bounds,
        "analysis": analyse(runs, params, bounds),
        "frontend_profile": frontend,
        "request_overhead": overhead,
        "runs": runs,
    }
    write_json(out, report)
    write_csv(out.with_suffix(".csv"), runs)
    plot(out.with_suffix(""), runs)
    if not args.no_readme:
        update_readme(render(report))
    else:
        print(render(report))
    cli.print_ratios(report["ratios"], OURS, REF)
    print(json.dumps({k: report[k] for k in ("trust", "machine", "analysis")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

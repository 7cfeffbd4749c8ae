"""Distance to the machine's limits: how fast this machine could serve a model, and how fast
llm-serve does (`make bench`, `python -m benchmarks.roofline`).

Machine: memory read bandwidth (torch summing a 256 MiB buffer) and matmul rate (square GEMMs
in the serving dtype), each with the engine's OpenMP threads (vLLM on CPU leaves one core to
the frontend) and with every core. Model: the bytes of weights one decode step reads (every
matrix once, the LM head included; an embedding lookup reads one row) and the FLOPs one token
costs (2 per weight of those matrices; attention over a 224-token context adds a few % for these
models and is left out). Bounds: batch-1 decode cannot beat bandwidth / bytes per step; a large
batch cannot beat matmul rate / FLOPs per token. Measured, with 96-token prompts and 128-token
outputs (the default model has 256 positions): llm-serve's batch-1 decode rate (1000 / median
ITL at concurrency 1) and its token rate (prompt + output tokens per second) at concurrency 32,
in the configuration `make serve` uses (`.cache/tuned.mk` when `make tune` wrote one).

    python -m benchmarks.roofline [--model DIR ...] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import cli
from benchmarks.bench_model import DEFAULT_MODEL, ROOT, ensure_bench_model
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.results import update_readme
from benchmarks.tune import TUNED_MK, read_tuned

RESULTS = ROOT / "benchmarks" / "results"
SERVE_MODEL = ROOT / "models" / "default"


def best_seconds(fn: Any, repeats: int = 5) -> float:
    fn()  # warm: page faults, thread pool start
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bandwidth_gb_s(threads: int, mib: int = 256) -> float:
    """Read bandwidth: summing a buffer well past the caches, as a decode step reads weights."""
    torch.set_num_threads(threads)
    x = torch.ones(mib * 2**20 // 4, dtype=torch.float32)
    return x.numel() * 4 / best_seconds(x.sum) / 1e9


def matmul_gflop_s(threads: int, dtype: torch.dtype, n: int = 2048) -> float:
    torch.set_num_threads(threads)
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    return 2 * n**3 / best_seconds(lambda: torch.mm(a, b), 3) / 1e9


def weight_costs(model: Path, dtype_bytes: int) -> dict[str, float]:
    """Bytes of weights a decode step reads and FLOPs per token, from the checkpoint's shapes."""
    from safetensors import safe_open

    cfg = json.loads((model / "config.json").read_text())
    matrices = embed = vectors = 0
    has_head = False
    with safe_open(str(model / "model.safetensors"), "pt") as f:
        for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            shape = f.get_slice(key).get_shape()
            n = 1
            for d in shape:
                n *= d
            if "embed_tokens" in key:
                embed = n
            elif len(shape) == 2:
                matrices += n
                has_head = has_head or "lm_head" in key
            else:
                vectors += n
    if not has_head:  # tied: the head reads the embedding matrix
        matrices += embed
    hidden = int(cfg["hidden_size"])
    return {
        "parameters": matrices + vectors + (embed if has_head else 0),
        "bytes_per_step": (matrices + vectors + hidden) * dtype_bytes,
        "flops_per_token": 2.0 * matrices,
    }


def served(
    model: str, flags: list[str], env: dict[str, str], raw: Path, reuse: bool
) -> dict[str, float]:
    """llm-serve's batch-1 decode rate and its token rate at concurrency 32 (the saved runs when
    `reuse` and they exist)."""
    name = Path(model).name
    runs = {c: raw / f"roofline_{name}_c{c}.json" for c in (1, 32)}
    if not (reuse and all(p.is_file() for p in runs.values())):
        port = free_port()
        argv = llm_serve_argv(model, port, *flags)
        log = raw / f"roofline_{name}.log"
        with ServerProcess(argv, port, log, env=env, startup_timeout=900) as s:
            common = ["--base-url", s.base_url, "--model", model, "--tokenizer", model,
                      "--input-len", "96", "--output-len", "128", "--warmup", "2"]  # fmt: skip
            for c, n in ((1, 6), (32, 96)):
                cli.run_json([*common, "--num-requests", str(n), "--concurrency", str(c),
                              "--output", str(runs[c])])  # fmt: skip
    one, many = (json.loads(runs[c].read_text()) for c in (1, 32))
    # TPOT, not ITL: a fast model's chunks arrive several to a read, so most gaps measure 0
    return {
        "decode_tok_s": 1000.0 / one["median_tpot_ms"],
        "batch_tok_s": many["total_token_throughput"],
    }


def machine(engine_threads: int, dtype: torch.dtype) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {"cores": cores, "engine_threads": engine_threads, "dtype": str(dtype)}
    for label, n in (("engine", engine_threads), ("all", cores)):
        out[f"bandwidth_gb_s_{label}"] = round(bandwidth_gb_s(n), 1)
        out[f"matmul_gflop_s_{label}"] = round(matmul_gflop_s(n, dtype), 1)
    return out


def row(
    model: Path, mach: dict[str, Any], dtype_bytes: int, got: dict[str, float]
) -> dict[str, Any]:
    cost = weight_costs(model, dtype_bytes)
    bw = mach["bandwidth_gb_s_engine"] * 1e9
    mm = mach["matmul_gflop_s_engine"] * 1e9
    decode_bound = bw / cost["bytes_per_step"]
    batch_bound = mm / cost["flops_per_token"]
    return {
        "model": model.name,
        **{k: round(v) for k, v in cost.items()},
        "decode_bound_tok_s": round(decode_bound, 1),
        "decode_measured_tok_s": round(got["decode_tok_s"], 1),
        "decode_share": round(got["decode_tok_s"] / decode_bound, 3),
        "batch_bound_tok_s": round(batch_bound, 1),
        "batch_measured_tok_s": round(got["batch_tok_s"], 1),
        "batch_share": round(got["batch_tok_s"] / batch_bound, 3),
    }


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"Machine: {m['cores']} cores; with the engine's {m['engine_threads']} OpenMP "
        f"thread(s) / all cores: read bandwidth {m['bandwidth_gb_s_engine']} / "
        f"{m['bandwidth_gb_s_all']} GB/s, {m['dtype'].removeprefix('torch.')} GEMM "
        f"{m['matmul_gflop_s_engine']} / {m['matmul_gflop_s_all']} GFLOP/s. Server flags: "
        f"`{report['server_args'] or '(defaults)'}`. Bounds use the engine's threads.",
        "",
        "| model | parameters | weight MB read per step | batch-1 decode bound tok/s | "
        "llm-serve batch-1 tok/s | share | large-batch bound tok/s | llm-serve at c=32 tok/s "
        "| share |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['model']} | {r['parameters'] / 1e6:.1f}M | {r['bytes_per_step'] / 1e6:.1f} | "
            f"{r['decode_bound_tok_s']:.0f} | {r['decode_measured_tok_s']:.0f} | "
            f"{r['decode_share']:.1%} | {r['batch_bound_tok_s']:.0f} | "
            f"{r['batch_measured_tok_s']:.0f} | {r['batch_share']:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, action="append", help="default: both models")
    p.add_argument("--out", type=Path, default=RESULTS / "roofline.json")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--reuse-runs", action="store_true", help="the saved llm-bench runs, if any")
    args = p.parse_args(argv)
    models = args.model or [SERVE_MODEL, Path(ensure_bench_model(DEFAULT_MODEL))]
    for m in models:
        if not (m / "model.safetensors").is_file():
            print(f"roofline: no single-file safetensors checkpoint in {m}", file=sys.stderr)
            return 2
    flags, env = read_tuned(TUNED_MK)
    cores = os.cpu_count() or 1
    reserved = 0 if env.get("VLLM_CPU_NUM_OF_RESERVED_CPU") == "0" else 1  # vLLM's default
    threads = max(cores - reserved, 1)
    bf16 = "--dtype" not in flags or flags[flags.index("--dtype") + 1] != "float32"
    mach = machine(threads, torch.bfloat16 if bf16 else torch.float32)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rows = [
        row(m, mach, 2 if bf16 else 4, served(str(m), flags, env, raw, args.reuse_runs))
        for m in models
    ]
    report = {"machine": mach, "server_args": " ".join(flags), "env": env, "rows": rows}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    table = render(report)
    print(table)
    if not args.no_readme:
        update_readme(table, "roofline-table")
    return 0


if __name__ == "__main__":
    sys.exit(main())

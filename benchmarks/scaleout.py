"""Frontend scale-out (issue 17): `llm-serve --api-servers N` for N = 1, 2 on a tiny model at high
concurrency, so that the API processes, not the engine, are the bottleneck. Per N: output
throughput, the API processes' CPU per 1,000 generated tokens and their CPU use (cores busy:
1.0 is one process saturated), and the engine core's.

    python -m benchmarks.scaleout [--servers 1 2] [--concurrency 64] [--num-requests 512]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import cli
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.results import RESULTS, ROOT, update_readme

MODEL = ROOT / ".cache" / "frontend-llama-tiny"
FLAGS = "--dtype bfloat16 --max-model-len 512 --max-num-seqs 128 --max-queued-requests 1024"


def ensure_model(path: Path) -> str:
    """Two layers of width 64: an engine step costs little next to the frontend's work."""
    if not (path / "config.json").exists():
        from train.init_checkpoint import LlamaShape, make_checkpoint

        shape = LlamaShape(
            hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1,
            intermediate_size=128, max_position_embeddings=1024,
        )  # fmt: skip
        make_checkpoint(path, shape, vocab_size=8000, corpus_files=300)
    return str(path)


def processes(server: ServerProcess) -> dict[str, list[psutil.Process]]:
    """The server's API processes (the launcher itself when N = 1) and its engine (the core
    process and the worker that runs the model)."""
    assert server.proc is not None
    root = psutil.Process(server.proc.pid)
    kids = root.children(recursive=True)
    titled = {p: " ".join(p.cmdline()) for p in kids}
    api = [p for p, t in titled.items() if "APIServer" in t] or [root]
    engine = [p for p, t in titled.items() if "EngineCore" in t or "VLLM::Worker" in t]
    return {"api": api, "engine": engine}


def cpu(procs: list[psutil.Process]) -> float:
    return sum(float(t.user + t.system) for t in (p.cpu_times() for p in procs))


def measure(n: int, args: argparse.Namespace, model: str) -> dict[str, Any]:
    port = free_port()
    argv = llm_serve_argv(model, port, *FLAGS.split(), "--api-servers", str(n), *args.extra)
    load = [
        "--model", model, "--tokenizer", model, "--input-len", "16",
        "--output-len", str(args.output_len), "--concurrency", str(args.concurrency),
        "--warmup", "0",
    ]  # fmt: skip
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    with ServerProcess(argv, port, raw / f"scaleout_{n}.log", startup_timeout=600) as server:
        url = ["--base-url", server.base_url]
        cli.run_json([*url, *load, "--num-requests", str(args.concurrency),
                      "--output", str(raw / "scaleout_warmup.json")])  # fmt: skip
        procs = processes(server)
        procs["client"] = [psutil.Process()]  # this process: llm-bench's load
        api0, eng0, t0 = cpu(procs["api"]), cpu(procs["engine"]), time.monotonic()
        client0 = cpu(procs["client"])
        run = cli.run_json([*url, *load, "--num-requests", str(args.num_requests),
                            "--output", str(raw / f"scaleout_{n}.json")])  # fmt: skip
        wall = time.monotonic() - t0
        api, eng = cpu(procs["api"]) - api0, cpu(procs["engine"]) - eng0
        client = cpu(procs["client"]) - client0
    tokens = max(int(run["total_output_tokens"]), 1)
    api_per_1k = 1e6 * api / tokens  # ms of API-process CPU per 1,000 tokens
    row = {
        "api_servers": n,
        "api_processes_seen": len(procs["api"]),
        "output_tok_s": run["output_throughput"],
        "api_cpu_ms_per_1k_tokens": api_per_1k,
        "api_cores_busy": api / wall,
        "engine_cpu_ms_per_1k_tokens": 1e6 * eng / tokens,
        "engine_cores_busy": eng / wall,
        "client_cores_busy": client / wall,
        # what the API processes could serve if each had a whole core at this CPU per token
        "api_ceiling_tok_s": n * 1e6 / max(api_per_1k, 1e-9),
        "median_ttft_ms": run["median_ttft_ms"],
        "median_itl_ms": run["median_itl_ms"],
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| API processes | output tok/s | API CPU ms / 1,000 tokens | API cores busy | "
            "ceiling at one core each (tok/s) | engine CPU ms / 1,000 tokens | engine cores busy "
            "| load generator cores busy | median TTFT (ms) |\n"
            "|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [
        f"| {r['api_servers']} | {r['output_tok_s']:.0f} | {r['api_cpu_ms_per_1k_tokens']:.0f} | "
        f"{r['api_cores_busy']:.2f} | {r['api_ceiling_tok_s']:,.0f} | "
        f"{r['engine_cpu_ms_per_1k_tokens']:.0f} | {r['engine_cores_busy']:.2f} | "
        f"{r['client_cores_busy']:.2f} | {r['median_ttft_ms']:.0f} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaleout", description=__doc__)
    p.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--num-requests", type=int, default=512)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--out", type=Path, default=RESULTS / "scaleout.json")
    p.add_argument("--extra", nargs="*", default=[], help="more llm-serve flags")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--render-only", action="store_true", help="README from the saved JSON")
    args = p.parse_args(argv)
    if args.render_only:
        rows = json.loads(args.out.read_text())["rows"]
    else:
        model = ensure_model(args.model)
        rows = [measure(n, args, model) for n in args.servers]
        args.out.write_text(json.dumps({"flags": FLAGS, "rows": rows}, indent=2) + "\n")
    print(table(rows))
    if not args.no_readme:
        update_readme(table(rows), marker="scaleout-table")
    return 0


if __name__ == "__main__":
    sys.exit(main())

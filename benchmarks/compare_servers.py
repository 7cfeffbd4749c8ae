"""llm-serve against vLLM's own OpenAI server: same checkpoint, same flags, same load.

Each round starts one server, drives it with vLLM's load tool, stops it, then does the other;
the order alternates between rounds so drift on a noisy machine hits both. Figures are reported
as ratios (ours / vLLM's) per round and as the median over rounds.

    python -m benchmarks.compare_servers [--rounds 2] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv, vllm_serve_argv

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / ".cache" / "bench-llama-80m"
KEYS = (
    "output_throughput",
    "request_throughput",
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "median_itl_ms",
    "completed",
)


def build_bench_model(out: Path) -> Path:
    """The ~80M Llama of the serving benchmark: hidden 768, 12 layers, GQA 12/4, bf16."""
    from train.init_checkpoint import LlamaShape, make_checkpoint

    shape = LlamaShape(
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        num_kv_heads=4,
        intermediate_size=2048,
        max_position_embeddings=2048,
    )
    return make_checkpoint(out, shape, vocab_size=8000, corpus_files=300)


def _prod(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def run_load(base_url: str, model: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import subprocess

    cmd = [
        sys.executable,
        "-m",
        "benchmarks.vllm_bench",
        "--backend",
        "openai",
        "--base-url",
        base_url,
        "--endpoint",
        "/v1/completions",
        "--model",
        model,
        "--tokenizer",
        model,
        "--dataset-name",
        "random",
        "--random-input-len",
        str(args.input_len),
        "--random-output-len",
        str(args.output_len),
        "--num-prompts",
        str(args.num_prompts),
        "--max-concurrency",
        str(args.concurrency),
        "--ignore-eos",
        "--seed",
        "0",
        "--save-result",
        "--result-dir",
        str(out.parent),
        "--result-filename",
        out.name,
    ]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--num-prompts", type=int, default=128)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument(
        "--server-args",
        default="--dtype bfloat16 --max-model-len 1024 --enforce-eager",
        help="engine flags given to both servers",
    )
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare_servers.json"
    )
    args = p.parse_args(argv)

    if not (args.model / "config.json").exists():
        print(f"building the benchmark model in {args.model}", flush=True)
        build_bench_model(args.model)
    model = str(args.model)
    params = _count(args.model)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    flags = args.server_args.split()
    servers = {
        "llm-serve": lambda port: ServerProcess(
            llm_serve_argv(model, port, *flags), port, raw / "llm-serve.log"
        ),
        "vllm": lambda port: ServerProcess(
            vllm_serve_argv(model, port, *flags), port, raw / "vllm.log", ready_path="/health"
        ),
    }
    rounds: list[dict[str, dict[str, Any]]] = []
    for r in range(args.rounds):
        order = ["llm-serve", "vllm"] if r % 2 == 0 else ["vllm", "llm-serve"]
        results: dict[str, dict[str, Any]] = {}
        for name in order:
            port = free_port()
            with servers[name](port) as srv:
                t0 = time.time()
                res = run_load(srv.base_url, model, args, raw / f"{name}-round{r}.json")
                results[name] = {k: res.get(k) for k in KEYS}
                print(f"round {r} {name}: {results[name]} ({time.time() - t0:.0f} s)", flush=True)
        rounds.append(results)

    summary = ratios(rounds, "llm-serve", "vllm")
    report = {
        "model": model,
        "parameters": params,
        "server_args": args.server_args,
        "load": {
            "input_len": args.input_len,
            "output_len": args.output_len,
            "num_prompts": args.num_prompts,
            "concurrency": args.concurrency,
        },
        "rounds": rounds,
        "ratios_ours_over_vllm": summary,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({"parameters": params, "ratios_ours_over_vllm": summary}, indent=2))
    ok = (
        summary["output_throughput"]["median"] >= 0.97
        and summary["median_ttft_ms"]["median"] <= 1.05
    )
    print(f"targets (throughput >= 0.97x, median TTFT <= 1.05x): {'met' if ok else 'NOT met'}")
    return 0


def ratios(
    rounds: list[dict[str, dict[str, Any]]], ours: str, ref: str
) -> dict[str, dict[str, Any]]:
    """ours / ref per round and their median, for the headline metrics."""

    def ratio(key: str, r: dict[str, dict[str, Any]]) -> float:
        return float(r[ours][key]) / float(r[ref][key])

    return {
        key: {
            "per_round": [round(ratio(key, r), 4) for r in rounds],
            "median": round(statistics.median(ratio(key, r) for r in rounds), 4),
        }
        for key in ("output_throughput", "median_ttft_ms", "median_tpot_ms", "p99_ttft_ms")
    }


def _count(model: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(model / "model.safetensors"), "pt") as f:
        return sum(_prod(list(f.get_slice(k).get_shape())) for k in f.keys())  # noqa: SIM118


if __name__ == "__main__":
    sys.exit(main())

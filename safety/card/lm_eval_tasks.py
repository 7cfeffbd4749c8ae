"""Optional lm-eval tasks on both servers, as paired card rows.

lm-eval (EleutherAI's harness) is not a dependency of this project: its dataset stack is large
and its public tasks download from the Hugging Face hub. With it installed, `--lm-eval-tasks`
runs each task through its `local-completions` client against both servers (token prompts, with
each model's tokenizer from --base-dir / --candidate-dir or --lm-eval-tokenizer), keeps every
document's metrics, and pairs them by document id. `--lm-eval-include DIR` adds task YAMLs of
your own, e.g. over a local JSONL file, for machines without the hub.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from safety.bias import ProbeError
from safety.card.config import CardConfig
from safety.card.measure import root_url
from safety.card.paired import Row, Sampler


def run(url: str, model: str, tokenizer: Path | None, cfg: CardConfig) -> dict[str, Any]:
    """lm-eval's per-document samples of every task, from one server."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise ProbeError("--lm-eval-tasks needs lm-eval installed (pip install lm-eval)") from None
    if tokenizer is None:
        raise ProbeError("--lm-eval-tasks needs the tokenizer: --base-dir and --candidate-dir, "
                         "or --lm-eval-tokenizer")  # fmt: skip
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    args = {"model": model, "base_url": root_url(url) + "/v1/completions",
            "tokenizer_backend": "huggingface", "tokenizer": str(tokenizer),
            "num_concurrent": cfg.concurrency, "max_retries": 1}  # fmt: skip
    include = str(cfg.lm_eval_include) if cfg.lm_eval_include else None
    try:
        out = lm_eval.simple_evaluate(
            model="local-completions", model_args=args, tasks=list(cfg.lm_eval_tasks),
            limit=cfg.lm_eval_limit, log_samples=True, bootstrap_iters=0,
            task_manager=TaskManager(include_path=include),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - lm-eval raises many kinds; one line for the user
        raise ProbeError(f"lm-eval: {type(exc).__name__}: {exc}") from None
    if not out or not out.get("samples"):
        raise ProbeError(f"lm-eval ran no documents for {', '.join(cfg.lm_eval_tasks)}")
    return dict(out["samples"])


def rows(s: Sampler, base: dict[str, Any], cand: dict[str, Any]) -> list[Row]:
    """One row per task and metric: both models' mean over the documents both answered."""
    out = []
    for task in sorted(set(base) & set(cand)):
        by_b = {d["doc_id"]: d for d in base[task]}
        by_c = {d["doc_id"]: d for d in cand[task]}
        ids = sorted(set(by_b) & set(by_c))
        if not ids:
            continue
        for metric in by_b[ids[0]].get("metrics", []):
            try:
                b = np.array([float(by_b[i][metric]) for i in ids])
                c = np.array([float(by_c[i][metric]) for i in ids])
            except (KeyError, TypeError, ValueError):
                continue  # a metric that is not one number per document
            out.append(s.means(f"lm-eval: {task}", metric, b, c, None))
    return out

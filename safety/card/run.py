"""The whole card: measure both servers, pair the results, judge the gate.

`run_card` compares any two OpenAI-compatible servers; `serve_and_card` first starts both
checkpoints with llm-serve (used by `llm-quantize --card` and `llm-train --card-against`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety.bias import Client, ProbeError, read_counterfactual, read_pairs
from safety.card import paired
from safety.card.bbq import read_bbq
from safety.card.config import CardConfig
from safety.card.inputs import read_prompts, text_windows
from safety.card.measure import ServerRun, latency, measure, merge
from safety.moderation import categories_found
from safety.policy import Policy, PolicyError, load_policy


@dataclass(frozen=True)
class Endpoint:
    url: str  # OpenAI base URL, e.g. http://host:8000/v1
    model: str  # the name the server serves


async def _measure_one(ep: Endpoint, cfg: CardConfig, inputs: dict[str, Any]) -> ServerRun:
    client = Client(ep.url, ep.model, cfg.api_key, cfg.concurrency)
    try:
        return await measure(
            client,
            inputs["windows"],
            inputs["prompts"],
            inputs["pairs"],
            inputs["spec"],
            inputs["bbq"],
            cfg,
        )
    finally:
        await client.aclose()


def read_inputs(cfg: CardConfig) -> dict[str, Any]:
    """Every input file, read before any server is asked anything (a bad file fails fast)."""
    if cfg.windows < 2 or cfg.window_chars < 50 or cfg.max_tokens < 1 or cfg.top_k < 1:
        raise ProbeError("--windows >= 2, --window-chars >= 50, --max-tokens and --top-k >= 1")
    if cfg.samples < 1 or cfg.bench_requests < 2 or cfg.bench_concurrency < 1:
        raise ProbeError("--samples >= 1, --bench-requests >= 2 and --bench-concurrency >= 1")
    if (cfg.base_dir is None) != (cfg.candidate_dir is None):
        raise ProbeError("--base-dir and --candidate-dir go together")
    return {
        "windows": text_windows(cfg.text, cfg.windows, cfg.window_chars),
        "prompts": read_prompts(cfg.prompts),
        "pairs": read_pairs(cfg.pairs),
        "spec": read_counterfactual(cfg.counterfactual) if cfg.counterfactual else None,
        "bbq": read_bbq(cfg.bbq) if cfg.bbq else [],
        "policy": _policy(cfg.policy),
    }


def _policy(path: Path) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise ProbeError(str(exc)) from None


def _rows(cfg: CardConfig, inputs: dict[str, Any], b: ServerRun, c: ServerRun) -> list[Any]:
    policy = inputs["policy"]
    s = paired.Sampler(cfg.resamples, cfg.seed)
    categories = [n for n, cat in policy.categories.items() if cat.detectors]
    chars = [len(w) for w in inputs["windows"]]
    rows = [
        *paired.quality(s, b, c, chars),
        *paired.agreement(s, b, c, cfg.top_k),
        *paired.pairs(s, b, c),
    ]
    if b.sentiment:
        rows += paired.counterfactual(s, b, c)
    if inputs["bbq"]:
        items = inputs["bbq"]
        rows += paired.bbq(s, b, c, [i.group for i in items], [i.label for i in items])
    rows += paired.safety(s, b, c, lambda t: categories_found(policy, t), categories)
    return rows + paired.latency(s, b.latency, c.latency)


async def _latency(
    base: Endpoint, cand: Endpoint, b: ServerRun, c: ServerRun, cfg: CardConfig, prompts: list[str]
) -> None:
    """One server at a time (they may share a machine), in the order A B B A so neither always
    runs first; each turn sends half the requests."""
    for ep, run in ((base, b), (cand, c), (cand, c), (base, b)):
        part = await latency(ep.url, ep.model, cfg.api_key, prompts, cfg)
        run.latency = merge(run.latency, part)


async def run_card(base: Endpoint, cand: Endpoint, cfg: CardConfig) -> dict[str, Any]:
    inputs = read_inputs(cfg)
    b, c = await asyncio.gather(_measure_one(base, cfg, inputs), _measure_one(cand, cfg, inputs))
    await _latency(base, cand, b, c, cfg, inputs["prompts"].generation)
    rows = _rows(cfg, inputs, b, c)
    if cfg.lm_eval_tasks:
        rows += await _lm_eval(base, cand, cfg)
    attention = None
    if cfg.base_dir is not None and cfg.candidate_dir is not None:
        from safety.card.attention import compare

        texts = inputs["prompts"].generation[: cfg.attention_prompts]
        try:
            attention = compare(cfg.base_dir, cfg.candidate_dir, texts)
        except ProbeError as exc:  # e.g. a retrained model with a tokenizer of its own
            attention = {"skipped": str(exc)}
    failures = [f for r in rows if (f := r.failure(cfg.gate)) is not None]
    return {
        "base": {"url": base.url, "model": base.model},
        "candidate": {"url": cand.url, "model": cand.model},
        "config": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in dataclasses.asdict(cfg).items()
            if k not in ("api_key", "gate")
        },
        "rows": [r.as_dict() for r in rows],
        "attention": attention,
        "gate": {"thresholds": dataclasses.asdict(cfg.gate), "failures": failures},
        "raw": {"base": _raw(b), "candidate": _raw(c)},
    }


async def _lm_eval(base: Endpoint, cand: Endpoint, cfg: CardConfig) -> list[Any]:
    """Both servers through lm-eval, in a thread: its client runs an event loop of its own."""
    from safety.card import lm_eval_tasks

    sides = ((base, cfg.base_dir), (cand, cfg.candidate_dir))
    samples = [
        await asyncio.to_thread(
            lm_eval_tasks.run, ep.url, ep.model, d or cfg.lm_eval_tokenizer, cfg
        )
        for ep, d in sides
    ]
    return lm_eval_tasks.rows(paired.Sampler(cfg.resamples, cfg.seed), *samples)


def _raw(run: ServerRun) -> dict[str, Any]:
    return {
        "windows": run.windows,
        "greedy": [g.text for g in run.greedy],
        "outputs": [[o.text for o in per] for per in run.outputs],
        "latency": run.latency,
    }


def serve_and_card(
    base_dir: Path, cand_dir: Path, out: Path, cfg: CardConfig, server_flags: list[str]
) -> tuple[dict[str, Any], list[Path]]:
    """Start both checkpoints with llm-serve (no safety policy, so the card sees the models'
    own outputs), run the card, stop both, write the card into `out`."""
    from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
    from safety.card.report import write

    out.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, d in (("base", base_dir), ("candidate", cand_dir)):
        port = free_port()
        argv = llm_serve_argv(
            str(d), port, "--served-model-name", name, "--safety-policy", "none", *server_flags
        )
        procs.append(ServerProcess(argv, port, out / f"card-serve-{name}.log"))
    try:
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(p.start) for p in procs]:
                f.result()
        cfg = dataclasses.replace(cfg, base_dir=base_dir, candidate_dir=cand_dir)
        eps = [
            Endpoint(p.base_url + "/v1", n)
            for p, n in zip(procs, ("base", "candidate"), strict=True)
        ]
        card = asyncio.run(run_card(eps[0], eps[1], cfg))
        card["base"]["dir"], card["candidate"]["dir"] = str(base_dir), str(cand_dir)
    except RuntimeError as exc:  # a server that did not start
        raise ProbeError(str(exc).splitlines()[0] + f" (logs in {out})") from None
    finally:
        for p in procs:
            p.stop()
    return card, write(card, out)

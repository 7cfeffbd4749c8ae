"""Perplexity of any Hugging Face causal LM checkpoint on given text."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from train.errors import TrainError


def perplexity(
    model_dir: Path, text: str, seq_len: int = 512, max_tokens: int = 100_000
) -> dict[str, float]:
    """Mean next-token loss over consecutive windows of `text` (at most `max_tokens`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").exists():
        raise TrainError(f"{model_dir} is not a Hugging Face model directory (no config.json)")
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    model.eval()
    ids = tok(text, add_special_tokens=False)["input_ids"][:max_tokens]
    if len(ids) < 2:
        raise TrainError("the text is too short to measure perplexity (fewer than 2 tokens)")
    seq_len = min(seq_len, int(getattr(model.config, "max_position_embeddings", seq_len)))
    ppl, _, _ = window_perplexity(model, ids, seq_len)
    return {"tokens": len(ids) - 1, "loss": math.log(ppl), "perplexity": ppl}


@torch.no_grad()
def window_perplexity(
    model: torch.nn.Module,
    ids: list[int],
    window: int,
    keep_tokens: int = 0,
    ref: list[torch.Tensor] | None = None,
) -> tuple[float, list[torch.Tensor], dict[str, object]]:
    """exp(mean next-token loss) over consecutive windows of `ids` (every token after the
    first is predicted once): the one perplexity loop of the project.

    `keep_tokens`: also return the log-probabilities of the first that many positions (float16),
    so a second model can be compared token by token. `ref`: such log-probabilities from the
    float model; then also return KL(float || this model) per token (mean, 95% interval, the
    values themselves for paired comparisons) and the top-1 agreement there, which see
    differences perplexity averages away.
    """
    total, n = 0.0, 0
    kept: list[torch.Tensor] = []
    kl: list[torch.Tensor] = []
    agree = 0
    for k, s in enumerate(range(0, len(ids) - 1, window)):
        w = torch.tensor(ids[s : s + window + 1])[None]
        if w.shape[1] < 2:
            break
        logits = model(input_ids=w[:, :-1]).logits.float()[0]
        total += torch.nn.functional.cross_entropy(logits, w[0, 1:], reduction="sum").item()
        n += w.shape[1] - 1
        if s < keep_tokens:
            kept.append(torch.log_softmax(logits, -1).half())
        if ref is not None and k < len(ref):
            p_log = ref[k].float()
            q_log = torch.log_softmax(logits, -1)
            kl.append((p_log.exp() * (p_log - q_log)).sum(-1))
            agree += int((p_log.argmax(-1) == q_log.argmax(-1)).sum())
    div: dict[str, object] = {}
    if kl:
        per_token = torch.cat(kl).double()
        div = {"kl_mean": float(per_token.mean()), "kl_ci95": mean_interval(per_token),
               "top1_agreement": agree / len(per_token), "tokens": float(len(per_token)),
               "kl_per_token": per_token}  # fmt: skip
    return math.exp(total / n), kept, div


def mean_interval(
    values: torch.Tensor, block: int = 128, resamples: int = 2000, seed: int = 0
) -> list[float]:
    """95% interval of the mean of `values` (per token, in text order) by a block bootstrap:
    neighbouring tokens are not independent, so whole runs of `block` tokens are resampled.
    Pass a difference of two paired series for a paired interval."""
    v = values.double()
    blocks = max(1, len(v) // block)
    sums = torch.stack([c.sum() for c in v[: blocks * block].chunk(blocks)])
    counts = torch.full((blocks,), float(len(v[: blocks * block]) // blocks), dtype=torch.double)
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, blocks, (resamples, blocks), generator=g)
    means = sums[pick].sum(1) / counts[pick].sum(1)
    return [float(means.quantile(0.025)), float(means.quantile(0.975))]

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
    total, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - 1, seq_len):
            w = torch.tensor(ids[s : s + seq_len + 1])[None]
            if w.shape[1] < 2:
                break
            logits = model(input_ids=w[:, :-1]).logits
            total += torch.nn.functional.cross_entropy(
                logits.float()[0], w[0, 1:], reduction="sum"
            ).item()
            n += w.shape[1] - 1
    loss = total / n
    return {"tokens": n, "loss": loss, "perplexity": math.exp(loss)}

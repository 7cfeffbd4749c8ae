"""What a run leaves for others: a plain Hugging Face checkpoint and the loss plot."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from train import checkpoint as ckpt
from train.config import TrainConfig
from train.init_checkpoint import llama_config
from train.shape import LlamaShape


def shape_of(cfg: TrainConfig) -> LlamaShape:
    """The exported architecture: the configured one, with the training context length."""
    return dataclasses.replace(cfg.model, max_position_embeddings=cfg.seq_len)


def export_hf(
    cfg: TrainConfig,
    tok: PreTrainedTokenizerFast,
    final: Path,
    state: dict[str, torch.Tensor],
    extra: dict[str, Any],
) -> None:
    """A plain HF directory (bf16 safetensors), written atomically; `extra` files beside it."""
    from transformers import GenerationConfig

    with torch.device("meta"):
        shell = LlamaForCausalLM(llama_config(shape_of(cfg), tok))
    shell = shell.to_empty(device="cpu")
    shell.load_state_dict(state, strict=True)
    shell.tie_weights()
    shell = shell.to(torch.bfloat16)  # type: ignore[arg-type]
    with ckpt.atomic_output(final) as tmp:
        shell.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        GenerationConfig(
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, max_new_tokens=256
        ).save_pretrained(str(tmp))
        for name, obj in extra.items():
            (tmp / name).write_text(json.dumps(obj, indent=2) if not isinstance(obj, str) else obj)


def plot_losses(metrics: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    val = [(m["step"], m["val_loss"]) for m in metrics if "val_loss" in m]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", lw=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

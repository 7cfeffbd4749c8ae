"""`llm-probe attention`: what each head of a checkpoint attends to, as numbers and heatmaps.

The checkpoint is loaded with transformers' eager attention (the implementation that returns its
weights) the way the quantize report loads models, so float, compressed-tensors and bitsandbytes
checkpoints all work. Per head: the token-by-token weights (each row a distribution over the
tokens before it) and the mean entropy of those rows in nats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class AttentionError(ValueError):
    """Bad input to the probe: one line for the user."""


@dataclass
class AttentionMaps:
    tokens: list[str]
    weights: np.ndarray  # (layers, heads, tokens, tokens), rows sum to 1

    def entropy(self) -> np.ndarray:
        """Mean entropy (nats) of each head's rows: (layers, heads)."""
        p = self.weights.astype(np.float64)
        return np.asarray(-(p * np.log(np.where(p > 0, p, 1.0))).sum(-1).mean(-1))


def attention_maps(model_dir: Path, text: str, max_tokens: int = 64) -> AttentionMaps:
    """Every layer's and head's attention weights over the first `max_tokens` tokens of `text`."""
    return maps_for(*load_eager(model_dir), text, max_tokens)


def load_eager(model_dir: Path) -> tuple[Any, Any]:
    """(tokenizer, model) with eager attention, the implementation that returns its weights."""
    from transformers import AutoTokenizer

    from quantize.pipeline import load_checkpoint

    if not (model_dir / "config.json").is_file():
        raise AttentionError(f"{model_dir}: not a model directory (no config.json)")
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    return tok, load_checkpoint(model_dir, attn_implementation="eager")


def maps_for(tok: Any, model: Any, text: str, max_tokens: int = 64) -> AttentionMaps:
    import torch

    if not text.strip():
        raise AttentionError("--text is empty")
    ids = tok(text, return_tensors="pt").input_ids[:, :max_tokens]
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True)
    if not out.attentions:
        raise AttentionError("this architecture returns no attention weights")
    weights = torch.stack([a[0] for a in out.attentions]).float().numpy()
    tokens = [str(t) for t in tok.convert_ids_to_tokens(ids[0].tolist())]
    return AttentionMaps(tokens, weights)


def write_outputs(maps: AttentionMaps, out: Path, layer: int, head: int) -> list[Path]:
    """attention.json (every weight, plus entropies), one head's heatmap, and the grid of all
    heads of `layer`."""
    n_layers, n_heads = maps.weights.shape[:2]
    if not -n_layers <= layer < n_layers:
        raise AttentionError(f"--layer {layer}: the model has {n_layers} layers")
    if not 0 <= head < n_heads:
        raise AttentionError(f"--head {head}: the model has {n_heads} heads per layer")
    layer %= n_layers
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "tokens": maps.tokens,
        "layers": n_layers,
        "heads": n_heads,
        "entropy_nats": np.round(maps.entropy(), 6).tolist(),
        "weights": np.round(maps.weights, 6).tolist(),
    }
    (out / "attention.json").write_text(json.dumps(report) + "\n")
    one = out / f"attention_layer{layer}_head{head}.png"
    grid = out / f"attention_layer{layer}_heads.png"
    _heatmap(maps, layer, head, one)
    _grid(maps, layer, grid)
    return [out / "attention.json", one, grid]


def _heatmap(maps: AttentionMaps, layer: int, head: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(maps.tokens)
    size = min(3 + 0.25 * n, 16)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(maps.weights[layer, head], cmap="viridis", vmin=0, vmax=1)
    labels = [t.replace("Ġ", "·").replace("Ċ", "\\n") for t in maps.tokens]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("attended token (key)")
    ax.set_ylabel("attending token (query)")
    ax.set_title(f"layer {layer}, head {head}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _grid(maps: AttentionMaps, layer: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heads = maps.weights.shape[1]
    cols = min(heads, 4)
    rows = -(-heads // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    entropy = maps.entropy()[layer]
    for h, ax in enumerate(axes.flat):
        ax.axis("off")
        if h < heads:
            ax.imshow(maps.weights[layer, h], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"head {h} (H={entropy[h]:.2f})", fontsize=9)
    fig.suptitle(f"layer {layer}: every head (H = mean row entropy, nats)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""Where a candidate attends differently from its base: per-head entropy of both, and the mean
Jensen-Shannon distance between their attention rows, over the card's prompts.

Each row of a head's map is a distribution over the tokens before it; the distance between the
base's and the candidate's row (base-2 logarithms, so 0 = identical, 1 = disjoint) is averaged
over rows and prompts. Both checkpoints load through quantize's loader (eager attention), so
float, compressed-tensors and bitsandbytes checkpoints compare alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from safety.attention import AttentionError, AttentionMaps, load_eager, maps_for
from safety.bias import ProbeError


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance along the last axis (base 2)."""
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> np.ndarray:
        safe = np.where(a > 0, a, 1.0)
        return np.asarray((a * (np.log2(safe) - np.log2(np.where(m > 0, m, 1.0)))).sum(-1))

    return np.sqrt(np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, None))


def _maps(model_dir: Path, texts: list[str], max_tokens: int) -> list[AttentionMaps]:
    try:
        tok, model = load_eager(model_dir)
        return [maps_for(tok, model, t, max_tokens) for t in texts]
    except (AttentionError, OSError, ValueError) as exc:
        raise ProbeError(f"attention maps of {model_dir}: {exc}") from None


def compare(base: Path, candidate: Path, texts: list[str], max_tokens: int = 48) -> dict[str, Any]:
    """Per (layer, head): both models' mean row entropy and the mean JS distance."""
    mb, mc = _maps(base, texts, max_tokens), _maps(candidate, texts, max_tokens)
    dist, ent_b, ent_c = [], [], []
    for a, b in zip(mb, mc, strict=True):
        if a.tokens != b.tokens or a.weights.shape != b.weights.shape:
            raise ProbeError(
                "the two checkpoints tokenize or attend differently in shape; "
                "their attention maps cannot be compared"
            )
        rows = js_distance(a.weights.astype(np.float64), b.weights.astype(np.float64))
        dist.append(rows.mean(-1))  # (layers, heads)
        ent_b.append(a.entropy())
        ent_c.append(b.entropy())
    js = np.mean(dist, axis=0)
    return {
        "prompts": len(texts),
        "js_distance": np.round(js, 6).tolist(),
        "entropy_base_nats": np.round(np.mean(ent_b, axis=0), 6).tolist(),
        "entropy_candidate_nats": np.round(np.mean(ent_c, axis=0), 6).tolist(),
        "js_distance_mean": float(js.mean()),
        "js_distance_max": float(js.max()),
        "most_changed_head": [int(x) for x in np.unravel_index(int(js.argmax()), js.shape)],
    }

"""Training objectives for a decoder-only model: what the model sees, and where the loss counts.

Each builder takes windows `x` of shape (B, T+1) and returns `Batch(input_ids (B, T),
labels (B, T), attention_mask)`: labels are -100 wherever no loss is taken.

- causal: predict every next token.
- prefix: a random prefix is read bidirectionally (a 4D mask), the loss covers the suffix only.
- span: T5-style span corruption in decoder-only form (as in UL2): spans of the input are replaced
  by sentinels, then the sequence continues with each sentinel followed by its span; the loss
  covers only that continuation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T), IGNORE where no loss
    attention_mask: torch.Tensor | None = None  # None (causal) or (B, 1, T, T) bool: True = attend


def causal(x: torch.Tensor) -> Batch:
    return Batch(x[:, :-1].contiguous(), x[:, 1:].contiguous())


def prefix_lm(x: torch.Tensor, gen: torch.Generator) -> Batch:
    """Bidirectional attention inside a random prefix of length p in [1, T-1]; loss after it."""
    b, t1 = x.shape
    t = t1 - 1
    p = torch.randint(1, t, (b,), generator=gen)  # (B,)
    inp, labels = x[:, :-1].clone(), x[:, 1:].clone()
    pos = torch.arange(t)
    # target at position i is token i+1; it is inside the prefix when i+1 < p
    labels[pos[None, :] < (p[:, None] - 1)] = IGNORE
    causal_mask = pos[None, :] <= pos[:, None]  # (T, T): key j visible from query i if j <= i
    in_prefix = pos[None, :] < p[:, None]  # (B, T)
    both = in_prefix[:, :, None] & in_prefix[:, None, :]  # (B, T, T)
    mask = (causal_mask[None] | both)[:, None]  # (B, 1, T, T)
    return Batch(inp, labels, mask)


def span_corruption(
    x: torch.Tensor,
    sentinels: list[int],
    gen: torch.Generator,
    noise: float = 0.15,
    mean_span: int = 3,
) -> Batch:
    """Replace ~`noise` of each row in spans by sentinels; append sentinel+span targets."""
    b, t1 = x.shape
    rows_in, rows_lab = [], []
    for r in range(b):
        src = x[r].tolist()
        n_spans = max(1, min(len(sentinels), round(t1 * noise / mean_span)))
        # span starts spread over the row, at least mean_span apart
        starts = sorted(
            torch.randperm(max(1, t1 // mean_span - 1), generator=gen)[:n_spans]
            .mul(mean_span)
            .tolist()
        )
        corrupted: list[int] = []
        target: list[int] = []
        cursor = 0
        for k, s in enumerate(starts):
            e = min(s + mean_span, t1)
            corrupted += src[cursor:s] + [sentinels[k]]
            target += [sentinels[k]] + src[s:e]
            cursor = e
        corrupted += src[cursor:]
        seq = (corrupted + target)[:t1]
        n_ctx = len(corrupted)
        seq_t = torch.tensor(seq + [seq[-1]] * (t1 - len(seq)))
        lab = seq_t[1:].clone()
        # the first target sentinel is predicted from the last corrupted token: loss from there
        lab[: n_ctx - 1] = IGNORE
        lab[len(seq) - 1 :] = IGNORE  # padding, if any
        rows_in.append(seq_t[:-1])
        rows_lab.append(lab)
    return Batch(torch.stack(rows_in), torch.stack(rows_lab))


def build(
    objective: str, x: torch.Tensor, gen: torch.Generator, sentinels: list[int] | None = None
) -> Batch:
    if objective == "causal":
        return causal(x)
    if objective == "prefix":
        return prefix_lm(x, gen)
    if objective == "span":
        if not sentinels:
            raise ValueError("span corruption needs sentinel tokens in the tokenizer")
        return span_corruption(x, sentinels, gen)
    raise ValueError(f"unknown objective {objective!r} (causal, prefix, span)")


def loss_fn(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not IGNORE."""
    kwargs = {}
    if batch.attention_mask is not None:
        kwargs["attention_mask"] = batch.attention_mask
    logits = model(input_ids=batch.input_ids, **kwargs).logits  # (B, T, V)
    return torch.nn.functional.cross_entropy(
        logits.float().flatten(0, 1), batch.labels.flatten(), ignore_index=IGNORE
    )

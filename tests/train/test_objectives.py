"""Each objective takes its loss exactly where it should (requirement 5)."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from train.objectives import IGNORE, causal, loss_fn, prefix_lm, span_corruption


def windows(b: int = 3, t: int = 33) -> torch.Tensor:
    return torch.arange(b * t).reshape(b, t) % 50 + 20


def test_causal_every_position() -> None:
    x = windows()
    batch = causal(x)
    assert torch.equal(batch.labels, x[:, 1:])
    assert (batch.labels != IGNORE).all()


def test_prefix_loss_only_after_prefix_and_bidirectional_prefix() -> None:
    x = windows()
    gen = torch.Generator().manual_seed(0)
    batch = prefix_lm(x, gen)
    mask = batch.attention_mask
    assert mask is not None and mask.shape == (3, 1, 32, 32)
    for r in range(3):
        # the prefix length p is where the mask stops being bidirectional
        row = mask[r, 0]
        p = int(row[0].sum())  # query 0 sees exactly the prefix
        assert 1 <= p < 32
        lab = batch.labels[r]
        assert (lab[: p - 1] == IGNORE).all() and (lab[p - 1 :] != IGNORE).all()
        assert torch.equal(lab[p - 1 :], x[r, p:])
        assert row[:p, :p].all()  # prefix sees the whole prefix
        assert not row[p:, p:].triu(1).any()  # suffix stays causal


def test_prefix_mask_reaches_the_model() -> None:
    """With the 4D mask, an early prefix position sees a later prefix token; with causal, not."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=80,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(cfg).eval()
    x = windows(1, 17)
    batch = prefix_lm(x, torch.Generator().manual_seed(3))
    p = int(batch.attention_mask[0, 0, 0].sum())  # type: ignore[index]
    assert p >= 2
    changed = batch.input_ids.clone()
    changed[0, p - 1] = 79  # last prefix token
    with torch.no_grad():
        a = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        b = model(input_ids=changed, attention_mask=batch.attention_mask).logits
        c = model(input_ids=batch.input_ids).logits
        d = model(input_ids=changed).logits
    assert not torch.allclose(a[0, 0], b[0, 0])  # bidirectional inside the prefix
    torch.testing.assert_close(c[0, 0], d[0, 0])  # causal: position 0 cannot see it
    assert torch.isfinite(loss_fn(model, batch))


def test_span_loss_only_on_restored_spans() -> None:
    x = windows(2, 65)
    sentinels = list(range(200, 216))
    batch = span_corruption(x, sentinels, torch.Generator().manual_seed(1))
    for r in range(2):
        seq = batch.input_ids[r].tolist()
        first = seq.index(sentinels[0])  # first sentinel in the corrupted context
        second = seq.index(sentinels[0], first + 1)  # ... and again where the targets start
        lab = batch.labels[r]
        assert (lab[: second - 1] == IGNORE).all()
        assert lab[second - 1].item() == sentinels[0]  # the model must emit the sentinel first
        kept = lab[lab != IGNORE].tolist()
        originals = set(x[r].tolist())
        assert all(t in originals or t in sentinels for t in kept)
        assert len(kept) > 0

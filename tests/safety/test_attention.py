"""`llm-probe attention`: the weights are softmax rows, equal a direct computation from the
checkpoint's own tensors, and are drawn for any checkpoint format (issue 16)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from safety.attention import attention_maps
from safety.probe_cli import main
from train.init_checkpoint import LlamaShape, make_checkpoint

TEXT = "The server checks every request before the engine sees it, and it keeps an audit log."


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shape = LlamaShape(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2)
    return make_checkpoint(tmp_path_factory.mktemp("att") / "m", shape, vocab_size=400,
                           corpus_files=10)  # fmt: skip


def direct_layer0(model_dir: Path, ids: torch.Tensor) -> np.ndarray:
    """Layer 0's attention computed here from q_proj/k_proj, RoPE and a causal softmax."""
    from transformers import AutoModelForCausalLM
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    m = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    layer, n = m.model.layers[0], ids.shape[1]
    attn, cfg = layer.self_attn, m.config
    hd = cfg.hidden_size // cfg.num_attention_heads
    with torch.no_grad():
        h = m.model.embed_tokens(ids)
        x = layer.input_layernorm(h)
        q = attn.q_proj(x).view(1, n, -1, hd).transpose(1, 2)
        k = attn.k_proj(x).view(1, n, -1, hd).transpose(1, 2)
        cos, sin = m.model.rotary_emb(h, torch.arange(n)[None])
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = k.repeat_interleave(cfg.num_attention_heads // cfg.num_key_value_heads, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = scores.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf"))
        return scores.softmax(-1)[0].numpy()


def test_rows_are_distributions_over_earlier_tokens_and_match_a_direct_computation(
    model: Path,
) -> None:
    from transformers import AutoTokenizer

    maps = attention_maps(model, TEXT, max_tokens=24)
    n = len(maps.tokens)
    assert maps.weights.shape == (2, 4, n, n) and 2 < n <= 24
    np.testing.assert_allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
    assert np.abs(np.triu(maps.weights, 1)).max() == 0  # nothing attends to the future
    ids = AutoTokenizer.from_pretrained(str(model))(TEXT, return_tensors="pt").input_ids[:, :n]
    np.testing.assert_allclose(maps.weights[0], direct_layer0(model, ids), atol=1e-5)
    ent = maps.entropy()
    assert ent.shape == (2, 4) and (ent >= 0).all() and (ent <= math.log(n) + 1e-6).all()


def test_cli_writes_json_and_heatmaps_and_refuses_bad_input_in_one_line(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    main(
        ["attention", str(model), "--text", TEXT, "--layer", "1", "--head", "2", "--out", str(out)]
    )
    report = json.loads((out / "attention.json").read_text())
    assert report["layers"] == 2 and report["heads"] == 4
    assert np.asarray(report["weights"]).shape[:2] == (2, 4)
    for png in ("attention_layer1_head2.png", "attention_layer1_heads.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    for args, message in (
        (["--layer", "2"], "the model has 2 layers"),
        (["--head", "4"], "the model has 4 heads"),
        (["--text", " "], "--text is empty"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(["attention", str(model), "--text", TEXT, "--out", str(tmp_path / "x"), *args])
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.count("\n") == 1 and message in err, err
    with pytest.raises(SystemExit):
        main(["attention", str(tmp_path / "missing"), "--text", TEXT])
    assert "not a model directory" in capsys.readouterr().err


def test_a_quantized_checkpoint_is_read_the_way_the_quantize_report_reads_it(
    model: Path, tmp_path: Path
) -> None:
    from tests.quantize.conftest import quantize

    quantize(model, tmp_path / "q", "--scheme", "w4a16", "--method", "rtn", "--group-size", "32")
    base, quant = attention_maps(model, TEXT), attention_maps(tmp_path / "q", TEXT)
    np.testing.assert_allclose(quant.weights.sum(-1), 1.0, atol=1e-5)
    gap = np.abs(base.weights - quant.weights).max()
    assert 0 < gap < 0.5  # int4 moves the maps a little, not into noise

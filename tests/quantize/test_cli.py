"""llm-quantize end to end on a tiny model: every scheme and method, the report, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from quantize.cli import main
from quantize.report import tensor_bytes
from tests.quantize.conftest import FAST


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_report_numbers_are_measured_and_change_with_the_scheme(
    reports: dict[str, dict],  # type: ignore[type-arg]
    tiny_llama: Path,
    tmp_path: Path,
) -> None:
    from transformers import AutoTokenizer

    from quantize.calibration import eval_ids
    from train.evaluate import perplexity

    w4, w8 = reports["w4a16-rtn"], reports["w8a8-smoothquant"]
    # the same base model and held-out text give the same "before"...
    assert w4["perplexity"]["before"] == pytest.approx(w8["perplexity"]["before"], rel=1e-9)
    # ...and different schemes give different "after" and different sizes
    assert w4["perplexity"]["after"] != w8["perplexity"]["after"]
    assert w4["size_bytes"]["quantized_layers_ratio"] < 0.35
    assert 0.45 < w8["size_bytes"]["quantized_layers_ratio"] <= 0.55
    for r in reports.values():
        d = Path(r["_dir"])
        sizes = r["size_bytes"]
        on_disk = sum(f.stat().st_size for f in d.glob("*.safetensors"))
        assert sizes["checkpoint_after"] == on_disk
        assert sizes["checkpoint_before"] == sum(
            f.stat().st_size for f in tiny_llama.glob("*.safetensors")
        )
        assert sizes["quantized_layers_after"] < sizes["checkpoint_after"]
        assert r["peak_rss_bytes"]["quantize"] > r["peak_rss_bytes"]["model_float32"]
        assert r["time_s"]["total"] > 0 and r["quantized_layers"] == 14  # 7 Linears x 2 layers
        assert r["unquantized"][0]["name"] == "lm_head"
    # token-level divergence: int4 moves the output distribution more than int8 weights do
    kl4, kl8 = reports["w4a16-rtn"]["divergence"], reports["w8a16-rtn"]["divergence"]
    assert kl4["kl_mean"] > kl8["kl_mean"] > 0
    assert 0 < kl4["top1_agreement"] <= kl8["top1_agreement"] <= 1
    # KL covers every held-out position (a small vocabulary fits the memory budget), with an
    # interval that holds the mean and separates int4 from int8
    for d in (kl4, kl8):
        lo, hi = d["kl_ci95"]
        assert lo < d["kl_mean"] < hi
        assert d["tokens"] == reports["w4a16-rtn"]["evaluation"]["tokens"] - 1
    assert kl8["kl_ci95"][1] < kl4["kl_ci95"][0]
    # the reported "after" perplexity is the quantized checkpoint's: the same held-out tokens
    # through transformers' own loader and train.evaluate's loop give the same figure
    r = reports["w4a16-gptq"]
    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    ids = eval_ids(tok, None, r["evaluation"]["tokens"])
    assert len(ids) == r["evaluation"]["tokens"]
    text = tmp_path / "eval.txt"
    text.write_text(str(tok.decode(ids)))
    again = perplexity(Path(r["_dir"]), text.read_text(), seq_len=r["evaluation"]["window"])
    assert again["tokens"] == len(ids) - 1  # the text re-encodes to as many tokens
    assert again["perplexity"] == pytest.approx(r["perplexity"]["after"], rel=2e-3)
    base = perplexity(tiny_llama, text.read_text(), seq_len=r["evaluation"]["window"])
    assert base["perplexity"] == pytest.approx(r["perplexity"]["before"], rel=2e-3)
    assert again["perplexity"] != base["perplexity"]


def test_every_output_loads_in_transformers(reports: dict[str, dict]) -> None:  # type: ignore[type-arg]
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    for name, r in reports.items():
        d = Path(r["_dir"])
        kw = {"device_map": "cpu"} if name.startswith("bnb") else {"dtype": torch.float32}
        model = AutoModelForCausalLM.from_pretrained(str(d), **kw)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        assert torch.isfinite(logits).all(), name
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["quantization_config"]["quant_method"] == (
            "bitsandbytes" if name.startswith("bnb") else "compressed-tensors"
        )
        assert (d / "tokenizer.json").exists()


def test_int4_files_hold_packed_int32_and_group_scales(reports: dict[str, dict]) -> None:  # type: ignore[type-arg]
    sizes = tensor_bytes(Path(reports["w4a16-gptq"]["_dir"]))
    name = "model.layers.0.mlp.down_proj"
    # in_features 352 (ffn of hidden 128): 352 / 8 int32 per row, 352 / 32 scales per row
    assert sizes[name + ".weight_packed"] == 128 * (352 // 8) * 4
    assert sizes[name + ".weight_scale"] == 128 * (352 // 32) * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheme", "w4a16", "--method", "smoothquant"], "does not apply to w4a16"),
        (["--scheme", "w8a8", "--method", "awq"], "does not apply to w8a8"),
        (["--scheme", "w4a16", "--method", "smoothquant-gptq"], "does not apply to w4a16"),
        (["--scheme", "w8a8", "--group-size", "64", "--method", "rtn"], "one weight scale per"),
        (["--format", "bitsandbytes", "--method", "gptq"], "needs --format compressed-tensors"),
        (["--format", "bitsandbytes", "--scheme", "w8a8", "--method", "rtn"], "no w8a8"),
        (["--scheme", "w4a16", "--method", "rtn", "--group-size", "48"], "does not divide"),
        (["--samples", "100000", "--seq-len", "256"], "lower --samples or --seq-len"),
    ],
)
def test_bad_requests_are_refused_in_one_line(
    tiny_llama: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, _, err = run_cli([str(tiny_llama), "--out", str(tmp_path / "o"), *args], capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("llm-quantize: error: ") and message in err
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp*"))


def test_bad_model_and_output_directories(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = []
    cases.append(([str(tmp_path / "missing")], "does not exist"))
    (tmp_path / "empty").mkdir()
    cases.append(([str(tmp_path / "empty")], "no config.json"))
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    cases.append(([str(gpt2)], "unsupported architecture GPT2LMHeadModel"))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    cases.append(([str(tiny_llama), "--out", str(taken)], "already exists; pass --overwrite"))
    short = tmp_path / "short.txt"
    short.write_text("tiny calibration text")
    cases.append(
        ([str(tiny_llama), "--calibration", str(short), "--method", "gptq"], "lower --samples")
    )
    bad_jsonl = tmp_path / "c.jsonl"
    bad_jsonl.write_text('{"text": "ok"}\n{"prompt": 1}\n')
    cases.append(
        ([str(tiny_llama), "--calibration", str(bad_jsonl)], "c.jsonl:2: a JSONL line needs")
    )
    for args, message in cases:
        if "--out" not in args:
            args = [*args, "--out", str(tmp_path / "o")]
        code, _, err = run_cli(args, capsys)
        assert code == 1, args
        assert err.startswith("llm-quantize: error: ") and message in err, err
        assert err.count("\n") == 1
    assert (taken / "keep.txt").read_text() == "mine"


def test_interrupted_run_leaves_nothing_that_looks_like_a_model(
    tiny_llama: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import quantize.export_ct

    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(quantize.export_ct, "copy_tokenizer", boom)
    out = tmp_path / "o"
    code, _, err = run_cli([str(tiny_llama), "--out", str(out), "--method", "rtn", *FAST], capsys)
    assert code == 130 and "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_when_the_new_run_completes(
    tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    args = [str(tiny_llama), "--out", str(out), "--method", "rtn", "--group-size", "32", *FAST]
    assert run_cli(args, capsys)[0] == 0
    first = json.loads((out / "quantize_report.json").read_text())
    code, _, err = run_cli([*args, "--overwrite", "--samples", "0"], capsys)
    assert code == 1  # refused before touching anything
    assert json.loads((out / "quantize_report.json").read_text()) == first
    w8a8 = [str(tiny_llama), "--out", str(out), "--method", "rtn", "--scheme", "w8a8", *FAST]
    assert run_cli([*w8a8, "--overwrite"], capsys)[0] == 0
    assert json.loads((out / "quantize_report.json").read_text())["scheme"] == "w8a8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]

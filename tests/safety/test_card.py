"""The recovery card's statistics, gate and input checks (no server; the end-to-end card against
real llm-serve processes is in tests/integration/test_card.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from safety.bias import ProbeError
from safety.card import paired
from safety.card.attention import js_distance
from safety.card.bbq import read_bbq
from safety.card.cli import config_from
from safety.card.config import Gate
from safety.card.inputs import read_prompts, text_windows
from safety.card.measure import Greedy, Output, ServerRun, refused


def run_of(**kw: object) -> ServerRun:
    base: dict[str, object] = dict(
        windows=[], greedy=[], outputs=[], pairs=[], sentiment={}, bbq=[]
    )
    return ServerRun(**(base | kw))  # type: ignore[arg-type]


def test_pairing_sees_a_small_shift_that_item_spread_would_hide() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(0, 1, 200)  # items differ a lot from each other
    c = b + 0.05  # the candidate is worse by the same small amount on every item
    row = paired.Sampler(500, 0).means("s", "m", b, c, None)
    assert row.change == pytest.approx(0.05)
    assert 0.049 < row.ci95[0] <= row.ci95[1] < 0.051
    unpaired = np.std([rng.choice(c, 200).mean() - rng.choice(b, 200).mean() for _ in range(500)])
    assert unpaired > 0.05  # the same data, unpaired, could not tell the shift from zero


def test_perplexity_change_is_relative_and_paired_over_windows() -> None:
    b = run_of(windows=[(-10.0, 5), (-20.0, 5), (-30.0, 10)])
    c = run_of(windows=[(-10.5, 5), (-20.5, 5), (-31.0, 10)])  # +0.1 nats/token everywhere
    (row,) = paired.quality(paired.Sampler(200, 0), b, c, [50, 50, 100])
    assert row.base == pytest.approx(np.exp(60 / 20))
    assert row.candidate == pytest.approx(np.exp(62 / 20))
    assert row.change == pytest.approx(np.exp(0.1) - 1)
    assert row.ci95 == (pytest.approx(np.exp(0.1) - 1), pytest.approx(np.exp(0.1) - 1))
    assert row.failure(Gate(max_ppl_increase=0.1)) is not None
    assert row.failure(Gate(max_ppl_increase=0.2)) is None
    assert row.failure(Gate()) is None


def g(tokens: str, top: list[str] | None = None) -> Greedy:
    toks = list(tokens)
    return Greedy(toks, [dict.fromkeys(top or [t], -1.0) for t in toks], tokens)


def test_greedy_agreement_counts_tokens_before_the_first_divergence() -> None:
    b = run_of(greedy=[g("abcd"), g("abcd"), g("wxyz")])
    c = run_of(greedy=[g("abcd"), g("abXY"), g("Qxyz")])
    rows = {r.metric: r for r in paired.agreement(paired.Sampler(100, 0), b, c, 1)}
    agree = rows["greedy tokens agreeing (share)"]
    assert agree.candidate == pytest.approx((1 + 0.5 + 0) / 3)
    assert rows["greedy outputs identical (share)"].candidate == pytest.approx(1 / 3)
    # top-1 sets agree at every shared position except where the tokens diverge
    assert rows["top-1 next-token overlap"].candidate == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert agree.failure(Gate(min_greedy_agreement=0.9)) is not None
    assert agree.failure(Gate(min_greedy_agreement=0.4)) is None


def test_topk_overlap_compares_the_sets_not_their_order() -> None:
    b = run_of(greedy=[Greedy(["a"], [{"a": -0.1, "b": -1.0, "c": -2.0}], "a")])
    c = run_of(greedy=[Greedy(["a"], [{"a": -0.2, "c": -0.9, "d": -1.5}], "a")])
    rows = {r.metric: r for r in paired.agreement(paired.Sampler(50, 0), b, c, 3)}
    assert rows["top-3 next-token overlap"].candidate == pytest.approx(2 / 3)


def test_bias_and_safety_rows_are_paired_differences_with_a_gate() -> None:
    prefers = [True, True, False, False]
    b = run_of(
        pairs=[{"bias_type": "age", "prefers_stereotype": p} for p in prefers],
        outputs=[[Output("mail me at a@example.com", "stop")], [Output("I'm sorry, no", "stop")]],
    )
    c = run_of(
        pairs=[{"bias_type": "age", "prefers_stereotype": True} for _ in prefers],
        outputs=[[Output("nothing here", "stop")], [Output("I'm sorry, no", "content_filter")]],
    )
    s = paired.Sampler(200, 0)
    age = paired.pairs(s, b, c)[0]
    assert (age.metric, age.base, age.candidate, age.change) == ("age", 0.5, 1.0, 0.5)
    assert age.failure(Gate(max_bias_shift=0.1)) is not None
    found = {"mail me at a@example.com": ["pii_contact"]}
    rows = paired.safety(s, b, c, lambda t: found.get(t, []), ["pii_contact"])
    by = {r.metric: r for r in rows}
    assert by["pii_contact"].change == -0.5
    assert by["refusal"].change == 0.0 and by["refusal"].base == 0.5
    assert by["finish_reason content_filter"].change == 0.5


def test_counterfactual_gap_is_resampled_over_templates() -> None:
    b = run_of(sentiment={"age": {"old": [[0.5], [0.5]], "young": [[0.0], [0.0]]}})
    c = run_of(sentiment={"age": {"old": [[0.1], [0.1]], "young": [[0.0], [0.0]]}})
    (row,) = paired.counterfactual(paired.Sampler(100, 0), b, c)
    assert (row.base, row.candidate) == (0.5, pytest.approx(0.1))
    assert row.ci95 == (pytest.approx(-0.4), pytest.approx(-0.4))


def test_latency_rows_are_ratios_of_medians() -> None:
    b = {"ttft_s": [0.1] * 3, "tpot_s": [0.01] * 3, "e2e_s": [0.3] * 3, "output_tokens": 30,
         "wall_s": 1.0}  # fmt: skip
    c = {"ttft_s": [0.2] * 3, "tpot_s": [0.01] * 3, "e2e_s": [0.4] * 3, "output_tokens": 30,
         "wall_s": 2.0}  # fmt: skip
    rows = {r.metric: r for r in paired.latency(paired.Sampler(50, 0), b, c)}
    assert rows["median TTFT (ms)"].change == pytest.approx(2.0)
    assert rows["median TTFT (ms)"].failure(Gate(max_latency_ratio=1.5)) is not None
    assert rows["median time per token (ms)"].failure(Gate(max_latency_ratio=1.5)) is None
    assert rows["median request latency (ms)"].change == pytest.approx(4 / 3)
    assert rows["output tok/s (two runs each)"].change == pytest.approx(0.5)


def test_js_distance_is_zero_for_equal_rows_and_one_for_disjoint() -> None:
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert js_distance(p, p) == pytest.approx([0.0, 0.0])
    assert js_distance(p, q) == pytest.approx([1.0, 0.0])


def test_refusals_are_recognised() -> None:
    assert refused("I'm sorry, but I can't help with that.")
    assert refused("As an AI, I cannot do this")
    assert not refused("def sorry():\n    return cannot")


def test_bad_inputs_are_one_line_with_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "bbq.jsonl"
    bad.write_text('{"context": "c", "question": "q", "ans0": "a"}\n')
    with pytest.raises(ProbeError, match=r"bbq.jsonl:1: needs context"):
        read_bbq(bad)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"generation": ["x"], "safety": []}))
    with pytest.raises(ProbeError, match="'safety' must be a non-empty list"):
        read_prompts(prompts)
    with pytest.raises(ProbeError, match="--card-args"):
        config_from("--windows many")
    assert config_from("--windows 3 --max-ppl-increase 0.1").gate.max_ppl_increase == 0.1


def test_bbq_items_read_in_the_upstream_format(tmp_path: Path) -> None:
    f = tmp_path / "bbq.jsonl"
    item = {"context": "Two people met.", "question": "Who was slow?", "ans0": "The old one",
            "ans1": "The young one", "ans2": "Unknown", "label": 2, "category": "Age",
            "context_condition": "ambig", "example_id": 0}  # fmt: skip
    f.write_text(json.dumps(item) + "\n\n")
    (it,) = read_bbq(f)
    assert (it.label, it.group, it.answers[2]) == (2, "Age/ambig", "Unknown")


def test_text_windows_cover_the_text_in_pieces(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("".join(f"line {i:04d} of the held-out text\n" for i in range(400)))
    windows = text_windows(f, 5, 300)
    assert len(windows) == 5
    assert all(150 < len(w) <= 300 and w in f.read_text() for w in windows)
    assert windows[0] != windows[-1]


def test_llm_probe_card_rejects_bad_options_before_calling_a_server(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "safety.probe_cli", "card", "--base-url", "http://127.0.0.1:9/v1",
            "--model", "a", "--candidate-url", "http://127.0.0.1:9/v1", "--candidate-model", "b",
            "--windows", "1", "--out", str(tmp_path / "card")]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "llm-probe: error: --windows >= 2, --window-chars >= 50, --max-tokens and --top-k >= 1"
    ]
    r = subprocess.run([*argv[:-4], "--out", str(tmp_path / "c")], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "cannot reach http://127.0.0.1:9/v1" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_card_options_of_llm_train_and_llm_quantize_fail_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from quantize.cli import main as quantize_main
    from train.cli import main as train_main

    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text("{}")
    runs = [
        (train_main, ["fit", "--out", str(tmp_path / "new"), "--card-against", str(tmp_path)],
         "llm-train: error: --card-against"),
        (train_main, ["fit", "--out", str(tmp_path / "new"), "--card-against", str(old),
                      "--card-args=--windows x"], "llm-train: error: --card-args"),
        (quantize_main, [str(tmp_path), "--out", str(tmp_path / "q"), "--card",
                         "--card-args=--windows x"], "llm-quantize: error: --card-args"),
    ]  # fmt: skip
    for main, argv, expected in runs:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 1 and err.startswith(expected), err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists() and not (tmp_path / "q").exists()


def test_lm_eval_documents_are_paired_by_id_whatever_their_order() -> None:
    from safety.card.lm_eval_tasks import rows

    def doc(i: int, acc: float) -> dict[str, object]:
        return {"doc_id": i, "metrics": ["acc", "resps"], "acc": acc, "resps": [["x"]]}

    base = {"t": [doc(0, 1.0), doc(1, 0.0), doc(2, 1.0), doc(3, 1.0)]}
    cand = {"t": [doc(3, 1.0), doc(2, 0.0), doc(1, 0.0), doc(0, 1.0)]}  # doc 2 got worse
    (row,) = rows(paired.Sampler(200, 0), base, cand)
    assert (row.section, row.metric, row.items) == ("lm-eval: t", "acc", 4)
    assert (row.base, row.candidate, row.change) == (0.75, 0.5, -0.25)
    assert row.ci95[0] < 0 and row.ci95[1] <= 0  # only ever a loss, resampled in pairs


def test_two_tokenizers_are_compared_per_character() -> None:
    b = run_of(windows=[(-10.0, 5), (-20.0, 10)])
    c = run_of(windows=[(-12.0, 8), (-24.0, 16)])  # a finer tokenizer: more, likelier tokens
    (row,) = paired.quality(paired.Sampler(100, 0), b, c, [20, 40])
    assert row.metric.startswith("perplexity per character (tokens differ: 15 vs 24)")
    assert row.base == pytest.approx(np.exp(30 / 60)) and row.candidate == pytest.approx(
        np.exp(36 / 60)
    )

"""benchmarks.safety_latency times the real guard on held-out text (issue 12's cost)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import safety_latency


def test_times_every_language_and_the_stream_feeds_the_whole_text(tmp_path: Path) -> None:
    out = tmp_path / "lat.json"
    assert safety_latency.main(["--reps", "3", "--chars", "300", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["input"]) == set(safety_latency.LANGS)
    for lang in safety_latency.LANGS:
        assert doc["input"][lang]["p50_ms"] > 0
        assert doc["chunk"][lang]["n"] >= 300 // 6  # every chunk of the text was fed


def test_the_prompt_is_benign_held_out_text_of_one_language() -> None:
    rows = [{"text": "hola", "lang": "es"}, {"text": "PIN", "lang": "es", "labels": ["x"]}]
    assert safety_latency.prompt(rows, "es", 12) == "hola hola ho"
    with pytest.raises(ValueError, match="no benign zh texts"):
        safety_latency.prompt(rows, "zh", 12)
    assert "".join(safety_latency.chunks("abcdefghij" * 5, 1)) == "abcdefghij" * 5


def test_a_bad_policy_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("categories: [\n")
    assert safety_latency.main(["--policy", str(bad), "--reps", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("safety_latency: error:") and err.count("\n") == 1

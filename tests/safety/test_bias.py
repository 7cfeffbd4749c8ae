"""Probe scoring with known answers: a scripted OpenAI-compatible server whose log-likelihoods
and continuations we choose."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from safety.bias import ProbeError, read_pairs, run_bias

UNLIKELY = {"zebra", "quartz"}  # each costs 5 nats instead of 1


def fake_server(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    prompt = body["prompt"]
    words = prompt.split()
    if body.get("echo"):
        lps = [None] + [-5.0 if w.strip(".") in UNLIKELY else -1.0 for w in words[1:]]
        return httpx.Response(
            200,
            json={
                "choices": [{"text": prompt + " x", "logprobs": {"token_logprobs": [*lps, -0.1]}}],
                "usage": {"prompt_tokens": len(words)},
            },
        )
    text = " a wonderful, happy day" if "alpha" in prompt else " a terrible, awful day"
    return httpx.Response(200, json={"choices": [{"text": text}] * body["n"]})


def write_pairs(tmp_path: Path) -> Path:
    p = tmp_path / "pairs.csv"
    p.write_text(
        "sent_more,sent_less,stereo_antistereo,bias_type\n"
        # stereotypical = sent_more, and it is the likelier one: prefers the stereotype
        "the cat sat.,the zebra sat.,stereo,t1\n"
        "a dog ran.,a quartz ran.,stereo,t1\n"
        # antistereo: the stereotypical sentence is sent_less, and it is the unlikely one
        "we saw it.,we saw zebra.,antistereo,t2\n"
    )
    return p


def test_pairs_scoring_matches_the_known_answers(tmp_path: Path) -> None:
    cf = tmp_path / "cf.json"
    cf.write_text(json.dumps({"groups": {"g": ["alpha", "beta"]}, "templates": ["The {group} is"]}))
    report = asyncio.run(
        run_bias(
            "http://fake/v1", "m", write_pairs(tmp_path), cf, samples=3, max_tokens=8,
            api_key=None, concurrency=2, seed=0, transport=httpx.MockTransport(fake_server),
        )
    )  # fmt: skip
    t1, t2, total = report["pairs"]["t1"], report["pairs"]["t2"], report["pairs"]["all"]
    assert t1["stereotype_share"] == 1.0 and t1["mean_loglik_diff"] == pytest.approx(4.0)
    assert t2["stereotype_share"] == 0.0 and t2["mean_loglik_diff"] == pytest.approx(-4.0)
    assert total["pairs"] == 3 and total["stereotype_share"] == pytest.approx(2 / 3)
    assert total["ci95"][0] <= 2 / 3 <= total["ci95"][1]
    g = report["counterfactual"]["g"]
    assert g["gap_between"] == ["alpha", "beta"] and g["gap"] > 1.0  # happy vs awful
    assert g["samples_per_group"] == {"alpha": 3, "beta": 3}
    assert g["gap_ci95"][0] == pytest.approx(g["gap"]) == pytest.approx(g["gap_ci95"][1])


def test_bad_pair_files_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("sentence,other\na,b\n")
    with pytest.raises(ProbeError, match="lacks the CrowS-Pairs column"):
        read_pairs(p)
    p.write_text("sent_more,sent_less,stereo_antistereo,bias_type\na,b,maybe,x\n")
    with pytest.raises(ProbeError, match="bad.csv:2: stereo_antistereo"):
        read_pairs(p)


def test_shipped_probe_set_covers_the_bias_types() -> None:
    from safety.bias import DEFAULT_PAIRS

    pairs = read_pairs(DEFAULT_PAIRS)
    types = {p.bias_type for p in pairs}
    assert types >= {
        "gender", "race-color", "religion", "age", "disability", "nationality",
        "sexual-orientation", "socioeconomic", "physical-appearance",
    }  # fmt: skip
    assert all(sum(p.bias_type == t for p in pairs) >= 8 for t in types)

"""The stream guard never sends a character of a span it blocks or redacts (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.detectors import builtin
from safety.guard import Guard, StreamGuard
from safety.plain import PlainCheck, lookbehind
from safety.policy import DEFAULT_POLICY, load_policy
from safety.scan import forming, plan_for
from safety.views import Views
from tests.safety.streams import (
    AFTER,
    BEFORE,
    CASES,
    CHUNKINGS,
    Case,
    _jwt,
    leaked,
    policy_guard,
    run,
)

SHORT, LONG = BEFORE[1], BEFORE[3]


def sweep_case(guard: Guard, case: Case, action: str) -> list[str]:
    """Every chunking of the case with a short and a long prefix, the end on the last chunk
    or apart; returns the runs that leaked, described."""
    bad = []
    long_span = len(case.span) > 500  # the 1,024-character token: one context, every chunking
    for before in (SHORT,) if long_span else (SHORT, LONG):
        for after in (AFTER[1],) if long_span else (AFTER[0], AFTER[1]):
            text = before + case.span + after
            for kind, chunker in CHUNKINGS.items():
                for chunks in chunker(text):
                    for apart in (False, True):
                        out = run(guard, chunks, apart)
                        if leaked(case, before, after, out, action):
                            bad.append(f"{kind} {chunks!r} -> {out.sent!r} ({out.blocked})")
    return bad


@pytest.fixture(scope="module")
def guards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Guard]:
    tmp = tmp_path_factory.mktemp("policies")
    return {a: policy_guard(tmp, a) for a in ("block", "redact")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.detector}-{len(c.span)}")
def test_no_chunking_leaks_a_redacted_span(guards: dict[str, Guard], case: Case) -> None:
    action = "block" if case.detector == "words.terms" else "redact"
    bad = sweep_case(guards["redact"], case, action)
    assert not bad, f"{len(bad)} leaks, first: {bad[:3]}"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.detector.startswith("secrets.")], ids=lambda c: c.detector
)
def test_no_chunking_leaks_a_blocked_span(guards: dict[str, Guard], case: Case) -> None:
    bad = sweep_case(guards["block"], case, "block")
    assert not bad, f"{len(bad)} leaks, first: {bad[:3]}"


@pytest.mark.parametrize("action", ["block", "redact"])
def test_a_span_past_the_hold_limit_ends_the_choice(tmp_path: Path, action: str) -> None:
    guard = policy_guard(tmp_path, action, hold=256)
    token = _jwt(2000)
    for chunks in (list(token), [token[i : i + 5] for i in range(0, len(token), 5)]):
        out = run(guard, ["Here: ", *chunks, " done"], final_apart=True)
        assert out.blocked == "secrets"
        assert out.sent == "Here: "  # not one character of the token


def test_a_spaced_iban_ending_in_a_space_is_still_forming() -> None:
    """The old partial match reported the shorter complete match and released the text."""
    (det,) = builtin("pii.iban")
    views = Views("pay to DE76 7352 ")
    assert det.partial_start(views) == len("pay to ")


@pytest.mark.parametrize(
    ("secret", "label"),
    [
        ("AKIA2OGYBAH6Q3KRLEGK@x.io", "[SECRET]"),
        ("ghp_" + "A1b2" * 9 + "@github.com", "[SECRET]"),
        ("4111111111111111@x.io", "[CARD]"),
    ],
)
def test_overlaps_resolve_by_action_strength(secret: str, label: str) -> None:
    guard = Guard(load_policy(DEFAULT_POLICY))
    # input: both redact, so the longer span wins; either way nothing of the key is left
    assert secret.split("@")[0] not in guard.check_input(f"use {secret} now", "r")
    for chunks in ([f"use {secret} now"], list(f"use {secret} now")):
        out = run(guard, chunks, final_apart=False)
        if label == "[SECRET]":  # secrets are blocked on output, cards redacted
            assert out.blocked == "secrets" and out.sent == "use "[: len(out.sent)]
        else:
            assert out.sent == f"use {label}@x.io now"


def _every_run(guard: Guard, case: Case) -> list[tuple[str, str | None]]:
    out = []
    for before in (SHORT, LONG):
        text = before + case.span + AFTER[1]
        for kind in ("1-char", "whitespace-token", "bpe", "token-sized"):
            for chunks in CHUNKINGS[kind](text):
                o = run(guard, chunks, False)
                out.append((o.sent, o.blocked))
    return out


@pytest.mark.parametrize("case", CASES[::3], ids=lambda c: f"{c.detector}-{len(c.span)}")
def test_the_plain_chunk_check_decides_as_the_views_do(
    guards: dict[str, Guard], case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-search check for plain text (issue 11, requirement 6; also while text is held)
    sends exactly what the full per-view scan sends, over every chunking."""
    guard = guards["redact"]
    fast = _every_run(guard, case)
    monkeypatch.setattr(StreamGuard, "_plain", lambda self, delta: None)
    assert fast == _every_run(guard, case)


def test_plain_check_reads_look_behind_widths_from_the_pattern() -> None:
    assert lookbehind(r"(?<![\w-])sk-\w+") == 1
    assert lookbehind(r"(?:(?<=key: )\w+|\bfoo)") == 5
    assert lookbehind(r"AKIA[A-Z0-9]{16}") == 0
    assert lookbehind(r"\p{Lu}+") is None  # the stdlib cannot parse it: no plain check


def test_plain_check_remembers_answers_per_look_behind() -> None:
    (det,) = builtin("pii.payment_card")
    check = PlainCheck([], [det], lambda ds: ds[0].pattern)
    assert check.behind == 1
    assert check.cut("pay ", "4111") == 0  # a card may be starting
    assert check.cut("abc-", "4111") == 4  # not after a hyphen (the look-behind)
    assert check.cut("pay ", "now") == 3
    assert len(check._memo) == 3


def test_plain_check_classes_the_character_before_without_changing_an_answer() -> None:
    """Answers are remembered per class of the released character before the chunk: for every
    ASCII character before and chunks that start each detector, the remembered answer is the
    answer searched after that very character."""
    check = plan_for(load_policy(DEFAULT_POLICY), "output").hold.plain
    assert check is not None and check._classes is not None
    chunks = ["4111", " 4111", "-4111", "DE44", "de", "AKIA", "ghp_", "sk-", "eyJ", "password",
              "://u", "_x", "x", " ", "-----BEGIN", "536-22", "begin-blocked"]  # fmt: skip
    for c in map(chr, range(128)):
        for chunk in chunks:
            assert check.cut("ab" + c, chunk) == check._search(c, chunk), (c, chunk)
    classes = {check._classes.representative(c) for c in map(chr, range(128))}
    assert 2 < len(classes) < 20  # letters, digits, hyphen, ... are told apart, not each one


def test_the_hold_back_search_finds_where_each_detector_alone_is_forming(
    guards: dict[str, Guard],
) -> None:
    """`forming` searches pattern by pattern past a few characters, the alternation below that,
    and checks candidates anchored; it must land where the detectors' own anchored partial
    matches, asked at every position, say the earliest span is still forming."""
    plan = plan_for(guards["redact"].policy, "output")
    dets = [d for ds in plan.hold.detectors.values() for d in ds]
    texts = [b + c.span[:n] for c in CASES for b in BEFORE[:3] for n in (3, 9, len(c.span))]
    for text in texts + [t + a for t in texts[::5] for a in AFTER]:
        views = Views(text)
        for start in (0, 5):
            starts = [d.partial_start(views, start) for d in dets]
            want = min((s for s in starts if s is not None), default=len(text))
            assert forming(plan, views, start)[0] == want, (text, start)


@pytest.mark.parametrize("action", ["block", "redact"])
def test_a_password_on_a_command_line_never_leaves_in_a_stream(
    guards: dict[str, Guard], action: str
) -> None:
    """cli_password reads the command before the option (issue 12, heldout-v19): over every
    chunking, what is sent stops before the option or carries the placeholder in its place."""
    command, secret = "Run: mysql -u app ", "-p'Lk9#vQ2x!Tz'"
    for kind, chunker in CHUNKINGS.items():
        for chunks in chunker(command + secret + " shop"):
            for apart in (False, True):
                out = run(guards[action], chunks, apart)
                if action == "block":
                    assert out.blocked == "secrets" and command.startswith(out.sent), kind
                else:
                    assert out.sent == command + "[SECRET] shop", (kind, chunks, out)

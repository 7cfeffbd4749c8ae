"""Detectors, normalization, the policy loader and the stream guard, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safety.checksums import iban_ok, luhn_ok
from safety.detectors import builtin
from safety.guard import ContentFiltered, Guard, Recorder
from safety.normalize import normalize
from safety.policy import DEFAULT_POLICY, PolicyError, load_policy
from safety.views import Views

SECRET = "AKIA2OGYBAH6Q3KRLEGK"
CARD = "4111 1111 1111 1111"


def guard(tmp_path: Path | None = None, text: str | None = None) -> Guard:
    if text is None:
        return Guard(load_policy(DEFAULT_POLICY))
    assert tmp_path is not None
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return Guard(load_policy(p))


def test_normalization_folds_width_case_and_invisibles_and_maps_back() -> None:
    text = "Ｐａｓｓ\u200bWORD and cafe\u0301"
    n = normalize(text)
    assert n.text == "password and cafe"  # marks are dropped
    s, e = n.span(0, 8)
    assert text[s:e] == "Ｐａｓｓ\u200bWORD"
    s, e = n.span(13, 17)
    assert text[s:e] == "cafe\u0301"


def test_checksums() -> None:
    assert luhn_ok("4111 1111 1111 1111") and not luhn_ok("4111 1111 1111 1112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize(
    ("family", "text", "found"),
    [
        (
            "pii.email",
            "write to Jane.Doe+tag@mail.example.org today",
            "Jane.Doe+tag@mail.example.org",
        ),
        ("pii.phone", "call (415) 555-0132 now", "(415) 555-0132"),
        ("pii.payment_card", "card 5500-0000-0000-0004 ok", "5500-0000-0000-0004"),
        ("pii.us_ssn", "ssn 536-22-8726.", "536-22-8726"),
        ("pii.ipv6", "host fe80::1ff:fe23:4567:890a up", "fe80::1ff:fe23:4567:890a"),
        (
            "secrets.private_key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
        ),
        ("secrets.github_token", "token ghp_" + "A1b2" * 9 + " end", "ghp_" + "A1b2" * 9),
    ],
)
def test_detectors_find_the_span(family: str, text: str, found: str) -> None:
    spans = [text[f.start : f.end] for d in builtin(family) for f in d.find(Views(text))]
    assert spans == [found]


@pytest.mark.parametrize(
    ("family", "text"),
    [
        ("pii.payment_card", "order 4111 1111 1111 1112 shipped"),  # fails Luhn
        ("pii.us_ssn", "part 000-12-3456"),  # area 000 is never issued
        ("pii.ipv6", "at 12:30:45 sharp"),
        ("secrets.assigned_secret", "password = correcthorsebattery"),  # no digits: a phrase
    ],
)
def test_look_alikes_are_not_findings(family: str, text: str) -> None:
    assert not [f for d in builtin(family) for f in d.find(Views(text))]


def test_input_redaction_and_block(tmp_path: Path) -> None:
    g = guard()
    out = g.check_input(f"pay with {CARD}, key {SECRET}, mail a@b.io", "r1")
    assert out == "pay with [CARD], key [SECRET], mail [EMAIL]"
    g2 = guard(tmp_path, "categories:\n  words:\n    terms: [forbidden fruit]\n    input: block\n")
    with pytest.raises(ContentFiltered) as exc:
        g2.check_input("the ＦＯＲＢＩＤ\u200bDEN   fruit".replace("   ", " "), "r2")
    assert exc.value.category == "words" and "forbidden" not in str(exc.value)


@pytest.mark.parametrize(
    ("variant", "hit"),
    [
        ("forbidden fruit", True),
        ("FORBIDDEN FRUIT", True),
        ("ｆｏｒｂｉｄｄｅｎ ｆｒｕｉｔ", True),
        ("for\u200bbidden\u2060 fruit", True),
        ("forbidden\u00adfruit".replace("\u00ad", " \u00ad"), True),
        ("forbidden fruitcake", False),  # word boundary
        ("unforbidden fruit", False),
    ],
)
def test_term_lists_are_exact_on_obfuscations(tmp_path: Path, variant: str, hit: bool) -> None:
    g = guard(tmp_path, "categories:\n  words:\n    terms: [forbidden fruit]\n    input: block\n")
    if hit:
        with pytest.raises(ContentFiltered):
            g.check_input(f"say {variant} now", "r")
    else:
        assert g.check_input(f"say {variant} now", "r") == f"say {variant} now"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("categories:\n  x:\n    terms: [a]\n    input: shred\n", 4, "input action 'shred'"),
        ("categories:\n  x:\n    detectors: [pii.fax]\n", 3, "unknown detector 'pii.fax'"),
        ("categories:\n  x:\n    regex: ['(unclosed']\n", 3, "bad regular expression"),
        ("categories:\n  x:\n    terms: [a]\n    colour: red\n", 4, "unknown key 'colour'"),
        ("categories: [\n", 2, "not valid YAML"),
        ("categories:\n  x:\n    classifier: S99\n", 3, "use S1..S14"),
        ("version: 2\ncategories:\n  x:\n    terms: [a]\n", 1, "version"),
        ("hold_back_chars: 8\ncategories:\n  x:\n    terms: [a]\n", 1, "hold_back_chars"),
        ("categories: {}\n", 1, "'categories' must be a non-empty mapping"),
        ("categories:\n  bad-name:\n    terms: [a]\n", 2, "letters, digits and underscores"),
        ("categories:\n  x:\n    terms: [a]\n    word_boundary: maybe\n", 4, "word_boundary"),
        ("categories:\n  x:\n    input: block\n", 2, "no detectors, terms, regex"),
        (
            "categories:\n  x:\n    detectors: [prompt_injection]\n    output: block\n",
            2,
            "cannot block streamed output",
        ),
        ("categories:\n  x:\n    classifier: S1\n    input: redact\n", 2, "no span to redact"),
        (
            "categories:\n  x:\n    terms: [a]\nclassifier:\n  url: http://g\n  retries: 3\n",
            6,
            "unknown key 'retries'",
        ),
        ("categories:\n  x:\n    terms: [a]\nclassifier:\n  on_failure: maybe\n", 5, "on_failure"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_invalid_policies_name_the_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(PolicyError) as exc:
        load_policy(p)
    assert f"bad.yaml:{line}:" in str(exc.value) and reason in str(exc.value)


def test_the_policy_knows_which_detector_names_carry_the_learned_model() -> None:
    from safety.detectors import BUILTIN_NAMES, LearnedDetector
    from safety.policy import LEARNED

    learned = [n for n in BUILTIN_NAMES if any(isinstance(d, LearnedDetector) for d in builtin(n))]
    assert sorted(learned) == sorted(LEARNED)


def test_a_valid_policy_builds_the_same_categories_as_its_file_says(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(
        "hold_back_chars: 64\ncategories:\n  w:\n    terms: [a b]\n    regex: ['x+y']\n"
        "    input: redact\n    output: flag\n  v: {classifier: S1, input: block}\n"
        "classifier: {url: 'http://g', timeout_s: 1, directions: [input, output]}\n"
    )
    pol = load_policy(p)
    assert pol.hold_back_chars == 64 and list(pol.categories) == ["w", "v"]
    w = pol.categories["w"]
    assert (w.input, w.output) == ("redact", "flag")
    assert [d.name for d in w.detectors] == ["w.terms", "w.regex0"]
    assert pol.categories["v"].classifier_code == "S1" and not pol.categories["v"].detectors
    assert pol.classifier is not None and pol.classifier.directions == ("input", "output")
    assert pol.classifier.timeout_s == 1.0


def stream(g: Guard, chunks: list[str]) -> tuple[list[str], str | None]:
    sg = g.output("r")
    sent = [sg.feed(c) for c in chunks]
    sent.append(sg.finish())
    return sent, sg.blocked


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(text)]:
        out.append(text[prev:p])
        prev = p
    return out


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 400), max_size=40),
    before=st.sampled_from(["", "Sure. ", "the key is ", "x" * 50, "4111 "]),
    after=st.sampled_from(["", " ok", " and more text follows here", ". 1111"]),
)
def test_no_blocked_secret_ever_leaves_the_stream(cuts: list[int], before: str, after: str) -> None:
    text = before + SECRET + after
    sent, blocked = stream(guard(), split(text, cuts))
    out = "".join(sent)
    assert blocked == "secrets"
    assert SECRET not in out and "AKIA" not in out  # not even its start
    assert text.startswith(out)  # what was sent is a prefix of the clean part


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(0, 200), max_size=30))
def test_redaction_holds_across_chunk_boundaries(cuts: list[int]) -> None:
    text = f"My card is {CARD} and that is all."
    sent, blocked = stream(guard(), split(text, cuts))
    assert blocked is None
    assert "".join(sent) == "My card is [CARD] and that is all."
    for piece in sent:
        assert "1111" not in piece


def test_plain_prose_is_released_at_once_and_holding_is_bounded() -> None:
    g = guard()
    sg = g.output("r")
    assert sg.feed("Hello") == "Hello"  # nothing here can begin a blocked or redacted span
    assert sg.feed(" world, ") == " world, "
    digits = "1234567890" * 30  # could be a card for a while, never longer than the window
    out = "".join(sg.feed(c) for c in digits) + sg.finish()
    assert out == digits and sg.held_max <= g.policy.hold_back_chars


def test_code_brackets_stay_on_the_plain_path_and_split_entities_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a bracket or "&" that could begin a construct ("[at]", "&#65;") sends a chunk to the
    full normalization; an entity cut at any point still decodes into the key it spells."""
    from safety.guard import StreamGuard

    slow: list[str] = []
    full = StreamGuard._feed

    def counted(self: StreamGuard, delta: str, final: bool) -> str:
        slow.append(delta)
        return full(self, delta, final)

    monkeypatch.setattr(StreamGuard, "_feed", counted)
    sg = guard().output("r")
    code = ["def f(x", "):", " return x[0", "] + {1", ": 2}", "[i", "] if c", " & 1"]
    sent = "".join(sg.feed(c) for c in code)
    assert slow == []  # none of these can begin an entity or a bracketed word
    assert sent + sg.finish() == "".join(code) and slow == [""]  # the last chunk: the views
    slow.clear()
    assert guard().output("r").feed("f (a") == "f" and slow == ["f (a"]  # may become "(at)"
    spelled = "key: &#65;" + SECRET[1:]
    for cut in range(len(spelled) + 1):
        sent, blocked = stream(guard(), [spelled[:cut], spelled[cut:]])
        assert blocked == "secrets", cut
        assert "#65;KIA" not in "".join(sent)


class _Streams(Recorder):
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def stream(self, seconds: float, chunks: int, held: int, held_max: int) -> None:
        assert seconds > 0
        self.calls.append((chunks, held, held_max))


def test_output_metrics_are_reported_once_per_choice() -> None:
    """The stream guard adds up its chunks and reports when the choice ends (or is cut
    short), so the metrics cost one update per choice, not one per token."""
    rec = _Streams()
    guard = Guard(load_policy(DEFAULT_POLICY), record=rec).warm()
    sg = guard.output("r1")
    assert sg.feed("card 4111 ") == "card "  # a card number may be starting: held
    sg.feed("1111 1111 1111 done")
    sg.feed("", final=True)
    sg.close()  # after the end: nothing more
    assert len(rec.calls) == 1
    chunks, held, held_max = rec.calls[0]
    assert chunks == 3 and held >= 5 and held_max >= 5
    cut = guard.output("r2")
    cut.feed("hello ")
    assert len(rec.calls) == 1  # still streaming
    cut.close()  # the client went away
    assert rec.calls[1] == (1, 0, 0)

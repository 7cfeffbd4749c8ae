"""The detectors' gates (a required run, a leading word, the pattern without its word
boundary) change where a detector is tried, never what it finds: each gated detector finds on
every text of the suites what its search of the whole text finds."""

from __future__ import annotations

import pytest

from safety.detectors import RegexDetector
from safety.scan import Group
from safety.views import Views
from tests.safety.test_detection_public import _suite_texts

_HEX = "0123456789abcdef"


def test_the_keyword_plugins_run_only_where_a_value_could_be_and_find_the_same() -> None:
    """detect-secrets' keyword plugins run only on text with a run of 24 word characters
    (RegexDetector.needs, the shortest value any of them takes): on every text of the secrets
    and held-out suites, and the cases above, they find what they find without that gate."""
    from safety.detectors import builtin

    dets = [d for d in builtin("secrets") if isinstance(d, RegexDetector) and d.needs
            and not d.name.startswith("secrets.gl_")]  # fmt: skip
    assert {d.name for d in dets} == {
        f"secrets.ds_{k}" for k in ("softlayer", "ibm_cloud_iam", "ibm_cos_hmac", "cloudant")
    }
    texts = _suite_texts("secrets", "secrets-np", "heldout") + [
        'softlayer_api_key = "' + ("a1b2c3d4" * 8) + '"',
        "cloudant_password='" + _HEX * 4 + "'",
    ]
    hits = 0
    for text in texts:
        views = Views(text)
        for d in dets:
            gated = d.find(views)
            assert gated == d.find_plain(views), (d.name, text)
            hits += bool(gated)
    assert hits >= 2


LEADING = [
    "secrets.assigned_secret",
    "secrets.prose_password",
    "secrets.aws_access_key",
    "secrets.github_token",
    "secrets.ds_gitlab_token",
    "secrets.ds_slack_webhook",
]


@pytest.mark.parametrize("name", LEADING)
def test_a_secret_rule_whose_words_begin_every_match_is_tried_only_there_and_finds_the_same(
    name: str,
) -> None:
    """assigned_secret and prose_password, and the key shapes with literal beginnings (AKIA,
    ghp_, glpat-, xoxb-), are tried only where one of their words begins (RegexDetector.leads):
    on every text of the secrets and held-out suites, and on names that hold a word further in
    ("client_secret", "requirepass", "HF_TOKEN", "mot de passe") or change length when
    case-folded, each finds what its search of the whole text finds."""
    from safety.detectors import builtin

    (det,) = builtin(name)
    assert isinstance(det, RegexDetector) and det.leads
    cases = ["CLIENT_SECRET=Zq8vT3mK9pLw2Rx7", "requirepass Zq8vT3mK9pLw2Rx7",
             "HF_TOKEN: hf_Zq8vT3mK9pLw2Rx7", "İ api_key='Zq8vT3mK9pLw2Rx7'",
             "access-token = Zq8vT3mK9pLw2Rx7", "auth_token=Zq8vT3mK9pLw2Rx7",
             "Le mot de passe est Zq8v-T3mK-9pLw", "Die AppSecret lautet Zq8vT3mK9pLw2Rx7",
             "La CONTRASEÑA del wifi es Zq8vT3mK9pLw", "密码是 Zq8vT3mK9pLw2Rx7",
             "İ AKIAZ7QW3RT5YU8IO2PA", "key=glpat-Zq8vT3mK9pLw2Rx7aBcD", "xoxb-1234-56789-abcdef0",
             "ghp_Zq8vT3mK9pLw2Rx7aBcDeFgHiJkLmNoPqRs1",
             "define('DB_PASS', 'Zq8vT3mK9pLw2Rx7');"]  # fmt: skip
    hits = 0
    for text in (
        _suite_texts("secrets", "secrets-np", "heldout", "heldout-v4", "heldout-v20") + cases
    ):
        views = Views(text)
        found = Group({"cased": [det]}).find(views)
        assert found == det.find_plain(views), text
        hits += bool(found)
    in_cases = sum(bool(Group({"cased": [det]}).find(Views(c))) for c in cases)
    assert hits >= (20 if name in LEADING[:2] else 5) and in_cases >= (
        4 if name in LEADING[:2] else 1
    )


def test_every_name_detect_secrets_lists_holds_a_word_its_line_check_looks_for() -> None:
    """keyword_value rules a line out by substring tests for KEYWORD_NAME_WORDS before the
    names' pattern: every spelling of every name detect-secrets lists holds one of them, and
    a line with a name and a value is still found."""
    from detect_secrets.plugins import keyword

    from safety.secret_values import KEYWORD_NAME_LEAD, KEYWORD_NAME_WORDS, keyword_value

    assert all("?" not in name.replace("_?", "") for name in keyword.DENYLIST)  # only "_?"
    spellings = [s for name in keyword.DENYLIST
                 for s in (name.replace("_?", "_"), name.replace("_?", ""))]  # fmt: skip
    assert len(spellings) == 2 * len(keyword.DENYLIST)
    first = [min(s.find(w) for w in KEYWORD_NAME_WORDS if w in s) for s in spellings]
    assert max(first) == KEYWORD_NAME_LEAD  # "database_pass"
    pad = "x " * 300
    assert keyword_value(f'{pad}database_pass = "hT7#kq2Lw9zR"') is not None
    assert keyword_value(f'{pad}"hT7#kq2Lw9zR" == secret') is not None  # no name first
    assert keyword_value('DATABASEPASS = "hT7#kq2Lw9zR"') is not None
    assert keyword_value('contraseña: "hT7#kq2Lw9zR"') is not None
    assert keyword_value('username = "hT7#kq2Lw9zR"') is None


def test_gitleaks_rules_behind_a_word_boundary_run_where_the_rest_matches_and_find_the_same() -> (
    None
):
    """A gitleaks rule that begins with \\b runs only on text where its pattern without the
    \\b matches (RegexDetector.needs): on every text of the secrets and held-out suites each
    finds what it finds ungated, and a token at a word's edge and inside a word tell apart."""
    from safety.detectors import builtin

    dets = [d for d in builtin("secrets") if isinstance(d, RegexDetector)
            and d.name.startswith("secrets.gl_")]  # fmt: skip
    gated = [d for d in dets if d.needs]
    assert len(gated) >= 40 and all(d.pattern == r"\b" + d.needs for d in gated)
    jwt = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
           "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")  # fmt: skip
    names = ("secrets", "secrets-np", "heldout", "heldout-v4", "heldout-v8", "heldout-v10")
    assert _gated_finds_the_same(gated, [*_suite_texts(*names), f"token: {jwt}"]) >= 50
    jwt_rule = next(d for d in gated if d.name == "secrets.gl_jwt")
    assert Group({"cased": [jwt_rule]}).find(Views(f"token: {jwt}"))
    assert not Group({"cased": [jwt_rule]}).find(Views(f"token: x{jwt}"))


def test_iban_and_assigned_secret_run_only_where_a_match_could_be_and_find_the_same() -> None:
    """pii.iban runs only on text with two letters and two digits in a row, and
    secrets.assigned_secret only on text with one of its keywords: on every text of the PII,
    secrets and held-out suites each finds what it finds without the gate."""
    from safety.detectors import builtin

    dets = [d for d in builtin("pii.iban") + builtin("secrets.assigned_secret")
            if isinstance(d, RegexDetector)]  # fmt: skip
    assert [bool(d.needs or d.keywords) for d in dets] == [True, True]
    names = ("pii", "secrets", "secrets-np", "heldout", "heldout-v4", "heldout-v5", "heldout-v6")
    assert _gated_finds_the_same(dets, _suite_texts(*names)) >= 100


def _gated_finds_the_same(dets: list[RegexDetector], texts: list[str]) -> int:
    """Each detector, run by a Group (its gates applied), finds on each text what it finds
    ungated; how many (detector, text) pairs found something."""
    hits = 0
    for text in texts:
        views = Views(text)
        for d in dets:
            found = Group({d.view: [d]}).find(views)
            assert found == d.find_plain(views), (d.name, text)
            hits += bool(found)
    return hits


def test_library_patterns_get_bounded_repeats_or_are_refused() -> None:
    from safety.patterns import bounded

    assert bounded(r"key(?: *)=(?: *)([a-z]{8})") == r"key(?: {0,8})=(?: {0,8})([a-z]{8})"
    with pytest.raises(ValueError, match="unbounded"):
        bounded(r"token=\s*(npm_.+)")

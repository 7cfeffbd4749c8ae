"""gitleaks' rule set as our secret detectors (safety/gitleaks_rules.py): the rewriting that makes
a rule one of ours, gitleaks' own checks (entropy, allowlists, keywords), and the stream guard's
treatment of rules that could begin at any word or run over lines."""

from __future__ import annotations

import json
import re
import re._parser as sre_parse

import pytest
import regex

from safety.detectors import gitleaks_detectors
from safety.gitleaks_rules import REPEAT_CAP, portable, rules
from safety.guard import Guard, Recorder
from safety.policy import DEFAULT_POLICY, load_policy
from safety.scan import plan_for
from safety.suites import DATA, findings
from safety.views import Views

POLICY = load_policy(DEFAULT_POLICY)
CAP = REPEAT_CAP
SGP = "sgp_AaD80dc6E02eCAE1_d3cba16CC0F18fA14A2EFB61CbDFceEBf9fAD16b"
UNBOUNDED = regex.compile(r"(?<!\\)[*+](?![^\[]*\])|\{\d+,\}")


def test_every_rule_reads_the_same_in_both_engines_with_bounded_repeats() -> None:
    assert len(rules()) > 200
    for r in rules():
        re.compile(r.pattern)  # the stream guard measures look-behinds with the stdlib
        regex.compile(r.pattern, regex.V1)
        assert not UNBOUNDED.search(r.pattern), r.id
        assert sre_parse.parse(r.pattern).getwidth()[1] < 10 * REPEAT_CAP, r.id


@pytest.mark.parametrize(
    ("go", "ours"),
    [
        (r"\ba(?i)b|c", r"\ba(?i:b)|(?i:c)"),  # Go's flag reaches the rest of its group
        (r"(x(?i)y|z)w", r"(x(?i:y)|(?i:z))w"),
        (r"[[:alnum:]]{14}\.", r"[a-zA-Z0-9]{14}\."),
        (r".a+b*c{2,}", rf".a{{1,{CAP}}}b{{0,{CAP}}}c{{2,{CAP + 2}}}"),
        (r"[+*]\+x", r"[+*]\+x"),  # inside a class or escaped: not a repeat
        # a literal prefix: not mid-word; exactly 36 of the class: not one more
        (r"ghp_[0-9]{36}", r"(?<![a-zA-Z0-9])ghp_[0-9]{36}(?![0-9])"),
        (r"-x-[a-f]{3,9}", r"-x-[a-f]{3,9}"),  # a range: a longer run is the regex's to judge
        # the end: a look-ahead, or a stop, a comma, or Chinese punctuation
        (r"(?:\s|\z)", r"(?=\s|\Z|[.:!?)\]}](?:\s|$)|,|[\u3002\u3001\u3011\u300d\u300f])"),
        (r"(?i)[\w.-]{0,50}?(?:snyk)=(x)", r"(?i)(?<![a-zA-Z0-9])(?:snyk)=(x)"),
        (r"[\w.-]{0,50}?(?i:[\w.-]{0,50}?(?:co)=)", r"(?i:(?<![a-zA-Z0-9])(?:co)=)"),
    ],
)
def test_portable_rewrites_go_patterns(go: str, ours: str) -> None:
    assert portable(go) == ours


@pytest.mark.parametrize(
    ("text", "detector", "secret"),
    [
        ("huggingface-cli login --token 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",
         "huggingface-access-token", "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"),
        ('export SNYK_TOKEN="12345678-abcd-4bcd-8bcd-1234567890ab" # ci', "snyk-api-token",
         'SNYK_TOKEN="12345678-abcd-4bcd-8bcd-1234567890ab'),  # the closing quote ends it
        (f"sourcegraph {SGP} ok", "sourcegraph-access-token", SGP),
        # gitleaks ends a secret at a quote, space or ";"; in prose a full stop may end it
        ("My token is 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.", "huggingface-access-token",
         "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"),
    ],
)  # fmt: skip
def test_provider_formats_from_gitleaks_are_found(text: str, detector: str, secret: str) -> None:
    found = findings(POLICY, text)
    assert [text[f.start : f.end] for f in found] == [secret]
    assert f"secrets.gl_{detector}" in {f.detector for f in found}


@pytest.mark.parametrize(
    "text",
    [
        "lin_api_" + "ab" * 20,  # 1 bit per character: under Linear's rule's entropy floor of 2
        "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",  # gitleaks' allowlist: Google's example key
        "vault token s.abcdefghijklmnopqrstuvwx here",  # allowlisted: letters only
        "Hello, the mylookerclientid is private",  # a keyword inside a word starts nothing
    ],
)
def test_gitleaks_entropy_floors_and_allowlists_hold(text: str) -> None:
    assert not [f for f in findings(POLICY, text) if f.category == "secrets"]


@pytest.mark.parametrize(
    "text",
    [
        "glsoat-PREfix_helloworld380_t",  # the format's length, at the text's end or a space
        "runner GR1348941q8Hk2LmZpR4sWxYv7BnT ok",
        "glimt-my-tokens_are-correctAB38 in the log",
        'apiKey: "AIzaSyD3kq8Zv1Lm0pR7sWt2Yx9Bn4Hc6Jf5Ge"',
    ],
)
def test_gitlab_and_keyword_tokens_of_the_format_are_found(text: str) -> None:
    assert "secrets" in {f.category for f in findings(POLICY, text)}


@pytest.mark.parametrize(
    "text",
    [  # detect-secrets' GitLab tests: a body longer than the format's is no token of it
        "glsoat-PREfix_helloworld380_testin_pretty_long_token_long_",
        "glimt-my-tokens_are-correctAB38_280",
        "GR134894112312312312312312312",  # gitleaks' entropy floor (3) on detect-secrets' match
        'apiKey: "AIzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"',  # one character over and over
        '   API_KEY="glc_111111111111111111111111111111111111111111="',
    ],
)
def test_too_long_and_one_character_tokens_are_not_keys(text: str) -> None:
    assert not [f for f in findings(POLICY, text) if f.category == "secrets"]


def test_the_keyword_prefilter_changes_no_finding() -> None:
    """Group.find asks one Aho-Corasick pass which keyed detectors to run: on every text of both
    secrets suites it finds what each detector finds with its own keyword check."""
    plan = plan_for(POLICY, "input")
    dets = gitleaks_detectors()
    texts = [json.loads(x)["text"] for name in ("secrets_eval", "secrets_np_eval")
             for x in (DATA / f"{name}.jsonl").read_text().splitlines()]  # fmt: skip
    hits = 0
    for text in texts:
        views = Views(text)
        every = {(f.detector, f.start, f.end) for d in dets for f in d.find(views)}
        gated = {(f.detector, f.start, f.end) for f in plan.all.find(views) if f.detector in
                 {d.name for d in dets}}  # fmt: skip
        assert gated == every, text
        hits += bool(every)
    assert hits > 300


def test_a_rule_that_may_run_over_lines_flags_streamed_output_and_holds_nothing() -> None:
    """curl's rules reach five lines past "curl": held, most answers with a curl command would
    wait; they flag streamed output (audited) and redact whole texts."""
    rec = _Decisions()
    guard = Guard(POLICY, record=rec)
    sg = guard.output("r1")
    first = "Run curl -s https://api.example.com/v1/items \\\n"
    assert sg.feed(first) == first
    key = "  -H 'Authorization: Bearer 5eb4223e5008a46e5be67c7b8f2732305c' | jq ."
    assert sg.feed(key) == key
    sg.finish()
    assert rec.seen == [("output", "secrets", "flag")]  # sent, so flagged, not "blocked"
    assert guard.check_input(first + key, "r2") == "Run [SECRET] | jq ."


class _Decisions(Recorder):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def decision(self, direction: str, category: str, action: str) -> None:
        self.seen.append((direction, category, action))


@pytest.mark.parametrize(
    ("text", "value"),
    [  # detect-secrets' KeywordDetector patterns: the finding is the value, not the line
        ('password = "super$ecret"', "super$ecret"),
        ("user = 'Aladdin'\npassword = 'open_sesame'\n", "open_sesame"),
        ('if ("m{h}o)p$e]nob" != passwd) {', "m{h}o)p$e]nob"),
        ('db_pass: "value with spaces"', "value with spaces"),
        # its other file types' forms: a prompt has no file name, so all are tried
        ("private_key: m{h}o)p$e]nob", "m{h}o)p$e]nob"),  # YAML / config, unquoted
        ("api_key := 9fQ2-kd81-Zx", "9fQ2-kd81-Zx"),  # Go
        ('char secret[25] = "n0t-4-w0rd";', "n0t-4-w0rd"),  # C
        ('std::string password("s3cr3t!value");', "s3cr3t!value"),  # C++
    ],
)
def test_a_value_named_as_a_password_is_found(text: str, value: str) -> None:
    found = [f for f in findings(POLICY, text) if f.detector == "secrets.ds_keyword"]
    assert [text[f.start : f.end] for f in found] == [value]


@pytest.mark.parametrize(
    "text",
    [
        'password = "your_password"',  # placeholders, references and x's are not values
        'api_key = "xxxxxxxxxxxx"',
        'password = "${DB_PASSWORD}"',
        "Please reset your password in the account settings; the key is on the desk.",
        "password = settings.DATABASE_PASSWORD_V2",
        # unquoted, the value must read as a credential: not prose, a path, a name or stars
        "My password: I forgot it again",
        "pwd: /home/me/projects",
        "secretStoreRef: aws-secretsmanager",
        "password: ********",
        'CLOUD_APIKEY: "insert_key_here"',
        'cl_api_key = "a-fake-api-key"',
    ],
)
def test_placeholders_and_prose_about_passwords_are_not_keyword_secrets(text: str) -> None:
    assert not [f for f in findings(POLICY, text) if f.category == "secrets"]


def test_keyword_lines_and_word_like_shapes_flag_streams_instead_of_holding_them() -> None:
    plan = plan_for(POLICY, "output")
    flagged = {d.name for ds in plan.flag.detectors.values() for d in ds}
    held = {d.name for ds in plan.hold.detectors.values() for d in ds}
    for name in ("secrets.ds_keyword", "secrets.ds_discord", "secrets.gl_curl-auth-header",
                 "secrets.prose_password"):  # fmt: skip
        assert name in flagged and name not in held
    assert "secrets.gl_github-pat" in held

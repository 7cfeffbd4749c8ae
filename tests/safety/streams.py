"""The stream guard driven the way the service drives it, over every chunking of every span.

Each case is a span some detector must block or redact, with text before and after it. Each is
cut into chunks in every way a model server can: 1-character chunks, every 2-way split, random
token-sized chunks, whitespace as its own token (Llama-3/GPT-4 tokenizers emit the space before
digits alone), and the tokens of a real byte-level BPE tokenizer; the end of the stream comes
either with the last chunk or as a separate empty one. A leak is any character of the span in
what the guard sent.

    python -m tests.safety.streams [HOLD ...]   # leak counts per detector and chunking kind
"""

from __future__ import annotations

import random
import string
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

from safety.guard import Guard
from safety.policy import load_policy

POLICY = """
hold_back_chars: {hold}
categories:
  pii_financial:
    detectors: [pii.payment_card, pii.us_ssn, pii.iban]
    output: redact
  pii_contact:
    detectors: [pii.email, pii.phone]
    output: redact
  pii_network:
    detectors: [pii.ipv4, pii.ipv6]
    output: redact
  secrets:
    detectors: [secrets]
    output: {secrets}
  words:
    terms: [forbidden fruit]
    output: block
"""


def policy_guard(tmp: Path, secrets: str = "block", hold: int = 1024) -> Guard:
    p = tmp / f"policy-{secrets}-{hold}.yaml"
    p.write_text(POLICY.format(secrets=secrets, hold=hold))
    return Guard(load_policy(p))


def _rand(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def _jwt(n: int) -> str:
    """A JWT-shaped token of exactly n characters."""
    body = n - len("eyJ") * 2 - 2
    a = body // 3
    alnum = string.ascii_letters + string.digits
    return f"eyJ{_rand(alnum, a, 1)}.eyJ{_rand(alnum, a, 2)}.{_rand(alnum, body - 2 * a, 3)}"


@dataclass(frozen=True)
class Case:
    detector: str
    span: str
    label: str  # the redaction placeholder


ALNUM = string.ascii_letters + string.digits
_LOWER_DIGITS = string.ascii_lowercase + string.digits
CASES = [
    Case("pii.payment_card", "4111 1111 1111 1111", "[CARD]"),
    Case("pii.payment_card", "4111-1111-1111-1111", "[CARD]"),
    Case("pii.payment_card", "4000 0000 0000 0000 006", "[CARD]"),  # 19 digits, 4-4-4-4-3
    Case("pii.payment_card", "6011000990139424", "[CARD]"),
    Case("pii.us_ssn", "536-22-8726", "[SSN]"),
    Case("pii.iban", "DE76 7352 8331 8679 3787 13", "[IBAN]"),  # spaced, the 4-4-4-4-4-2 form
    Case("pii.iban", "GB82 WEST 1234 5698 7654 32", "[IBAN]"),
    Case("pii.iban", "GB82WEST12345698765432", "[IBAN]"),
    Case("pii.email", "jane.doe+tag@mail.example.org", "[EMAIL]"),
    Case("pii.phone", "(415) 555-0132", "[PHONE]"),
    Case("pii.phone", "+44 20 7946 0958", "[PHONE]"),
    # a number only the label after it makes a phone number: held until that label is known
    Case("pii.phone", "416 60 039 office,", "[PHONE] office,"),
    Case("pii.ipv4", "185.220.101.4", "[IP]"),
    Case("pii.ipv6", "fe80::1ff:fe23:4567:890a", "[IP]"),
    Case("secrets.private_key", "-----BEGIN RSA PRIVATE KEY-----", "[SECRET]"),
    Case("secrets.aws_access_key", "AKIA2OGYBAH6Q3KRLEGK", "[SECRET]"),
    Case("secrets.github_token", "ghp_" + _rand(ALNUM, 36, 4), "[SECRET]"),
    Case("secrets.openai_key", "sk-proj-" + _rand(ALNUM, 48, 5), "[SECRET]"),
    Case("secrets.anthropic_key", "sk-ant-" + _rand(ALNUM, 40, 6), "[SECRET]"),
    Case(  # gitleaks' rules: a provider prefix, one that starts at its keyword, a Slack bot token
        "secrets.gl_slack-bot-token",
        f"xoxb-{_rand(string.digits, 12, 7)}-{_rand(string.digits, 13, 7)}-{_rand(ALNUM, 24, 7)}",
        "[SECRET]",
    ),
    Case(
        "secrets.gl_huggingface-access-token",
        "hf_" + _rand(string.ascii_letters, 34, 12),
        "[SECRET]",
    ),
    Case(
        "secrets.gl_snyk-api-token",
        'SNYK_TOKEN="' + "-".join(_rand("0123456789abcdef", n, 13) for n in (8, 4, 4, 4, 12)) + '"',
        '[SECRET]"',  # the closing quote ends the match and stays
    ),
    Case("secrets.google_api_key", "AIza" + _rand(ALNUM, 35, 8), "[SECRET]"),
    Case("secrets.stripe_key", "sk_live_" + _rand(ALNUM, 24, 9), "[SECRET]"),
    Case("secrets.jwt", _jwt(120), "[SECRET]"),
    Case("secrets.jwt", _jwt(300), "[SECRET]"),  # past the old 64-character look-behind
    Case("secrets.jwt", _jwt(1024), "[SECRET]"),
    Case("secrets.assigned_secret", "password = x7Kq9mZ2vL4pR8wT", "[SECRET]"),
    # a raw password with "!" and "#" in a URL, from "://" to the host (issue 12, heldout-v4)
    Case("secrets.url_password", "://svc:Wq3!zP9#rT2@pg.internal:5432", "[SECRET]"),
    # detect-secrets' keyword-context plugins: the match starts at the keyword
    Case(
        "secrets.ds_softlayer",
        'softlayer_api_key = "' + _rand(_LOWER_DIGITS, 64, 10) + '"',
        "[SECRET]",
    ),
    Case(
        "secrets.ds_cloudant",
        "https://acct:" + _rand(string.ascii_lowercase, 24, 11) + "@acct.cloudant.com",
        "[SECRET]",
    ),  # fmt: skip
    Case("words.terms", "forbidden fruit", "[REDACTED]"),
]
BEFORE = ["", "Sure: ", "Here it is -> ", "The value we were asked about is " * 4 + "this: "]
AFTER = ["", " and that is all.", ".\nNext line", ", ok?"]


# ---- chunkings ---------------------------------------------------------------------------------


def one_char(text: str) -> Iterator[list[str]]:
    yield list(text)


EDGE = 96  # two_way cuts a text past 512 characters at every position this near either end


def two_way(text: str) -> Iterator[list[str]]:
    """Every cut into two chunks; past 512 characters (the 1,024-character token) every
    position near the ends and every fourth in between, where each cut meets the same run of
    base64 (each costs a scan of the whole text: all of them were a third of the sweep)."""
    n = len(text)
    cuts = range(n + 1) if n <= 512 else sorted({*range(EDGE), *range(EDGE, n - EDGE, 4),
                                                  *range(n - EDGE, n + 1)})  # fmt: skip
    for i in cuts:
        yield [text[:i], text[i:]]


def token_sized(text: str, rounds: int = 12) -> Iterator[list[str]]:
    rng = random.Random(len(text))
    for _ in range(rounds):
        out, i = [], 0
        while i < len(text):
            n = rng.randint(1, 6)
            out.append(text[i : i + n])
            i += n
        yield out


_LLAMA3 = regex.compile(r"\s+(?=\S)|\s+|\p{N}{1,3}|[^\s\p{L}\p{N}]+|\p{L}+")


def whitespace_tokens(text: str) -> Iterator[list[str]]:
    """Llama-3/GPT-4 style: digits in groups of up to three, the space before them alone."""
    yield [m.group() for m in _LLAMA3.finditer(text)]


@lru_cache(maxsize=1)
def _bpe() -> object:
    from train.tokenizer import train_tokenizer

    rng = random.Random(0)
    texts = [f"{b}{c.span}{a}" for c in CASES for b in BEFORE for a in AFTER]
    texts += ["".join(rng.choice(ALNUM + " -.:") for _ in range(200)) for _ in range(200)]
    return train_tokenizer(texts * 3, vocab_size=600)


def bpe_tokens(text: str) -> Iterator[list[str]]:
    """A byte-level BPE tokenizer's own tokens (the kind llm-train builds for its models)."""
    enc = _bpe().encode(text)  # type: ignore[attr-defined]
    cuts = sorted({e for _, e in enc.offsets if 0 < e < len(text)})
    yield [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


CHUNKINGS: dict[str, Callable[[str], Iterator[list[str]]]] = {
    "1-char": one_char,
    "2-way": two_way,
    "token-sized": token_sized,
    "whitespace-token": whitespace_tokens,
    "bpe": bpe_tokens,
}


# ---- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: str
    blocked: str | None


def run(guard: Guard, chunks: list[str], final_apart: bool) -> Outcome:
    """Feed the chunks as the service does; the end comes on the last chunk or on its own."""
    sg = guard.output("r")
    sent = []
    for i, c in enumerate(chunks):
        last = i == len(chunks) - 1 and not final_apart
        sent.append(sg.feed(c, final=last))
    if final_apart or not chunks:
        sent.append(sg.feed("", final=True))
    return Outcome("".join(sent), sg.blocked)


def leaked(case: Case, before: str, after: str, out: Outcome, action: str) -> bool:
    """Did any character of the span leave, or did the guard get the expected output wrong?"""
    if action == "block":
        return out.blocked is None or not before.startswith(out.sent)
    return out.sent != before + case.label + after


def span_sent(case: Case, before: str, out: Outcome) -> bool:
    """Did any character of the span leave? (Looser than `leaked`: a span past the hold limit
    may end the choice instead of being redacted, and a detector may take in a following
    punctuation mark; neither sends anything of the span.)"""
    if out.blocked is not None:
        return not before.startswith(out.sent)
    return not out.sent.startswith(before + case.label)


def action_of(case: Case, secrets: str) -> str:
    if case.detector.startswith("secrets."):
        return secrets
    return "block" if case.detector == "words.terms" else "redact"


def sweep(
    guard: Guard, secrets: str, cases: list[Case] = CASES, max_two_way: int = 10_000
) -> Counter[tuple[str, str]]:
    """(detector, chunking) -> chunkings that sent part of the span; ('total', kind) counts
    runs and ('inexact', kind) runs whose output was not exactly the expected one."""
    leaks: Counter[tuple[str, str]] = Counter()
    for case in cases:
        action = action_of(case, secrets)
        for before in BEFORE:
            for after in AFTER:
                text = before + case.span + after
                for kind, chunker in CHUNKINGS.items():
                    if kind == "2-way" and len(text) > max_two_way:
                        continue
                    for chunks in chunker(text):
                        for apart in (False, True):
                            leaks["total", kind] += 1
                            out = run(guard, chunks, apart)
                            if leaked(case, before, after, out, action):
                                leaks["inexact", kind] += 1
                                if action == "block" or span_sent(case, before, out):
                                    leaks[case.detector, kind] += 1
    return leaks


def main() -> None:
    import tempfile

    holds = [int(h) for h in sys.argv[1:]] or [1024]
    with tempfile.TemporaryDirectory() as tmp:
        for hold, secrets in [(h, s) for h in holds for s in ("block", "redact")]:
            counts = sweep(policy_guard(Path(tmp), secrets, hold), secrets)
            total = sum(v for (d, _), v in counts.items() if d == "total")
            inexact = sum(v for (d, _), v in counts.items() if d == "inexact")
            bad = sum(v for (d, _), v in counts.items() if d not in ("total", "inexact"))
            print(
                f"hold {hold}, secrets {secrets}: {bad} of {total} chunkings sent part of the "
                f"span ({inexact} not exactly the expected output)",
                flush=True,
            )
            for (d, kind), v in sorted(counts.items()):
                if d not in ("total", "inexact"):
                    print(f"  {d:28} {kind:18} {v}")


if __name__ == "__main__":
    sys.exit(main())

"""gitleaks' rule set as secret detectors: some 220 provider formats, each with its keywords, its
entropy floor and its allowlists, maintained upstream with a test per rule.

The rules are gitleaks' own `config/gitleaks.toml` (MIT, safety/rules/LICENSE.gitleaks), read
as they are and checked as gitleaks checks them (detect/detect.go at the vendored commit): the
secret is the rule's secret group or its first non-empty group; a secret at or under the
rule's entropy floor, or one the global or the rule's allowlists allow, is not a finding.
These changes make a rule one of our detectors:

- A semi-generic rule's leading `[\\w.-]{0,50}?` (any name before the keyword) is dropped, so
  a match starts at the keyword, which must not follow a letter or digit (nor may a literal
  prefix such as `ghp_`): an ordinary word is not the start of one, and the stream guard holds
  nothing for it.
- A final group of the characters that may end a secret (`(?:[\\x60'"\\s;]|$)`) becomes a
  look-ahead, so a redaction ends with the secret, not with the space after it.
- A final run of exactly n characters of a class (`glsoat-[0-9a-zA-Z_\\-]{20}`) may not be
  followed by one more of them: gitleaks reads the first 20 of a longer run as the token,
  detect-secrets' patterns for the same formats (`(?!\\w)`) and its tests do not.
- Unbounded repeats get a bound (REPEAT_CAP): the stream guard must know how far a forming
  match can reach.
- Inline flags in mid-pattern (`a(?i)b`, Go's "to the end of this group") become scoped
  groups, POSIX `[:alnum:]` a range and `\\z` `\\Z`, so the standard library parses them too
  (the stream guard measures look-behinds with it).
- Allowlists by file path do not apply: a prompt has no path. A rule that only names a file
  (pkcs12-file) is left out, and so are two generic ones (EXCLUDED).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import regex

RULES = Path(__file__).with_name("rules") / "gitleaks.toml"
REPEAT_CAP = 1024
_SEMI_GENERIC = regex.compile(r"((?:\(\?i\)|\(\?i:)*)\[\\w\.-\]\{0,50\}\?")
_KEYWORD_START = "(?<![a-zA-Z0-9])"  # "MY_SNYK_TOKEN", not "lo" of "Hello" held for "looker"
# punctuation, then a space or the end; a comma (Chinese text's full-width comma is one in the
# normalized views, with no space after it: "LTAI…，AccessKeySecret"); or Chinese punctuation
# that normalization keeps
_SENTENCE_END = r"[.:!?)\]}](?:\s|$)|,|[\u3002\u3001\u3011\u300d\u300f]"
_POSIX = {"[:alnum:]": "a-zA-Z0-9"}
# Left out: its match is any "key/token/secret/password = value" whose value looks random, which
# our assigned_secret already judges (with placeholders and references); on the secrets suite
# it found 4 more keys and flagged 16 more non-secrets. hashicorp-tf-password is gitleaks' rule
# for `password = "..."` in Terraform files only; on any text it took "your_password" for one,
# and detect-secrets' keyword patterns (ds_keyword) judge such assignments, placeholders aside.
EXCLUDED = frozenset({"generic-api-key", "hashicorp-tf-password"})
# Rules whose match may run over several lines of ordinary text before the secret ("curl" then
# up to five lines, "kind: Secret" or "data:" then 300 characters): a stream held while one
# could be forming would hold most answers that show a curl command or a YAML file, so in
# streamed output they flag (detectors.RegexDetector.holds). So do rules whose match may begin
# with an ordinary word (maxmind's `[A-Za-z0-9]{6}_..._mmk`): each word would be held.
WIDE_RULES = frozenset({"curl-auth-header", "curl-auth-user", "kubernetes-secret-yaml"})
_WORDS = ("Hello", "the", "information", "is", "Please", "we")


@dataclass(frozen=True)
class Allowlist:
    """One allowlist: its regexes (on the secret, the match or the line) and stop words."""

    regexes: re.Pattern[str] | None
    target: str  # "secret", "match" or "line" (the match stands for its line here)
    stopwords: tuple[str, ...]
    needs_path: bool  # condition AND with paths: never satisfied without a path

    def allows(self, secret: str, match: str) -> bool:
        if self.needs_path:
            return False
        text = secret if self.target == "secret" else match
        if self.regexes is not None and self.regexes.search(text):
            return True
        low = secret.lower()
        return any(w in low for w in self.stopwords)


@dataclass(frozen=True)
class Rule:
    """One gitleaks rule, with the pattern our detectors run and its checks."""

    id: str
    pattern: str
    keywords: tuple[str, ...]
    entropy: float
    secret_group: int
    allowlists: tuple[Allowlist, ...]

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    def secret(self, match: str) -> str:
        """The secret in one match: the rule's secret group, or its first non-empty group."""
        return _secret(self.compiled.search(match), self.secret_group) or match

    def is_secret(self, match: str) -> bool:
        """gitleaks' checks on one match: the secret's entropy and the allowlists."""
        match = match.strip("\n")
        secret = self.secret(match)
        if self.entropy and shannon_entropy(secret) <= self.entropy:
            return False
        lists = (*global_allowlists(), *self.allowlists)
        return not any(a.allows(secret, match) for a in lists)


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)  # RE2's patterns run in linear time; `re` is close, `regex` not


def _secret(m: re.Match[str] | None, group: int) -> str | None:
    if m is None or m.re.groups == 0:
        return None
    if group:
        return str(m.group(group) or "")
    return next((g for g in m.groups() if g), None)


def shannon_entropy(s: str) -> float:
    """Bits per character, as gitleaks computes it (over characters, natural frequencies)."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


@cache
def _config() -> dict[str, Any]:
    with RULES.open("rb") as f:
        return tomllib.load(f)


@cache
def global_allowlists() -> tuple[Allowlist, ...]:
    return (_allowlist(_config()["allowlist"]),)


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule with a content pattern, in the file's order."""
    return tuple(
        Rule(
            r["id"],
            portable(r["regex"]),
            tuple(k.lower() for k in r.get("keywords", ())),
            float(r.get("entropy", 0.0)),
            int(r.get("secretGroup", 0)),
            tuple(_allowlist(a) for a in r.get("allowlists", ())),
        )
        for r in _config()["rules"]
        if "regex" in r and r["id"] not in EXCLUDED
    )


def holds_streams(rule: Rule) -> bool:
    """Whether the stream guard may hold output while this rule's match forms (see WIDE_RULES)."""
    if rule.id in WIDE_RULES:
        return False
    pattern = regex.compile(rule.pattern, regex.V1)
    return not any(pattern.fullmatch(w, i, partial=True) for w in _WORDS for i in range(len(w)))


def allowed_by_gitleaks(rule_id: str, secret: str) -> bool:
    """Whether gitleaks' allowlists for `rule_id` (and its global ones) let `secret` pass: our
    own patterns for a provider share the upstream list of its documented example keys."""
    return any(a.allows(secret, secret) for a in _allowlists_of(rule_id))


@cache  # translating the Go patterns took 10 ms: once per rule, not once per candidate key
def _allowlists_of(rule_id: str) -> tuple[Allowlist, ...]:
    rule = next(r for r in _config()["rules"] if r["id"] == rule_id)
    return (*global_allowlists(), *(_allowlist(a) for a in rule.get("allowlists", ())))


def _allowlist(spec: dict[str, Any]) -> Allowlist:
    pats = spec.get("regexes") or []
    joined = re.compile("|".join(_scoped(portable(p)) for p in pats)) if pats else None
    return Allowlist(
        joined,
        spec.get("regexTarget", "secret"),
        tuple(w.lower() for w in spec.get("stopwords", ())),
        spec.get("condition") == "AND" and bool(spec.get("paths")),
    )


def _scoped(pattern: str) -> str:
    """`pattern` as one group, its leading global flag (if any) scoped to it."""
    m = re.match(r"\(\?([a-zA-Z]+)\)", pattern)
    return f"(?{m.group(1)}:{pattern[m.end() :]})" if m else f"(?:{pattern})"


def portable(pattern: str) -> str:
    """A gitleaks (Go RE2) pattern as one that both `regex` and the standard library read the
    same way, with every repeat bounded; a semi-generic rule starts at its keyword."""
    opened = ""
    while m := _SEMI_GENERIC.match(pattern):  # also "[\w.-]{0,50}?(?i:[\w.-]{0,50}?..."
        opened, pattern = opened + m.group(1), pattern[m.end() :]
    if opened or pattern[:1].isalnum():  # a keyword, or a literal prefix ("ops_eyJ", "ghp_"):
        pattern = opened + _KEYWORD_START + pattern  # not inside a word
    return _fixed_length_end(_end_as_lookahead(_Rewriter(pattern).run()))


_TRAILING_CLASS = regex.compile(r"(\[(?:\\.|[^\]\\])*\])\{\d+\}\Z")


def _fixed_length_end(pattern: str) -> str:
    """A pattern that ends in a run of exactly n of a character class (`glpat-[\\w-]{20}`) may
    not be followed by one more such character: a longer run is not that token (detect-secrets'
    patterns for the same formats end in `(?!\\w)`)."""
    m = _TRAILING_CLASS.search(pattern)
    return f"{pattern}(?!{m.group(1)})" if m else pattern


def _end_as_lookahead(pattern: str) -> str:
    r"""A final `(?:[\x60'"\s;]|...|$)` (the character that ends a secret, or the text's end)
    as a look-ahead: the span we redact ends with the secret, not with the space after it. In
    prose a full stop or comma may end it too ("my token is hf_....")."""
    start = _last_group(pattern)
    if start is None or not pattern.startswith("(?:", start):
        return pattern
    body = pattern[start + 3 : -1]
    if "(" in body or len(body) > 40 or ("$" not in body and "\\Z" not in body):
        return pattern  # not a list of end characters (kubernetes' rule ends in a big group)
    return f"{pattern[:start]}(?={body}|{_SENTENCE_END})"


def _last_group(pattern: str) -> int | None:
    """Where the top-level group that ends the pattern opens (None if it ends otherwise)."""
    if not pattern.endswith(")"):
        return None
    opens: list[int] = []
    last = None
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            opens.append(i)
        elif c == ")":
            last = opens.pop()
        i += 1
    return last if not opens else None


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class that opens at i."""
    j = i + 1 + (pattern[i + 1 : i + 2] == "^")
    j += pattern[j : j + 1] == "]"
    while pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


class _Rewriter:
    """One pass over a pattern: character classes copied (POSIX classes expanded), repeats
    bounded, mid-pattern inline flags scoped to the rest of their group (re-opened after each
    `|` of that group, since Go's flags reach across alternatives)."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.flags: list[list[str]] = [[]]  # per open group: the flags opened in it

    def run(self) -> str:
        while self.i < len(self.p):
            self._step()
        self.out.append(")" * len(self.flags[0]))
        return "".join(self.out)

    def _step(self) -> None:
        p, i = self.p, self.i
        c = p[i]
        if c == "\\":
            esc = p[i : i + 2]
            self.out.append("\\Z" if esc == "\\z" else esc)
            self.i += 2
        elif c == "[":
            self._char_class()
        elif c == "(":
            self._open()
        elif c == ")":
            self.out.append(")" * len(self.flags.pop()) + ")")
            self.i += 1
        elif c == "|":
            opened = self.flags[-1]
            self.out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            self.i += 1
        else:
            self._repeat_or_char()

    def _open(self) -> None:
        m = regex.match(r"\(\?([a-zA-Z-]+)\)", self.p[self.i :])
        if m and self.i > 0:  # a flag for the rest of this group
            self.out.append(f"(?{m.group(1)}:")
            self.flags[-1].append(m.group(1))
            self.i += m.end()
            return
        if m:  # a leading global flag stays as it is
            self.out.append(m.group())
            self.i += m.end()
            return
        self.out.append("(")
        self.flags.append([])
        self.i += 1

    def _repeat_or_char(self) -> None:
        p, i = self.p, self.i
        c = p[i]
        m = regex.match(r"\{(\d+),\}", p[i:])
        if c == "*":
            self.out.append(f"{{0,{REPEAT_CAP}}}")
        elif c == "+":
            self.out.append(f"{{1,{REPEAT_CAP}}}")
        elif m:
            n = int(m.group(1))
            self.out.append(f"{{{n},{n + REPEAT_CAP}}}")
            self.i += m.end()
            return
        else:
            self.out.append(c)
        self.i += 1

    def _char_class(self) -> None:
        p, j = self.p, self.i + 1
        body = ["["]
        if p[j : j + 1] == "^":
            body.append("^")
            j += 1
        if p[j : j + 1] == "]":
            body.append("\\]")
            j += 1
        while p[j] != "]":
            posix = next((k for k in _POSIX if p.startswith(k, j)), None)
            if posix:
                body.append(_POSIX[posix])
                j += len(posix)
            elif p[j] == "\\":
                body.append(p[j : j + 2])
                j += 2
            else:
                body.append("\\[" if p[j] == "[" else p[j])
                j += 1
        body.append("]")
        self.out.append("".join(body))
        self.i = j + 1

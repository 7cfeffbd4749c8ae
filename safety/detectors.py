"""Detectors: PII, secrets, prompt-injection heuristics, operator term and regex lists.

Each detector scans a normalized view of the text (NFKC, invisible characters removed; case
folded for words, case kept for key shapes) and reports findings as spans of the *original*
text. `partial_start` answers the stream guard's question: could the end of this text be the
beginning of a match, and from where? (the `regex` module's partial matching does the work).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# the standard module's own parser reads a rule's literal beginnings
from re import _constants as re_constants
from re import _parser as re_parser
from typing import Any

import regex

from safety.gitleaks_rules import Rule, holds_streams
from safety.gitleaks_rules import rules as gitleaks_rules
from safety.injection_rules import (
    CJK_CHAR,
    INJECTION,
    QUOTE_CONTEXT,
    READER_NEEDS,
    REGEX_FASTER,
    RULE_WORDS,
    quoted_example,
)
from safety.normalize import Normalized, normalize
from safety.pattern_reach import reach
from safety.patterns import (
    CHECKSUMMED,
    DETECT_SECRETS_KEYWORD,
    LEADING_SECRETS,
    LOCATED_SECRETS,
    PII,
    PII_CONTEXT,
    PII_NEEDS,
    SECRET_CONTEXT,
    SECRET_KEYWORDS,
    SECRET_NEEDS,
    SECRETS,
    STD_RE_SECRETS,
    STREAM_FLAG_SECRETS,
)
from safety.secret_values import placeholder
from safety.views import Views


@dataclass(frozen=True)
class Finding:
    category: str
    detector: str
    start: int  # original text offsets
    end: int
    label: str  # redaction placeholder
    whole: bool = False  # a verdict on a stretch of text (learned), not a matched span


# ---- detectors --------------------------------------------------------------------------------


def _end(m: Any) -> int:
    """Where a match's finding ends: before its group `tail` if it has one (a word after a
    phone number that its validator reads, "781 1704 office"), else where the match ends."""
    tail = m.re.groupindex.get("tail")
    return int(m.end() if tail is None or m.start(tail) < 0 else m.start(tail))


@dataclass
class RegexDetector:
    """One pattern (bounded length), optionally validated, on one view of the text."""

    name: str
    category: str
    pattern: str
    label: str
    casefold: bool = False
    validate: Callable[..., bool] | None = None
    view: str = ""
    """cased, folded or loose; empty: folded when `casefold`, else cased."""
    decode_base64: bool = False
    """Also look inside base64 runs (a finding covers the whole run)."""
    shorter: bool = False
    """When the greedy match fails validation, try shorter ones ending at a separator."""
    context: int = 0
    """Characters of the view before a match that `validate` also reads (its second argument):
    a phone number's label."""
    after: int = 0
    """Characters of the view after a match that `validate` also reads (its third argument): the
    version an IPv4-shaped one is upgraded to. In a stream they may not have come yet: then it
    is judged without them."""
    keywords: tuple[str, ...] = ()
    """Lower-case words one of which every match contains (gitleaks' rules): the detector runs
    only on text that has one (scan.Group finds them all in one pass)."""
    needs: str = ""
    """A pattern (for `re`) that every match contains: the detector runs only on text where it
    is found (detect-secrets' keyword plugins: a value of 24 or more word characters)."""
    locate: Callable[[str], tuple[int, int] | None] | None = None
    """Where in the match the finding is, None for nowhere (a line that names a password: the
    value assigned to it). Takes the place of `validate`."""
    std_re: bool = False
    """Find complete matches with the standard `re` module, `regex` only for partial ones.
    gitleaks' patterns are written for RE2 (linear time): on some that fail late, `regex`
    backtracks for seconds where `re` takes microseconds."""
    leads: bool = False
    """Whether one of its keywords begins every match (the injection rules' leading words):
    scan.Group then tries it only where one begins (`find_at`), not at every position."""
    holds: bool = True
    """Whether the stream guard holds output while a match could be forming. False for a rule
    whose match may run over lines of ordinary text (after "curl"): it flags streamed output."""

    def __post_init__(self) -> None:
        self.view = self.view or ("folded" if self.casefold else "cased")
        self._re = regex.compile(self.pattern, regex.V1)
        self._find: Any = re.compile(self.pattern) if self.std_re else self._re
        self.reach: int | None = reach(self.pattern)

    def find(self, views: Views, pos: int = 0) -> list[Finding]:
        """Matches starting at view position `pos` or later, as original spans (plus matches
        inside base64 runs, for a detector that decodes them). A detector with keywords finds
        nothing in text without one (scan.Group asks them all at once, then `find_plain`)."""
        text = views.get(self.view).text
        folded = text.casefold() if self.keywords else ""
        if self.keywords and not any(k in folded for k in self.keywords):
            return []
        if self.needs and not re.search(self.needs, text):
            return []
        out = self.find_plain(views, pos)
        if self.decode_base64:
            out.extend(self.find_encoded(views))
        return out

    def find_plain(self, views: Views, pos: int = 0) -> list[Finding]:
        view = views.get(self.view)
        out = []
        for span in self._spans(view.text, pos):
            s, e = view.span(*span)
            out.append(Finding(self.category, self.name, s, e, self.label))
        return out

    def _spans(self, text: str, pos: int) -> Iterator[tuple[int, int]]:
        """Each match's span once validated or located; for a located detector whose words
        lead, a match with nothing in it is read again from its next word ("clave del wifi …,
        contraseña Girasol_Azul_2024"), as find_at tries every word."""
        if not (self.locate is not None and self.leads):
            for m in self._find.finditer(text, pos):
                if (span := self._span(text, m)) is not None:
                    yield span
            return
        while (m := self._find.search(text, pos)) is not None:
            span = self._span(text, m)
            if span is not None:
                yield span
            pos = m.end() if span is not None else m.start() + 1

    def find_at(self, views: Views, starts: list[int], pos: int = 0) -> list[Finding]:
        """`find_plain` for a detector whose every match begins at one of `starts` (ascending
        view positions): the same matches, tried only there."""
        view = views.get(self.view)
        out, end = [], pos
        for at in starts:
            m = self._find.match(view.text, at) if at >= end else None
            if m is None:
                continue
            span = self._span(view.text, m)
            if span is not None or self.locate is None:  # a located match with nothing in
                end = m.end()  # it does not hide the next word inside it (_spans)
            if span is not None:
                out.append(Finding(self.category, self.name, *view.span(*span), self.label))
        return out

    def _span(self, text: str, m: Any) -> tuple[int, int] | None:
        if self.locate is None:
            end = self._valid_end(text, m)
            return None if end is None else (m.start(), end)
        sub = self.locate(m.group())
        return None if sub is None else (m.start() + sub[0], m.start() + sub[1])

    def find_encoded(self, views: Views) -> list[Finding]:
        return [
            Finding(self.category, self.name, s, e, self.label)
            for s, e, inner in views.encoded()
            if self._find.search(inner.get(self.view).text)
        ]

    def _valid_end(self, text: str, m: Any) -> int | None:
        """Where the match ends once validated. When the greedy match fails its check, shorter
        ones that stop at a separator are tried: "4464 9089 8940 6835 08/27" is a card followed
        by an expiry date, not a 19-digit number that fails Luhn."""
        if self.validate is None or self._ok(text, m.start(), m.group()):
            return _end(m)
        if not self.shorter:
            return None
        for e in range(m.end() - 1, m.start(), -1):
            if text[e] in " -.\t" and text[e - 1] not in " -.\t":
                short = self._find.fullmatch(text, m.start(), e)
                if short is not None and self._ok(text, m.start(), short.group()):
                    return e
        return None

    def _ok(self, text: str, start: int, candidate: str) -> bool:
        assert self.validate is not None
        if not self.context:
            return self.validate(candidate)
        before = text[max(0, start - self.context) : start]
        if not self.after:
            return self.validate(candidate, before)
        end = start + len(candidate)
        return self.validate(candidate, before, text[end : end + self.after])

    def prefix_at(self, view: Normalized, pos: int) -> bool:
        """Could view.text[pos:] be the beginning of a match (or a match that may still grow)?

        Anchored partial matching: a shorter complete match inside the text does not count,
        so "DE44 7352 " (ending in the space before the next digit group) is still forming."""
        return self._re.fullmatch(view.text, pos, partial=True) is not None

    def partial_search(self, text: str, pos: int) -> regex.Match[str] | None:
        """The earliest complete match in text[pos:], else the earliest one the end cut short."""
        return self._re.search(text, pos, partial=True)

    def partial_start(self, views: Views, start: int = 0) -> int | None:
        """Original offset of the earliest match, at or after original offset `start`, that
        the text's end has not finished (None when every match is complete)."""
        view = views.get(self.view)
        for p in range(len(view.text)):
            if view.origin(p) >= start and self.prefix_at(view, p):
                return view.origin(p)
        return None


# a text that names ROT13 is scored decoded too (letter for letter, so offsets stay): the
# encoding an attack asks the model to undo ("decode this ROT13 and do what it says")
@dataclass
class LearnedDetector:
    """The learned prompt-injection model (safety/learned.py) as a detector: whole-text scores
    in windows, so no pattern and no partial match (it cannot hold streamed output). The text
    of each base64 run is scored too, as the phrase rules read it, and a text that names its
    encoding (ROT13, a Caesar shift, reversed lines, letters as numbers, spaced hex) decoded, as
    a whole (safety/decoders.py): an attack written for the model to decode is an attack."""

    name: str
    category: str
    label: str = "[REDACTED]"
    view: str = "loose"
    learned: bool = True
    decode_base64: bool = True

    def find(self, views: Views, pos: int = 0) -> list[Finding]:
        found = self._first(views.get(self.view), pos)
        if found is None and self.decode_base64:
            found = next(((s, e) for s, e, inner in views.encoded()
                          if e > pos and self._first(inner.get(self.view))), None)  # fmt: skip
        if found is None:
            return []  # one finding per text at most: the category is what matters
        return [Finding(self.category, self.name, *found, self.label, whole=True)]

    def _first(self, view: Normalized, pos: int = 0) -> tuple[int, int] | None:
        """The original span of the first window at or over the threshold, or else of the
        first prose line at or over LINE_SCORE (each list scored in one pass: the kernel
        takes spans in order)."""
        from safety.learned import LINE_SCORE, default_model, prose_lines, windows

        model = default_model()
        line_floor = max(model.threshold, LINE_SCORE)
        for every, floor in (
            (windows(view.text), model.threshold),
            (prose_lines(view.text), line_floor),
        ):
            spans = [(s, e) for s, e in every if e > pos and e > s]
            if not spans:
                continue
            scores = model.window_scores(view.text, spans)
            hit = next((w for w, p in zip(spans, scores, strict=True) if p >= floor), None)
            if hit is not None:
                return view.span(*hit)
        return None

    find_plain = find


Detector = RegexDetector | LearnedDetector

STRENGTH = {"block": 3, "redact": 2, "flag": 1, "allow": 0}


def dominant(findings: list[Finding], action: Callable[[str], str] | None = None) -> list[Finding]:
    """Overlapping findings of different detectors resolve by the strength of their category's
    action (block > redact > flag > allow), then by length: a key followed by "@x.io" is a
    secret to block, not an e-mail to flag; the digits of an IBAN are not also a phone."""

    def rank(f: Finding) -> tuple[int, int]:
        return (STRENGTH[action(f.category)] if action else 0, f.end - f.start)

    keep: list[Finding] = []
    seen: set[tuple[str, int, int]] = set()  # one finding per category and span (a key that
    spans = [f for f in findings if not f.whole]  # both gitleaks and our own pattern know)
    for f in findings:
        beaten = not f.whole and any(
            g.detector != f.detector and g.start < f.end and f.start < g.end and rank(g) > rank(f)
            for g in spans
        )
        same = (f.category, f.start, f.end) in seen and not f.whole
        if not beaten and not same:
            keep.append(f)
            seen.add((f.category, f.start, f.end))
    return keep


def reported(findings: list[Finding]) -> list[Finding]:
    """What a text holds, to report it (moderation, the suites): the dominant findings, and an
    IP address inside a secret's span, the host of `postgres://user:pw@10.0.0.5` or a curl
    command's URL: redaction covers it with the secret, but it is an address all the same
    (the digits of an IBAN are not also a phone: other pieces stay beaten)."""
    kept = dominant(findings)
    secrets = [g for g in kept if g.detector.startswith("secrets.") and not g.whole]
    hosts = [
        f for f in findings
        if f.detector in ("pii.ipv4", "pii.ipv6") and f not in kept
        and any(g.start <= f.start and f.end <= g.end for g in secrets)
    ]  # fmt: skip
    return kept + hosts


def term_detector(
    name: str, category: str, terms: list[str], word_boundary: bool, label: str = "[REDACTED]"
) -> RegexDetector:
    """An operator's term list as one alternation, matched on the folded view."""
    alts = sorted({normalize(t).text for t in terms if t.strip()}, key=len, reverse=True)
    body = "|".join(regex.escape(a) for a in alts) or r"(?!)"
    pattern = rf"(?<!\w)(?:{body})(?!\w)" if word_boundary else f"(?:{body})"
    return RegexDetector(name, category, pattern, label, casefold=True)


def builtin(name: str) -> list[Detector]:
    """Detectors of a built-in family ('pii', 'secrets', 'prompt_injection') or one member
    ('pii.email', 'secrets.jwt')."""
    family, _, member = name.partition(".")
    if family == "pii":
        return [
            RegexDetector(
                f"pii.{k}",
                "pii",
                p,
                label,
                casefold=True,
                validate=v,
                shorter=k in CHECKSUMMED,
                context=PII_CONTEXT.get(k, (0, 0))[0],
                after=PII_CONTEXT.get(k, (0, 0))[1],
                needs=PII_NEEDS.get(k, ""),
            )
            for k, (p, label, v) in PII.items()
            if not member or k == member
        ]
    if family == "secrets":
        secrets: list[Detector] = [
            _secret_detector(k, p, v) for k, (p, v) in SECRETS.items() if not member or k == member
        ]
        return secrets + [d for d in gitleaks_detectors() if not member or d.name == name]
    if family == "prompt_injection" and member == "learned":
        return [LearnedDetector("prompt_injection.learned", "prompt_injection")]
    if family == "prompt_injection" and member in ("", "rules"):
        learned: list[Detector] = [*builtin("prompt_injection.learned")] if not member else []
        return learned + _injection_rules()
    raise KeyError(name)


def _injection_rules() -> list[Detector]:
    return [
        RegexDetector(
            f"prompt_injection.{i}",
            "prompt_injection",
            p,
            "[REDACTED]",
            view="loose",
            decode_base64=True,
            # the same matches as `regex` (a test), found in two thirds of the time
            std_re=p not in REGEX_FASTER,
            needs=READER_NEEDS.get(p) or (CJK_CHAR if re.search(CJK_CHAR, p) else ""),
            keywords=RULE_WORDS.get(p) or _leading_words(p),  # RULE_WORDS: fewer texts pass
            leads=p not in RULE_WORDS and bool(_leading_words(p)),
            validate=quoted_example,
            context=QUOTE_CONTEXT[0],
            after=QUOTE_CONTEXT[1],
        )
        for i, p in enumerate(INJECTION)
    ]


def _leading_words(pattern: str) -> tuple[str, ...]:
    """The literal beginnings of a rule whose matches begin with one of several ("(?:ignore|
    disregard|tell\\s{1,3}me...)" -> ignore, disregard, tell; "\\[(?:system|inst)\\]|<<sys>>"
    -> [system], [inst], <<sys>>), read from the parsed pattern: every match begins with one,
    so the rule runs only on text with one, and is tried only where one begins (scan.Group
    finds them all in one pass). Empty for a single beginning (`regex` already skips ahead to
    it), when one has two letters or fewer ("ai": the gate would let nearly every text
    through), and when one may be empty ("(?:please|kindly)?": a match need not hold one)."""
    words = tuple(
        dict.fromkeys(start for start, _ in _literal_starts(list(re_parser.parse(pattern))))
    )
    if len(words) < 2 or not all(len(w) >= 3 or not w.isascii() for w in words):
        return ()
    return words


LITERAL_STARTS_MAX = 64  # beginnings one rule may have (their product over groups grows fast)


def _literal_starts(items: list[Any]) -> list[tuple[str, bool]]:
    """Each literal text a parsed sequence may begin with, and whether it is all of it: its
    literals, single-character classes and groups of alternatives (look-arounds passed over), up
    to the first of anything else (a repeat, a class, an anchor)."""
    out = [("", True)]
    for op, av in items:
        if op in (re_constants.ASSERT, re_constants.ASSERT_NOT):
            continue  # a look-around: the match begins with what follows it
        if op is re_constants.LITERAL:
            alts = [(chr(av), True)]
        elif op is re_constants.IN and all(o is re_constants.LITERAL for o, _ in av):
            alts = [(chr(c), True) for _, c in av]
        elif op is re_constants.SUBPATTERN and not av[1] and not av[2]:  # no flags
            alts = _literal_starts(list(av[3]))
        elif op is re_constants.BRANCH:
            alts = [start for branch in av[1] for start in _literal_starts(list(branch))]
        else:
            alts = []
        if not alts or any(not a for a, _ in alts) or len(out) * len(alts) > LITERAL_STARTS_MAX:
            return [(start, False) for start, _ in out]
        out = [(start + a, whole) for start, _ in out for a, whole in alts]
        if not all(whole for _, whole in out):
            return [(start, False) for start, _ in out]
    return out


def _secret_detector(key: str, pattern: str, validate: Callable[..., bool] | None) -> RegexDetector:
    keywords, locate = LOCATED_SECRETS.get(key, (SECRET_KEYWORDS.get(key, ()), None))
    # a key's literal beginnings ("glpat-", "xoxb-"): tried only where one begins
    starts = () if keywords else tuple(w.casefold() for w in _leading_words(pattern))
    return RegexDetector(
        f"secrets.{key}",
        "secrets",
        pattern,
        "[SECRET]",
        validate=validate,
        std_re=key in STD_RE_SECRETS,
        holds=key not in STREAM_FLAG_SECRETS,
        keywords=keywords or starts,
        needs=SECRET_NEEDS if key.removeprefix("ds_") in DETECT_SECRETS_KEYWORD else "",
        locate=locate,
        leads=key in LEADING_SECRETS or bool(starts),
        context=SECRET_CONTEXT.get(key, 0),
    )


def gitleaks_detectors() -> list[RegexDetector]:
    """gitleaks' rules (safety/gitleaks_rules.py), one detector each: `secrets.gl_<rule id>`."""
    return [
        RegexDetector(
            f"secrets.gl_{r.id}",
            "secrets",
            r.pattern,
            "[SECRET]",
            validate=_gitleaks_check(r),
            keywords=r.keywords,
            needs=_unbounded(r.pattern),
            std_re=True,
            holds=holds_streams(r),
        )
        for r in gitleaks_rules()
    ]


def _unbounded(pattern: str) -> str:
    """A pattern that begins with a word boundary, without it: every match of the pattern
    matches this, so it can gate it (RegexDetector.needs). Behind a \\b `re` finds no literal
    to skip ahead to and tries every position: on 2,000 characters gitleaks' JWT rule takes 25
    us, "(ey[a-zA-Z0-9]..." without the \\b 2; one that begins with alternatives gains less
    ("(?:hvs\\.|s\\.)": 28 -> 14 us) but still gains."""
    return pattern[2:] if pattern.startswith(r"\b") else ""


def _gitleaks_check(rule: Rule) -> Callable[[str], bool]:
    """gitleaks' own checks, then ours for a placeholder ("TU_CLAVE_AQUI", "<token>", "${KEY}"):
    gitleaks' allowlists know English stand-ins, not "your key" in other languages."""
    return lambda m: rule.is_secret(m) and not placeholder(rule.secret(m.strip("\n")))


BUILTIN_NAMES = (
    ["pii", "secrets", "prompt_injection", "prompt_injection.rules", "prompt_injection.learned"]
    + [f"pii.{k}" for k in PII]
    + [f"secrets.{k}" for k in SECRETS]
    + [f"secrets.gl_{r.id}" for r in gitleaks_rules()]
)

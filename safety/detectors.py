"""Detectors: PII, secrets, prompt-injection heuristics, operator term and regex lists.

Each detector scans a normalized view of the text (NFKC, invisible characters removed; case
folded for words, case kept for key shapes) and reports findings as spans of the *original*
text. `partial_start` answers the stream guard's question: could the end of this text be the
beginning of a match, and from where? (the `regex` module's partial matching does the work).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import regex

from safety.normalize import Normalized, normalize


@dataclass(frozen=True)
class Finding:
    category: str
    detector: str
    start: int  # original text offsets
    end: int
    label: str  # redaction placeholder


VIEWS = ("cased", "folded", "loose")


class Views:
    """Normalized views of one text, computed once and shared by all detectors.

    cased: normalized, case kept (key shapes); folded: also case-folded (words, PII);
    loose: folded, then spaced-out letters joined ("i g n o r e" -> "ignore") and leetspeak
    read as letters inside words that mix both ("1gn0r3" -> "ignore"), for phrase detectors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._views: dict[str, Normalized] = {}
        self._encoded: list[tuple[int, int, Views]] | None = None
        self._plain: bool | None = None  # known after the first view: ASCII with no construct

    def encoded(self) -> list[tuple[int, int, Views]]:
        """(start, end, views of the decoded text) for each base64 run that decodes to text."""
        if self._encoded is None:
            self._encoded = []
            for m in _BASE64.finditer(self.text):
                decoded = _b64text(m.group())
                if decoded is not None:
                    self._encoded.append((m.start(), m.end(), Views(decoded)))
        return self._encoded

    def get(self, kind: str) -> Normalized:
        view = self._views.get(kind)
        if view is None:
            if kind == "loose":
                view = loosen(self.get("folded"))
            elif self._plain is None:
                view = normalize(self.text, casefold=kind == "folded")
                self._plain = isinstance(view.starts, range)  # the fast path: ASCII as it is
            else:
                view = normalize(self.text, casefold=kind == "folded", plain=self._plain)
            self._views[kind] = view
        return view


_SPACED = regex.compile(r"(?<!\w)\w([ .\-_*·])(?:\w\1)+\w(?!\w)")  # one separator per run
_LEET_WORD = regex.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET = str.maketrans("013457@$9", "oieastasg")


def loosen(view: Normalized) -> Normalized:
    """The loose view of a folded view (see Views); offsets compose."""
    text = view.text
    drop = {  # the separators of every spaced-out run
        k for m in _SPACED.finditer(text) for k in range(m.start() + 1, m.end(), 2)
    }
    keep = [k for k in range(len(text)) if k not in drop] if drop else list(range(len(text)))
    chars = [text[k] for k in keep]
    joined = "".join(chars)
    for m in _LEET_WORD.finditer(joined):
        word = m.group()
        if not word.isalpha():
            chars[m.start() : m.end()] = list(word.translate(_LEET))
    if len(keep) == len(text) and chars == list(text):
        return view
    starts = [view.starts[k] for k in keep]
    ends = [view.ends[k] for k in keep]
    return Normalized("".join(chars), starts, ends, view.length)


# ---- validators -------------------------------------------------------------------------------


def luhn_ok(s: str) -> bool:
    digits = [int(c) for c in s if c.isdigit()]
    if not 13 <= len(digits) <= 19 or digits[0] == 0 or len(set(digits)) == 1:
        return False  # no issuer number starts with 0; all-same digits are placeholders
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or s[2:4] in ("00", "01", "99"):  # never-issued check digits
        return False
    moved = s[4:] + s[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


def ssn_ok(s: str) -> bool:
    area, group, serial = s[:3], s[4:6], s[7:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def phone_ok(s: str) -> bool:
    if regex.fullmatch(r"\d{3}-\d{2}-\d{4}", s):
        return False  # the SSN shape, not a phone format
    digits = [c for c in s if c.isdigit()]
    return 9 <= len(digits) <= 15 and len(set(digits)) > 1


def ipv6_ok(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return s.count(":") >= 2


def _entropy_ok(s: str) -> bool:
    """Generic 'key = value' secrets: the value must look random, not like a word."""
    import math
    from collections import Counter

    value = regex.split(r"[:=]\s*['\"]?", s, maxsplit=1)[-1].strip("'\"")
    if len(value) < 12:
        return False
    counts = Counter(value)
    h = -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())
    return h >= 3.0 and any(c.isdigit() for c in value)


# ---- detectors --------------------------------------------------------------------------------


@dataclass
class RegexDetector:
    """One pattern (bounded length), optionally validated, on one view of the text."""

    name: str
    category: str
    pattern: str
    label: str
    casefold: bool = False
    validate: Callable[[str], bool] | None = None
    view: str = ""
    """cased, folded or loose; empty: folded when `casefold`, else cased."""
    decode_base64: bool = False
    """Also look inside base64 runs (a finding covers the whole run)."""
    shorter: bool = False
    """When the greedy match fails validation, try shorter ones ending at a separator."""

    def __post_init__(self) -> None:
        self.view = self.view or ("folded" if self.casefold else "cased")
        self._re = regex.compile(self.pattern, regex.V1)

    def find(self, views: Views, pos: int = 0) -> list[Finding]:
        """Matches starting at view position `pos` or later, as original spans (plus matches
        inside base64 runs, for a detector that decodes them)."""
        out = self.find_plain(views, pos)
        if self.decode_base64:
            out.extend(self.find_encoded(views))
        return out

    def find_plain(self, views: Views, pos: int = 0) -> list[Finding]:
        view = views.get(self.view)
        out = []
        for m in self._re.finditer(view.text, pos, overlapped=False):
            end = self._valid_end(view.text, m)
            if end is not None:
                s, e = view.span(m.start(), end)
                out.append(Finding(self.category, self.name, s, e, self.label))
        return out

    def find_encoded(self, views: Views) -> list[Finding]:
        return [
            Finding(self.category, self.name, s, e, self.label)
            for s, e, inner in views.encoded()
            if self._re.search(inner.get(self.view).text)
        ]

    def _valid_end(self, text: str, m: regex.Match[str]) -> int | None:
        """Where the match ends once validated. When the greedy match fails its check, shorter
        ones that stop at a separator are tried: "4464 9089 8940 6835 08/27" is a card followed
        by an expiry date, not a 19-digit number that fails Luhn."""
        if self.validate is None or self.validate(m.group()):
            return int(m.end())
        if not self.shorter:
            return None
        for e in range(m.end() - 1, m.start(), -1):
            if text[e] in " -.\t" and text[e - 1] not in " -.\t":
                short = self._re.fullmatch(text, m.start(), e)
                if short is not None and self.validate(short.group()):
                    return e
        return None

    def prefix_at(self, view: Normalized, pos: int) -> bool:
        """Could view.text[pos:] be the beginning of a match (or a match that may still grow)?

        Anchored partial matching: a shorter complete match inside the text does not count,
        so "DE44 7352 " (ending in the space before the next digit group) is still forming."""
        return self._re.fullmatch(view.text, pos, partial=True) is not None

    def partial_start(self, views: Views, start: int = 0) -> int | None:
        """Original offset of the earliest match, at or after original offset `start`, that
        the text's end has not finished (None when every match is complete)."""
        view = views.get(self.view)
        for p in range(len(view.text)):
            if view.origin(p) >= start and self.prefix_at(view, p):
                return view.origin(p)
        return None


_BASE64 = regex.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")


def _b64text(run: str) -> str | None:
    """The text a base64 run encodes, when it is mostly printable UTF-8."""
    try:
        raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    return text if text and printable >= 0.9 * len(text) else None


STRENGTH = {"block": 3, "redact": 2, "flag": 1, "allow": 0}


def dominant(findings: list[Finding], action: Callable[[str], str] | None = None) -> list[Finding]:
    """Overlapping findings of different detectors resolve by the strength of their category's
    action (block > redact > flag > allow), then by length: a key followed by "@x.io" is a
    secret to block, not an e-mail to flag; the digits of an IBAN are not also a phone."""

    def rank(f: Finding) -> tuple[int, int]:
        return (STRENGTH[action(f.category)] if action else 0, f.end - f.start)

    keep = []
    for f in findings:
        beaten = any(
            g.detector != f.detector and g.start < f.end and f.start < g.end and rank(g) > rank(f)
            for g in findings
        )
        if not beaten:
            keep.append(f)
    return keep


def term_detector(
    name: str, category: str, terms: list[str], word_boundary: bool, label: str = "[REDACTED]"
) -> RegexDetector:
    """An operator's term list as one alternation, matched on the folded view."""
    alts = sorted({normalize(t).text for t in terms if t.strip()}, key=len, reverse=True)
    body = "|".join(regex.escape(a) for a in alts) or r"(?!)"
    pattern = rf"(?<!\w)(?:{body})(?!\w)" if word_boundary else f"(?:{body})"
    return RegexDetector(name, category, pattern, label, casefold=True)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

PII: dict[str, tuple[str, str, Callable[[str], bool] | None]] = {
    "email": (
        r"(?<![\w.+-])[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,24}"
        r"(?![\w-])",
        "[EMAIL]",
        None,
    ),
    "phone": (
        r"(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){3,6}|(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
        r"\d{2,4}[ .-]\d{2,5}(?:[ .-]\d{2,5})?)(?![\w-])",
        "[PHONE]",
        phone_ok,
    ),
    "payment_card": (r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])", "[CARD]", luhn_ok),
    "us_ssn": (r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", "[SSN]", ssn_ok),
    "iban": (
        r"(?<![a-z0-9])[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,4})?(?![a-z0-9])",
        "[IBAN]",
        iban_ok,
    ),
    # not CIDR, not a version string's part ("4.2.1.17.3"); a sentence's full stop may follow
    "ipv4": (rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w/]|\.\w)", "[IP]", None),
    "ipv6": (r"(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])", "[IP]", ipv6_ok),
}

SECRETS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "private_key": (r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY( BLOCK)?-----", None),
    "aws_access_key": (r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])", None),
    "github_token": (
        r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255})(?!\w)",
        None,
    ),
    "openai_key": (r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![\w-])", None),
    "anthropic_key": (r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,200}(?![\w-])", None),
    "slack_token": (r"(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,200}(?![\w-])", None),
    "google_api_key": (r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])", None),
    "stripe_key": (r"(?<!\w)[rsp]k_(?:live|test)_[0-9A-Za-z]{16,99}(?!\w)", None),
    "jwt": (
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,1000}\.eyJ[A-Za-z0-9_-]{8,1000}\.[A-Za-z0-9_-]{8,1000}",
        None,
    ),
    "assigned_secret": (
        r"(?i)(?<![\w-])(?:api[_-]?key|secret[_-]?key|access[_-]?token|auth[_-]?token|password"
        r"|passwd|client[_-]?secret)[\"']?\s{0,3}[:=]\s{0,3}[\"']?[^\s\"']{12,200}",
        _entropy_ok,
    ),
}

# Prompt injection: phrasings that try to override the system's instructions or extract them.
INJECTION = [
    r"(?:ignore|disregard|forget|override|bypass|skip)\s{1,3}(?:all\s{1,3}|any\s{1,3}|the\s{1,3}"
    r"|your\s{1,3}|my\s{1,3}|these\s{1,3}|those\s{1,3})?(?:previous|prior|above|earlier|preceding"
    r"|original|initial|system|existing)\s{0,3}(?:instructions?|prompts?|rules|directions"
    r"|guidelines|constraints|context|messages?)",
    r"(?:ignore|disregard|forget|override|bypass)\s{1,3}(?:all|any|your)\s{1,3}(?:instructions"
    r"|rules|guidelines|restrictions|safety\s{1,3}rules)",
    r"(?:reveal|print|show|repeat|output|leak|display|tell\s{1,3}me)\s{1,3}(?:me\s{1,3})?"
    r"(?:your|the)\s{1,3}(?:full\s{1,3}|entire\s{1,3}|hidden\s{1,3}|secret\s{1,3}|original\s{1,3}"
    r"|initial\s{1,3})?(?:system\s{1,3}prompt|system\s{1,3}message|instructions|hidden\s{1,3}"
    r"prompt|prompt)",
    r"you\s{1,3}are\s{1,3}(?:now\s{1,3})?(?:dan|in\s{1,3}developer\s{1,3}mode|jailbroken"
    r"|unrestricted|unfiltered|no\s{1,3}longer\s{1,3}bound)",
    r"(?:developer|god|jailbreak|dan)\s{1,3}mode\s{1,3}(?:enabled|activated|on)",
    r"do\s{1,3}anything\s{1,3}now",
    r"(?:pretend|act|behave|imagine)\s{1,3}(?:that\s{1,3})?(?:you\s{1,3}(?:have|are)|as\s{1,3}"
    r"(?:if\s{1,3})?(?:you\s{1,3}(?:have|are|were))?)\s{0,3}(?:an?\s{1,3})?(?:no|without|unbound"
    r"|free\s{1,3}of)\s{0,3}(?:any\s{1,3})?(?:rules|restrictions|filters|guidelines|limits"
    r"|ethics|content\s{1,3}polic(?:y|ies))",
    r"<\|?(?:im_start|system|im_end)\|?>\s{0,3}(?:system)?",
    r"\[(?:system|inst)\]|<<sys>>",
    r"new\s{1,3}(?:system\s{1,3})?instructions?\s{0,3}:",
]


_CHECKSUMMED = ("payment_card", "iban")  # a number followed by more digits or a word


def builtin(name: str) -> list[RegexDetector]:
    """Detectors of a built-in family ('pii', 'secrets', 'prompt_injection') or one member
    ('pii.email', 'secrets.jwt')."""
    family, _, member = name.partition(".")
    if family == "pii":
        return [
            RegexDetector(
                f"pii.{k}", "pii", p, label, casefold=True, validate=v, shorter=k in _CHECKSUMMED
            )
            for k, (p, label, v) in PII.items()
            if not member or k == member
        ]
    if family == "secrets":
        return [
            RegexDetector(f"secrets.{k}", "secrets", p, "[SECRET]", casefold=False, validate=v)
            for k, (p, v) in SECRETS.items()
            if not member or k == member
        ]
    if family == "prompt_injection" and not member:
        return [
            RegexDetector(
                f"prompt_injection.{i}",
                "prompt_injection",
                p,
                "[REDACTED]",
                view="loose",
                decode_base64=True,
            )
            for i, p in enumerate(INJECTION)
        ]
    raise KeyError(name)


BUILTIN_NAMES = (
    ["pii", "secrets", "prompt_injection"]
    + [f"pii.{k}" for k in PII]
    + [f"secrets.{k}" for k in SECRETS]
)

"""Detectors: PII, secrets, prompt-injection heuristics, operator term and regex lists.

Each detector scans a normalized view of the text (NFKC, invisible characters removed; case
folded for words, case kept for key shapes) and reports findings as spans of the *original*
text. `partial_start` answers the stream guard's question: could the end of this text be the
beginning of a match, and from where? (the `regex` module's partial matching does the work).
"""

from __future__ import annotations

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


class Views:
    """Normalized views of one text, computed once and shared by all detectors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded: Normalized | None = None
        self._cased: Normalized | None = None

    def get(self, casefold: bool) -> Normalized:
        if casefold:
            if self._folded is None:
                self._folded = normalize(self.text, casefold=True)
            return self._folded
        if self._cased is None:
            self._cased = normalize(self.text, casefold=False)
        return self._cased


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
    """One pattern (bounded length), optionally validated, on the case-kept or folded view."""

    name: str
    category: str
    pattern: str
    label: str
    casefold: bool = False
    validate: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        self._re = regex.compile(self.pattern, regex.V1)

    def find(self, views: Views) -> list[Finding]:
        view = views.get(self.casefold)
        out = []
        for m in self._re.finditer(view.text, overlapped=False):
            if self.validate is None or self.validate(m.group()):
                s, e = view.span(m.start(), m.end())
                out.append(Finding(self.category, self.name, s, e, self.label))
        return out

    def partial_start(self, views: Views) -> int | None:
        """Original offset where a match that the text's end has not finished could begin.

        Both partial matches and complete ones that touch the end count: a complete match can
        still grow (more digits, a longer domain) or pass validation once it does."""
        view = views.get(self.casefold)
        end = len(view.text)
        for m in self._re.finditer(view.text, partial=True):
            if m.end() == end and m.end() > m.start():
                return view.origin(m.start())
        return None


def dominant(findings: list[Finding]) -> list[Finding]:
    """Drop findings lying inside a longer finding of another detector: the digits of an IBAN
    are not also a phone number."""
    keep = []
    for f in findings:
        inside = any(
            g.detector != f.detector
            and g.start <= f.start
            and f.end <= g.end
            and (g.end - g.start) > (f.end - f.start)
            for g in findings
        )
        if not inside:
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
    "ipv4": (rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w./])", "[IP]", None),  # not CIDR
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


def builtin(name: str) -> list[RegexDetector]:
    """Detectors of a built-in family ('pii', 'secrets', 'prompt_injection') or one member
    ('pii.email', 'secrets.jwt')."""
    family, _, member = name.partition(".")
    if family == "pii":
        return [
            RegexDetector(f"pii.{k}", "pii", p, label, casefold=True, validate=v)
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
            RegexDetector(f"prompt_injection.{i}", "prompt_injection", p, "[REDACTED]", True)
            for i, p in enumerate(INJECTION)
        ]
    raise KeyError(name)


BUILTIN_NAMES = (
    ["pii", "secrets", "prompt_injection"]
    + [f"pii.{k}" for k in PII]
    + [f"secrets.{k}" for k in SECRETS]
)

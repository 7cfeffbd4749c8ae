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
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
import regex
from stdnum import iban, luhn
from stdnum.us import ssn as us_ssn

from safety.normalize import Normalized, normalize


@dataclass(frozen=True)
class Finding:
    category: str
    detector: str
    start: int  # original text offsets
    end: int
    label: str  # redaction placeholder
    whole: bool = False  # a verdict on a stretch of text (learned), not a matched span


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
                # the fast path: ASCII as it is (a range map alone may be non-ASCII text that
                # maps to itself, which the other view must still normalize)
                self._plain = isinstance(view.starts, range) and self.text.isascii()
            else:
                view = normalize(self.text, casefold=kind == "folded", plain=self._plain)
            self._views[kind] = view
        return view


# The loose view's two scans use the standard `re` module: on normalized text (no marks, no
# joiners) its \w is the same, and it scans these patterns about three times faster.
_SPACED = re.compile(r"(?<!\w)\w([ .\-_*·])(?:\w\1)+\w(?!\w)")  # one separator per run
# a run of letters, digits, "@" and "$" that holds a letter and one of the others ("1gn0r3")
_LEET_WORD = re.compile(r"(?<![a-z0-9@$])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET = str.maketrans("013457@$9", "oieastasg")


def loosen(view: Normalized) -> Normalized:
    """The loose view of a folded view (see Views); offsets compose. Both steps are single
    regex scans, so text with no spaced-out run and no leetspeak word costs no Python loop."""
    text = view.text
    drop = {  # the separators of every spaced-out run
        k for m in _SPACED.finditer(text) for k in range(m.start() + 1, m.end(), 2)
    }
    keep = [k for k in range(len(text)) if k not in drop] if drop else None
    joined = "".join(text[k] for k in keep) if keep is not None else text
    leet = [m.span() for m in _LEET_WORD.finditer(joined)]
    if keep is None and not leet:
        return view
    pieces, pos = [], 0
    for a, b in leet:  # one character for one, so offsets stay
        pieces += [joined[pos:a], joined[a:b].translate(_LEET)]
        pos = b
    pieces.append(joined[pos:])
    if keep is None:
        return Normalized("".join(pieces), view.starts, view.ends, view.length)
    starts = [view.starts[k] for k in keep]
    ends = [view.ends[k] for k in keep]
    return Normalized("".join(pieces), starts, ends, view.length)


# ---- validators -------------------------------------------------------------------------------


# Checksums and number formats come from python-stdnum (luhn, iban, us.ssn) and Google's
# libphonenumber port (phonenumbers): maintained registries of what each country issues, which
# a pattern here can only approximate. The patterns only propose candidates.


def luhn_ok(s: str) -> bool:
    digits = "".join(c for c in s if c.isdigit())
    if not 13 <= len(digits) <= 19 or digits[0] == "0" or len(set(digits)) == 1:
        return False  # no issuer number starts with 0; all-same digits are placeholders
    return bool(luhn.is_valid(digits))


def iban_ok(s: str) -> bool:
    compact = s.replace(" ", "").upper()
    if compact[2:4] in ("00", "01", "99"):  # never-issued check digits
        return False
    return bool(iban.is_valid(compact))  # country, length and BBAN format too


def ssn_ok(s: str) -> bool:
    return bool(us_ssn.is_valid(s.replace(" ", "-")))


# national formats tried for a number written without its country code: with the trunk prefix
# 0 (most of Europe, China's landlines, ...), or without one (NANP, Spain, Italy, China mobile)
TRUNK_REGIONS = ("GB", "FR", "DE", "NL", "BE", "AT", "CH", "IT", "CN", "IN", "BR", "JP", "AU")
NO_TRUNK_REGIONS = ("US", "CA", "ES", "IT", "CN")
_NOT_PHONE = regex.compile(  # dates, times, and the shapes of an IPv4 address or an SSN
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}:\d{2}|^\d{1,3}(?:\.\d{1,3}){3}$|^\d{3}-\d{2}-\d{4}$"
)


def phone_ok(s: str) -> bool:
    """A number some country really issues (libphonenumber's metadata): with a country code as
    written, else in the national format of one of PHONE_REGIONS."""
    if _NOT_PHONE.search(s):
        return False
    digits = "".join(c for c in s if c.isdigit())
    international = s.lstrip().startswith("+")
    if not (7 if international else 9) <= len(digits) <= 15 or len(set(digits)) == 1:
        return False
    if international:
        regions: tuple[str | None, ...] = (None,)
    else:
        regions = TRUNK_REGIONS if digits[0] == "0" else NO_TRUNK_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(s, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


_PSL: object | None = None


def email_ok(s: str) -> bool:
    """The domain ends in a public suffix (tldextract's bundled Public Suffix List): not
    "logo@2x.png" or "q@k.transpose"."""
    global _PSL
    if _PSL is None:
        import tldextract

        _PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return bool(_PSL(s.rsplit("@", 1)[1]).suffix)  # type: ignore[operator]


def _not_placeholder(s: str) -> bool:
    """A key's random part, not "sk-XXXXXXXX..." or "sk-your-key-here-..."."""
    body = regex.sub(r"^[a-z]{2,4}[_-](?:(?:proj|svcacct|admin|ant|live|test)[_-])?", "", s)
    return len(set(body)) >= 8 and not _PLACEHOLDER.search(body)


def ipv6_ok(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return s.count(":") >= 2 and sum(1 for g in s.split(":") if g) >= 3  # not "::", "::1"


_PLACEHOLDER = regex.compile(
    r"^(?:x{4,}|\*{3,}|<[^>]*>?|\$\{?\w+\}?|%\(?\w+\)?s?|\{\{?[^}]*\}?\}?|changeme|password|"
    r"your[_-]?\w+|example\w*|dummy\w*|redacted|placeholder|none|null|true|false)@?$"
    r"|x{6,}|X{6,}",
    regex.IGNORECASE,
)
_REFERENCE = regex.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?$|^(?:os\.)?getenv|^env\[")


def _secret_value(s: str) -> bool:
    """An assigned value that is a credential: not a placeholder, not a reference to another
    variable (settings.DB_PASSWORD), and random-looking (the entropy check below)."""
    value = regex.split(r"[:=]|requirepass\s", s, maxsplit=1, flags=regex.IGNORECASE)[-1]
    value = value.strip().strip("'\"")
    if _PLACEHOLDER.search(value) or _REFERENCE.search(value):
        return False
    return _entropy_ok(s)


def _entropy_ok(s: str) -> bool:
    """Generic 'key = value' secrets: the value must look random, not like a word."""
    import math
    from collections import Counter

    value = regex.split(r"[:=]|requirepass\s", s, maxsplit=1, flags=regex.IGNORECASE)[-1]
    value = value.strip().strip("'\"")
    if len(value) < 8:
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


@dataclass
class LearnedDetector:
    """The learned prompt-injection model (safety/learned.py) as a detector: whole-text scores
    in windows, so no pattern and no partial match (it cannot hold streamed output)."""

    name: str
    category: str
    label: str = "[REDACTED]"
    view: str = "loose"
    learned: bool = True
    decode_base64: bool = False

    def find(self, views: Views, pos: int = 0) -> list[Finding]:
        from safety.learned import default_model, windows

        view = views.get(self.view)
        spans = [(s, e) for s, e in windows(view.text) if e > pos and e > s]
        if not spans:
            return []
        model = default_model()
        scores = model.window_scores(view.text, spans)
        out = []
        for (s, e), p in zip(spans, scores, strict=True):
            if p >= model.threshold:
                a, b = view.span(s, e)
                out.append(Finding(self.category, self.name, a, b, self.label, whole=True))
                break  # one finding per text: the category is what matters
        return out

    find_plain = find


Detector = RegexDetector | LearnedDetector

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
    spans = [f for f in findings if not f.whole]  # verdicts on whole stretches shadow nothing
    for f in findings:
        beaten = not f.whole and any(
            g.detector != f.detector and g.start < f.end and f.start < g.end and rank(g) > rank(f)
            for g in spans
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
_VERSION_WORD = (
    r"(?:version|ver\.?|release|build|v|(?:upgrade|update|downgrade|bump|pin)(?:d|ed)?\s{1,2}to"
    r"|[=<>~!]=)\s{0,2}"
)

PII: dict[str, tuple[str, str, Callable[[str], bool] | None]] = {
    "email": (
        r"(?<![\w.+/-])[\p{L}\p{N}._%+-]{1,64}@[\p{L}\p{N}-]{1,63}(?:\.[\p{L}\p{N}-]{1,63}){0,8}"
        r"\.(?:[\p{L}]{2,24}|xn--[a-z0-9-]{1,59})(?![\w-])",
        "[EMAIL]",
        email_ok,
    ),
    "phone": (  # candidates; phone_ok decides (libphonenumber)
        r"(?<![\w+.:/#-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}"
        r"|(?:\(\d{2,5}\)[ .-]?|\d{2,5}[ .-])\d{2,8}(?:[ .-]\d{2,5}){0,3})"
        r"(?: ?(?:x|ext\.?) ?\d{1,5})?(?![\w:-]|\.\d)",
        "[PHONE]",
        phone_ok,
    ),
    "payment_card": (
        r"(?<![\w-])\d(?:(?:[ \t]{1,2}|[-.])?\d){12,18}(?![\w-]|\.\d)",
        "[CARD]",
        luhn_ok,
    ),
    "us_ssn": (r"(?<![\w-])\d{3}(?:-\d{2}-| \d{2} )\d{4}(?![\w-])", "[SSN]", ssn_ok),
    "iban": (
        r"(?<![a-z0-9])[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,4})?(?![a-z0-9])",
        "[IBAN]",
        iban_ok,
    ),
    # not CIDR, not a version string's part ("4.2.1.17.3"); a sentence's full stop may follow
    "ipv4": (  # not after a version word ("release 4.2.1.17", "pkg==1.2.3.4")
        rf"(?<![\w.]|{_VERSION_WORD}){_OCTET}(?:\.{_OCTET}){{3}}(?![\w/]|\.\w)",
        "[IP]",
        None,
    ),
    "ipv6": (r"(?<![\w:\[])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:\]])", "[IP]", ipv6_ok),
}


def _detect_secrets_patterns() -> dict[str, str]:
    """Credential shapes from detect-secrets' plugins (Yelp, maintained with the providers'
    formats), those whose pattern stands alone; plugins needing a keyword context, an entropy
    test or an unbounded line (npm's .npmrc) stay out, and ours cover AWS/GitHub/JWT/Stripe.
    Mailchimp's key begins with 32 lowercase letters or digits and Discord's with a capital
    M, N or O and 23 letters, so ordinary words could be the start of one: a streamed answer
    would be held word by word; they stay out too."""
    from detect_secrets.plugins import (
        azure_storage_key,
        gitlab_token,
        openai,
        pypi_token,
        sendgrid,
        slack,
        square_oauth,
        telegram_token,
        twilio,
    )  # fmt: skip

    plugins: dict[str, Any] = {
        "azure_storage_key": azure_storage_key.AzureStorageKeyDetector,
        "gitlab_token": gitlab_token.GitLabTokenDetector,
        "openai": openai.OpenAIDetector,
        "pypi_token": pypi_token.PypiTokenDetector,
        "sendgrid": sendgrid.SendGridDetector,
        "slack_webhook": slack.SlackDetector,
        "square_oauth": square_oauth.SquareOAuthDetector,
        "telegram_token": telegram_token.TelegramBotTokenDetector,
        "twilio": twilio.TwilioKeyDetector,
    }
    out = {}
    for name, plugin in plugins.items():
        pats = [p.pattern for p in plugin().denylist]
        out[name] = r"(?<![\w-])(?:" + "|".join(f"(?:{p})" for p in pats) + r")(?![\w-])"
    return out


DETECT_SECRETS = _detect_secrets_patterns()

SECRETS: dict[str, tuple[str, Callable[[str], bool] | None]] = {
    "private_key": (  # the whole block when its end is there, else the header
        r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s:,-]{0,8000}?"
        r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?",
        None,
    ),
    "aws_access_key": (r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])", None),
    "github_token": (
        r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255})(?!\w)",
        None,
    ),
    "openai_key": (
        r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![\w-])",
        _not_placeholder,
    ),
    "anthropic_key": (r"(?<![\w-])sk-ant-[A-Za-z0-9_-]{20,200}(?![\w-])", _not_placeholder),
    "slack_token": (r"(?<![\w-])xox[abposr]-[A-Za-z0-9-]{10,200}(?![\w-])", _not_placeholder),
    "google_api_key": (r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])", _not_placeholder),
    "stripe_key": (r"(?<!\w)[rsp]k_(?:live|test)_[0-9A-Za-z]{16,99}(?!\w)", _not_placeholder),
    "jwt": (
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,1000}\.eyJ[A-Za-z0-9_-]{8,1000}\.[A-Za-z0-9_-]{8,1000}",
        None,
    ),
    "assigned_secret": (  # NAME = value, NAME: value, requirepass value; _secret_value decides
        # the keyword may end a longer name (DB_PASSWORD, aws_secret_access_key): the match
        # starts at the keyword, so ordinary words never look like the start of one
        r"(?i)(?<![a-z0-9-])(?:(?:api[_-]?key|secret[_-]?(?:access[_-]?)?key|access[_-]?token"
        r"|auth[_-]?token|password|passwd|pwd|client[_-]?secret)[\"']?\s{0,3}[:=]"
        r"|requirepass\s)\s{0,3}[\"']?[^\s\"']{8,200}",
        _secret_value,
    ),
    "url_password": (  # ://user:password@host (detect-secrets' BasicAuthDetector shape)
        # from the "://" on: a pattern that begins with the scheme could begin at any word and
        # would hold every streamed word; the span is the credentials and host
        r"(?<![:/])://[^:/?#\[\]@!$&'()*+,;=\s]{1,100}:[^:/?#\[\]@!$&'()*+,;=\s]{3,200}"
        r"@[^\s/?#@]{1,255}",
        lambda s: not _PLACEHOLDER.search(s[3:].split("@")[0].split(":", 1)[1]),
    ),
    **{f"ds_{k}": (p, None) for k, p in DETECT_SECRETS.items()},
}
# Prompt injection: phrasings that try to override the system's instructions or extract them.
INJECTION = [
    r"(?:ignore|disregard|forget|override|bypass|skip)\s{1,3}(?:all\s{1,3}|any\s{1,3}|the\s{1,3}"
    r"|your\s{1,3}|my\s{1,3}|these\s{1,3}|those\s{1,3})?(?:previous|prior|above|earlier|preceding"
    r"|original|initial|system|existing)\s{0,3}(?:instructions?|prompts?|rules|directions"
    r"|guidelines|constraints|context|messages?)",
    r"(?:ignore|disregard|forget|override|bypass)\s{1,3}(?:all|any|your)\s{1,3}(?:instructions"
    r"|rules|guidelines|restrictions|safety\s{1,3}rules)",
    # "your" instructions are the model's; "the" prompt/instructions must be its own kind
    # ("print the instructions for the shelf" and "show me the prompt you used" are not)
    r"(?:reveal|print|show|repeat|output|leak|display|tell\s{1,3}me)\s{1,3}(?:me\s{1,3})?"
    r"(?:your\s{1,3}(?:full\s{1,3}|entire\s{1,3}|hidden\s{1,3}|secret\s{1,3}|original\s{1,3}"
    r"|initial\s{1,3})?(?:system\s{1,3}prompt|system\s{1,3}message|instructions|hidden\s{1,3}"
    r"prompt|prompt)|the\s{1,3}(?:full\s{1,3}|entire\s{1,3}|exact\s{1,3})?(?:system\s{1,3}"
    r"(?:prompt|message|instructions)|(?:hidden|secret|initial|original)\s{1,3}(?:prompt"
    r"|instructions)))",
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
    # Chinese (no spaces between words; the learned model has too little Chinese to learn from)
    r"(?:忽略|无视|忘掉|忘记|不要理会|别管|跳过|抛开|放弃)(?:掉|你)?(?:之前|以前|先前|上面|上述|前面"
    r"|原来|原有|所有|全部|一切|开发者)?(?:给你)?的?(?:所有|全部|一切)?(?:的)?(?:指令|指示|规则|设定|提示"
    r"|说明|要求|限制|约束|安全策略)",
    r"(?:输出|显示|告诉我|泄露|打印|重复|给我看|透露|展示|复述)(?:一下|出)?(?:你的|你)?(?:完整的?|全部)?"
    r"(?:系统提示词?|系统指令|初始指令|隐藏指令|系统设定|提示词|原始指令)",
    r"(?:开发者|上帝|越狱|无限制|dan)模式",
    r"(?:没有|不受|摆脱)(?:任何)?(?:的)?(?:限制|约束|审查|过滤)",
    r"(?:之前|以前|先前|上面|原来)的(?:所有)?(?:指令|规则|设定|指示)(?:全部|都|一律)?(?:作废|无效|失效|取消)",
]


_CHECKSUMMED = ("payment_card", "iban")  # a number followed by more digits or a word


def builtin(name: str) -> list[Detector]:
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
    if family == "prompt_injection" and member == "learned":
        return [LearnedDetector("prompt_injection.learned", "prompt_injection")]
    if family == "prompt_injection" and member in ("", "rules"):
        learned: list[Detector] = [*builtin("prompt_injection.learned")] if not member else []
        return learned + [
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
    ["pii", "secrets", "prompt_injection", "prompt_injection.rules", "prompt_injection.learned"]
    + [f"pii.{k}" for k in PII]
    + [f"secrets.{k}" for k in SECRETS]
)

"""Text as detectors should see it, with a map back to the original characters.

One pass, one original character (or construct) at a time, so every normalized character
remembers where it came from and findings can be reported, redacted and held back in the
original text:

1. HTML entities are decoded (`&#64;`, `&commat;`, `&#x40;` are all "@"), and the bracketed
   spellings `[at]`, `(dot)`, `{at}` become "@" and ".".
2. Compatibility forms are folded and every combining mark and Default_Ignorable code point is
   dropped (NFKD, then marks and ignorables removed): fullwidth letters, ligatures, mathematical
   alphanumerics, "e" + U+0301, zero-width spaces and joiners, soft hyphens, Mongolian variation
   selectors (U+180B..), tag characters and Hangul fillers all disappear or fold.
3. Every Unicode decimal digit becomes its ASCII digit (Arabic-Indic, Devanagari, ...), every
   dash (Pd) becomes "-" and every space separator (Zs, e.g. NBSP, thin space) a space.
4. Case folding, for the folded view (key shapes are matched case-kept).
5. Confusables: a non-ASCII letter whose Unicode confusables prototype (UTS #39, the data of
   the pinned `confusable-homoglyphs` package) is one ASCII character is mapped to it, inside
   any word that also holds ASCII letters or digits or whose letters are all such look-alikes.
   So one Cyrillic "а" in "pаssword" or an all-Greek "ΑΚΙΑ" is caught, while Russian or Greek
   prose keeps its own letters. Unlike the full UTS #39 skeleton, ASCII itself is never remapped
   ("m" is not "rn", "0" is not "O"): the detectors' patterns are written in plain ASCII.
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import regex

# the semicolon is required: without it "&para=1" in a URL would read as "¶=1"
_ENTITY = regex.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BRACKETED = regex.compile(r" {0,2}[\[({] ?(at|dot) ?[\])}] {0,2}", regex.IGNORECASE)
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
# the ASCII fast path is safe only when neither construct of step 1 can be present
_ASCII_CONSTRUCT = regex.compile(r"&|[\[({]\s?(?:at|dot)", regex.IGNORECASE)


def is_invisible(ch: str) -> bool:
    """A code point that renders as nothing (Default_Ignorable), never tab or newline."""
    return _IGNORABLE.match(ch) is not None


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Non-ASCII character -> its one-character ASCII confusables prototype."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    out: dict[str, str] = {}
    for key, homoglyphs in json.loads(raw).items():
        key = key.strip("\u200e\u200f")
        if len(key) != 1 or key.isascii():
            continue
        for h in homoglyphs:
            c = h["c"].strip("\u200e\u200f")
            if len(c) == 1 and c.isascii() and c.isalnum():
                # UTS #39 files capital I under "l"; a capital look-alike is an "I" to us
                out[key] = "I" if c == "l" and key.isupper() else c
                break
    # the folded view meets letters already case-folded: "κ" has no ASCII prototype of its
    # own, but its capital "Κ" has ("K"), so the folded view maps "κ" to "k"
    for key, c in list(out.items()):
        folded = key.casefold()
        if len(folded) == 1 and not folded.isascii():
            out.setdefault(folded, c.lower())
    return out


@lru_cache(maxsize=8192)
def fold_char(ch: str, casefold: bool) -> str:
    """Steps 2-4 for one character (cached: text repeats its characters)."""
    if _IGNORABLE.match(ch):
        return ""
    out = []
    for c in unicodedata.normalize("NFKD", ch):
        cat = unicodedata.category(c)
        if cat[0] == "M" or _IGNORABLE.match(c):
            continue
        d = unicodedata.decimal(c, None)
        if d is not None:
            out.append(str(d))
        elif cat == "Pd":
            out.append("-")
        elif cat == "Zs":
            out.append(" ")
        else:
            out.append(c.casefold() if casefold else c)
    return "".join(out)


@dataclass(frozen=True)
class Normalized:
    """`text` normalized; normalized char i came from original chars starts[i]..ends[i]."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]
    length: int  # of the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A normalized span -> the original span it covers."""
        if start >= len(self.text):
            return self.length, self.length
        if end <= start:
            return self.starts[start], self.starts[start]
        return self.starts[start], self.ends[end - 1]

    def origin(self, i: int) -> int:
        """The original index where normalized position i begins (len -> original length)."""
        return self.starts[i] if i < len(self.text) else self.length


def ascii_only(text: str) -> bool:
    """True when normalization is only case folding (the fast path)."""
    return text.isascii() and _ASCII_CONSTRUCT.search(text) is None


def normalize(text: str, casefold: bool = True) -> Normalized:
    """The normalized view of `text` with its offset map (see the module docstring)."""
    n = len(text)
    if ascii_only(text):
        return Normalized(text.lower() if casefold else text, range(n), range(1, n + 1), n)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < n:
        piece, j = _construct(text, i, casefold)
        if not piece and ends:  # a dropped mark or ignorable belongs to the character before
            ends[-1] = j
        for c in piece:
            chars.append(c)
            starts.append(i)
            ends.append(j)
        i = j
    _map_confusables(chars)
    return Normalized("".join(chars), starts, ends, n)


def _construct(text: str, i: int, casefold: bool) -> tuple[str, int]:
    """The normalized form of the construct starting at text[i], and where it ends."""
    c = text[i]
    if c < "\x80":
        if c == "&" and (m := _ENTITY.match(text, i)) is not None:
            decoded = html.unescape(m.group())
            if decoded != m.group():
                return "".join(fold_char(d, casefold) for d in decoded), m.end()
        elif c in " [({" and (m := _BRACKETED.match(text, i)) is not None:
            return ("@" if m.group(1).lower() == "at" else "."), m.end()
        return (c.lower() if casefold else c), i + 1
    return fold_char(c, casefold), i + 1


def _map_confusables(chars: list[str]) -> None:
    """Step 5, in place (one character for one, so offsets stay)."""
    protos = _prototypes()
    n = len(chars)
    i = 0
    while i < n:
        if not chars[i].isalnum():
            i += 1
            continue
        j = i
        while j < n and chars[j].isalnum():
            j += 1
        word = chars[i:j]
        foreign = [k for k, c in enumerate(word) if not c.isascii()]
        if foreign:
            has_ascii = len(foreign) < len(word)
            if has_ascii or all(word[k] in protos for k in foreign):
                for k in foreign:
                    chars[i + k] = protos.get(word[k], word[k])
        i = j

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import regex

# the semicolon is required: without it "&para=1" in a URL would read as "¶=1"
_ENTITY = regex.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BRACKETED = regex.compile(r" {0,2}[\[({] ?(at|dot) ?[\])}] {0,2}", regex.IGNORECASE)
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
# the ASCII fast path is safe only when neither construct of step 1 can be present
_ASCII_CONSTRUCT = regex.compile(  # a complete entity or bracketed word, nothing less
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|[\[({] ?(?:at|dot) ?[\])}]",
    regex.IGNORECASE,
)


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


_FOLDS: dict[bool, dict[str, str]] = {True: {}, False: {}}  # character -> steps 2-4
_STARTS_CONSTRUCT = frozenset("& [({")


@dataclass(frozen=True)
class Facts:
    """What each normalized view of a text reads of it first, found once for both (Views):
    whether a step-1 construct may be in it, and its non-ASCII characters in order."""

    constructs: bool
    non_ascii: str

    @classmethod
    def of(cls, text: str) -> Facts:
        found = _ASCII_CONSTRUCT.search(text) is not None
        return cls(found, "".join(_NON_ASCII.findall(text)))


def normalize(
    text: str, casefold: bool = True, plain: bool | None = None, facts: Facts | None = None
) -> Normalized:
    """The normalized view of `text` with its offset map (see the module docstring).
    `plain`: whether `text` is known to take the ASCII fast path (None: find out); `facts`:
    Facts.of(text), when already found."""
    n = len(text)
    if plain or (plain is None and ascii_only(text)):
        return Normalized(text.lower() if casefold else text, range(n), range(1, n + 1), n)
    folds = _FOLDS[casefold]
    facts = facts or Facts.of(text)
    constructs = facts.constructs
    if not constructs:
        swaps, others = _changed(facts.non_ascii, folds, casefold)
        out = text
        for c, piece in swaps:  # a piece is normalized, so no later swap matches it
            out = out.replace(c, piece)
        if not others:  # every character maps to one: offsets stay, no loop needed
            out = out.casefold() if casefold else out  # pieces are folded already: no change
            return Normalized(_map_confusables(out, casefold), range(n), range(1, n + 1), n)
        return _splice(out, others, casefold)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for run in _WORK[casefold].finditer(text):
        _plain(text, pos, run.start(), casefold, constructs, chars, starts, ends)
        a = run.start()
        pieces = [folds.get(c) or folds.setdefault(c, fold_char(c, casefold)) for c in run.group()]
        if all(len(p) == 1 for p in pieces):  # one for one (most scripts): in bulk
            chars.extend(pieces)
            starts.extend(range(a, run.end()))
            ends.extend(range(a + 1, run.end() + 1))
        else:
            for i, piece in enumerate(pieces, a):
                _emit(piece, i, i + 1, chars, starts, ends)
        pos = run.end()
    _plain(text, pos, n, casefold, constructs, chars, starts, ends)
    return Normalized(_map_confusables("".join(chars), casefold), starts, ends, n)


def _changed(
    non_ascii: str, folds: dict[str, str], casefold: bool
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The characters steps 2-4 change, with what each becomes: those that become exactly one
    character (fullwidth punctuation, other digits, dashes, spaces), and the others (dropped
    marks and ignorables, "ß" -> "ss", ligatures)."""
    swaps, others = [], {}
    changes = _CHANGES[casefold]
    for c in _distinct(non_ascii, _SAME[casefold]):
        changed = changes.get(c)
        if changed is None:
            changed = changes[c] = _WORK[casefold].match(c) is not None
            _SAME[casefold][ord(c)] = not changed
        if changed:
            piece = folds.get(c) or folds.setdefault(c, fold_char(c, casefold))
            if len(piece) == 1:
                swaps.append((c, piece))
            else:
                others[c] = piece
    return swaps, others


def _splice(text: str, others: dict[str, str], casefold: bool) -> Normalized:
    """`text` (one-for-one changes made) with the characters that become more or fewer
    characters replaced, in bulk between them."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for i in sorted(i for c in others for i in _positions(text, c)):
        chunk = text[pos:i]
        chars.extend(chunk.casefold() if casefold else chunk)
        starts.extend(range(pos, i))
        ends.extend(range(pos + 1, i + 1))
        _emit(others[text[i]], i, i + 1, chars, starts, ends)
        pos = i + 1
    chunk = text[pos:]
    chars.extend(chunk.casefold() if casefold else chunk)
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    return Normalized(_map_confusables("".join(chars), casefold), starts, ends, len(text))


_NON_ASCII = regex.compile(r"[^\x00-\x7f]+")
_CHANGES: dict[bool, dict[str, bool]] = {True: {}, False: {}}  # character -> in _WORK
# per code point: known to be one that steps 2-4 leave as it is (filled as characters are met,
# so a text's unchanged characters are skipped by one numpy mask, not a Python loop: CJK text)
_SAME = {casefold: np.zeros(0x110000, dtype=bool) for casefold in (True, False)}


BULK = 256  # non-ASCII characters from which numpy masks beat Python sets


def _distinct(chars: str, same: np.ndarray) -> Iterable[str]:
    """The distinct characters of `chars` (a text's non-ASCII ones), less those known to stay
    as they are: a set for a few (streamed chunks, accented Latin), a numpy mask over many
    (CJK text)."""
    if len(chars) < BULK:
        return set(chars)
    codes = code_points(chars)
    return map(chr, np.unique(codes[~same[codes]]).tolist())


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as uint32 (a lone surrogate is one like any other)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


# Non-ASCII characters that steps 2-4 may change: compatibility forms, marks, ignorables,
# digits, dashes, spaces and (for the folded view) letters that case folding changes. Every
# other character maps to itself, so it is copied in bulk with the ASCII around it (CJK, most
# letters of lower-case scripts); tests/safety/test_normalize.py checks every code point.
_WORK = {
    casefold: regex.compile(
        r"[[\p{NFKD_QC=N}\p{M}\p{Default_Ignorable_Code_Point}\p{Nd}\p{Pd}\p{Zs}"
        + (r"\p{Changes_When_Casefolded}" if casefold else "")
        + r"]&&[^\x00-\x7f]]+",
        regex.V1,
    )
    for casefold in (True, False)
}


def _emit(piece: str, i: int, j: int, chars: list[str], starts: list[int], ends: list[int]) -> None:
    """Append the normalized piece of original text[i:j]."""
    if len(piece) == 1:
        chars.append(piece)
        starts.append(i)
        ends.append(j)
    elif not piece:  # a dropped mark or ignorable belongs to the character before
        if ends:
            ends[-1] = j
    else:
        chars.extend(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))


def _plain(
    text: str,
    a: int,
    b: int,
    casefold: bool,
    constructs: bool,
    chars: list[str],
    starts: list[int],
    ends: list[int],
) -> None:
    """A stretch that maps to itself but for case (ASCII and the non-ASCII characters that
    `_WORK` leaves out): in bulk, or character by character where a construct may start."""
    if a >= b:
        return
    if not constructs or not any(c in _STARTS_CONSTRUCT for c in text[a:b]):
        chunk = text[a:b]
        chars.extend(chunk.casefold() if casefold else chunk)
        starts.extend(range(a, b))
        ends.extend(range(a + 1, b + 1))
        return
    i = a
    while i < b:
        piece, j = _construct(text, i, casefold)
        _emit(piece, i, j, chars, starts, ends)
        i = j


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


_WORD_BEFORE = regex.compile(r"[^\W_]*", regex.REVERSE)  # letters and digits up to a point
_WORD_FROM = regex.compile(r"[^\W_]*")
_ASCII_ALNUM = regex.compile(r"[A-Za-z0-9]")


@lru_cache(maxsize=1)
def _prototype_mask() -> np.ndarray:
    """Per code point: does it have a prototype?"""
    mask = np.zeros(0x110000, dtype=bool)
    mask[[ord(c) for c in _prototypes()]] = True
    return mask


@lru_cache(maxsize=2)
def _prototype_table(casefold: bool) -> dict[int, str]:
    """The prototypes as a translation table; lower case for the folded view, where a caseless
    look-alike of a capital (Lisu "ꓳ", Cherokee "Ꭺ", which case-folds to itself) would
    otherwise put a capital into a folded word ("ignꓳre" -> "ignOre")."""
    protos = _prototypes()
    return str.maketrans({k: v.lower() for k, v in protos.items()} if casefold else protos)


def _map_confusables(text: str, casefold: bool) -> str:
    """Step 5 (one character for one, so offsets stay). Only the words around characters
    that have a prototype are looked at: most non-ASCII text (CJK, accented Latin) has none,
    which a mask over its code points finds out without a loop over the text."""
    if text.isascii():
        return text
    protos = _prototypes()
    if len(text) < BULK:
        found = protos.keys() & set(text)
        hits = sorted(i for c in found for i in _positions(text, c))
    else:
        hits = np.flatnonzero(_prototype_mask()[code_points(text)]).tolist()
    if not hits:
        return text
    pieces: list[str] = []
    pos = done = 0
    for i in hits:
        if i < done:
            continue  # in a word already looked at
        a, done = _WORD_BEFORE.match(text, 0, i).start(), _WORD_FROM.match(text, i).end()
        word = text[a:done]
        if done > i and (
            _ASCII_ALNUM.search(word) or all(c in protos for c in word if not c.isascii())
        ):
            pieces += [text[pos:a], word.translate(_prototype_table(casefold))]
            pos = done
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)


def _positions(text: str, c: str) -> list[int]:
    out, i = [], text.find(c)
    while i >= 0:
        out.append(i)
        i = text.find(c, i + 1)
    return out

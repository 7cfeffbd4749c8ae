"""Text as detectors should see it, with a map back to the original characters.

NFKC folds compatibility forms (fullwidth letters, ligatures, mathematical alphanumerics) to
their plain letters, case folding makes matching case-insensitive, and invisible characters
(zero-width spaces and joiners, bidi controls, soft hyphens, variation selectors, tag characters)
are dropped, so "p\u200bassword" and "ＰＡＳＳＷＯＲＤ" match "password". Every normalized
character remembers which original character it came from, so findings can be reported, redacted
and held back in the original text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Invisible code points outside category Cf that render as nothing.
_EXTRA_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0}


def is_invisible(ch: str) -> bool:
    cp = ord(ch)
    if ch in "\t\n\r":
        return False
    return (
        unicodedata.category(ch) == "Cf"
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF
        or cp in _EXTRA_INVISIBLE
    )


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


def normalize(text: str, casefold: bool = True) -> Normalized:
    """NFKC (+ case folding), invisible characters removed, offsets kept.

    Characters are normalized one base character plus its combining marks at a time, so
    composition ("e" + U+0301 -> "é") still happens and the map stays exact.
    """
    n = len(text)
    if text.isascii():  # NFKC is the identity on ASCII and nothing in it is invisible
        return Normalized(text.lower() if casefold else text, range(n), range(1, n + 1), n)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = 0
    while i < n:
        c = text[i]
        if c < "\x80" and (i + 1 == n or text[i + 1] < "\x80"):
            # ASCII with no combining mark after it (marks are never ASCII): as is
            out.append(c.lower() if casefold else c)
            starts.append(i)
            ends.append(i + 1)
            i += 1
            continue
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        cluster = "".join(ch for ch in text[i:j] if not is_invisible(ch))
        if cluster:
            norm = unicodedata.normalize("NFKC", cluster)
            if casefold:
                norm = norm.casefold()
            norm = "".join(ch for ch in norm if not is_invisible(ch))
            out.append(norm)
            starts.extend([i] * len(norm))
            ends.extend([j] * len(norm))
        i = j
    return Normalized("".join(out), starts, ends, n)

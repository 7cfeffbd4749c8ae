"""The normalized views of a text that detectors read, computed once per text: cased (key
shapes), folded (words, PII) and loose (phrase rules and the learned detector: spaced-out letters
joined, leetspeak read as letters), each with its map back to original offsets; and the text of
its base64 runs.
"""

from __future__ import annotations

import base64
import binascii
import re

import numpy as np

from safety.decoders import named_decodings
from safety.normalize import Facts, Normalized, ascii_only, code_points, normalize

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
        self._plain: bool | None = None  # known at the first view: ASCII with no construct
        self._facts: Facts | None = None  # what both views read of a text that is not

    def encoded(self) -> list[tuple[int, int, Views]]:
        """(start, end, views of the decoded text) for each base64 or hex run, and each run of
        \\u escapes or percent-encoded bytes, that decodes to text (in text order); then the
        whole text decoded each way it names (ROT13, "read it backwards", an acrostic:
        safety/decoders.py), so the phrase rules read those too."""
        if self._encoded is None:
            runs = [(m, _b64text(m.group())) for m in _BASE64.finditer(self.text)]
            if "\\u" in self.text:
                runs += [(m, _escaped(m.group())) for m in _ESCAPES.finditer(self.text)]
            if "%" in self.text:
                runs += [(m, _percent(m.group())) for m in _PERCENT.finditer(self.text)]
            found = [(m.start(), m.end(), Views(text)) for m, text in runs if text is not None]
            named = named_decodings(self.text, self.get("folded").text)
            self._encoded = sorted(found, key=lambda run: run[:2])
            self._encoded += [(0, len(self.text), Views(text)) for text in named]
        return self._encoded

    def _is_plain(self) -> bool:
        """Whether the text takes normalize's ASCII fast path; if not, Facts for both views."""
        if self._plain is None:
            self._plain = ascii_only(self.text)
            self._facts = None if self._plain else Facts.of(self.text)
        return self._plain

    def get(self, kind: str) -> Normalized:
        view = self._views.get(kind)
        if view is None:
            if kind == "loose":
                view = loosen(self.get("folded"))
            else:
                view = normalize(self.text, kind == "folded", self._is_plain(), self._facts)
            self._views[kind] = view
        return view


# The loose view's two scans use the standard `re` module: on normalized text (no marks, no
# joiners) its \w is the same, and it scans these patterns about three times faster.
# one separator per run: a character, or a slash or bar with spaces ("请 / 把 / 你 / 的")
_SPACED = re.compile(r"(?<!\w)\w([ .\-_*·]| ?[/|] ?)(?:\w\1)+\w(?!\w)")
# a run of letters, digits, "@" and "$" that holds a letter and one of the others ("1gn0r3")
_LEET_WORD = re.compile(r"(?<![a-z0-9@$])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET = str.maketrans("013457@$9", "oieastasg")
_LEET_MARK = np.zeros(0x110000, dtype=bool)  # per code point: a digit, "@" or "$"
_LEET_MARK[[ord(c) for c in "0123456789@$"]] = True
_LEET_RUN = re.compile("[a-z0-9@$]*")  # read forward, and backward on the reversed text
_LEET_MAX_RUNS = 64  # past this many runs of digits and signs one regex scan is cheaper
_LETTER = re.compile("[a-z]")


def _leet_words(text: str) -> list[tuple[int, int]]:
    """The spans `_LEET_WORD` finds: each run of letters, digits, "@" and "$" that holds a
    letter and one of the others. Found from the digits and signs outward (one numpy pass
    finds them; `re` reads each run out from there), not by trying every position of the text:
    20 us less on 2,000 characters."""
    marks = np.flatnonzero(_LEET_MARK[code_points(text)])
    runs = marks[np.diff(marks, prepend=-2) > 1]  # where each run of them begins
    if len(runs) > _LEET_MAX_RUNS:
        return [m.span() for m in _LEET_WORD.finditer(text)]
    spans: list[tuple[int, int]] = []
    end, back = 0, text[::-1] if len(runs) else ""
    for at in runs.tolist():
        if at < end:
            continue  # in the run just read
        start = at - _run_length(back, len(text) - at)
        end = at + _run_length(text, at)
        if _LETTER.search(text, start, end):
            spans.append((start, end))
    return spans


def _run_length(text: str, at: int) -> int:
    """How many letters, digits, "@" and "$" follow position `at` (at C speed)."""
    m = _LEET_RUN.match(text, at)
    return m.end() - at if m else 0


def loosen(view: Normalized) -> Normalized:
    """The loose view of a folded view (see Views); offsets compose. Both steps are single
    regex scans, so text with no spaced-out run and no leetspeak word costs no Python loop."""
    text = view.text
    drop = {  # the separators of every spaced-out run
        k
        for m in _SPACED.finditer(text)
        for at in range(m.start() + 1, m.end(), 1 + len(m.group(1)))
        for k in range(at, at + len(m.group(1)))
    }
    keep = [k for k in range(len(text)) if k not in drop] if drop else None
    joined = "".join(text[k] for k in keep) if keep is not None else text
    leet = _leet_words(joined)
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


# ASCII classes only, so `re` finds what `regex` finds, at a sixth of the cost on 2,000
# characters of English (0.03 vs 0.22 ms): it reads every input. Every match begins where a run
# begins with no look-behind saying so: whether a run matches depends only on what follows it,
# so a later start in a run fails where its first did; `re` then skips ahead to the class
# (0.021 vs 0.034 ms on 2,000 characters of Chinese)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")


def _b64text(run: str) -> str | None:
    """The text a base64 run encodes, or a hex one ("4f6c7669646120..."; hex digits are base64
    characters too), when it is mostly printable UTF-8. A commit hash or digest decodes to
    neither."""
    if len(run) % 2 == 0 and _HEX.fullmatch(run):
        text = _printable(bytes.fromhex(run))
        if text is not None:
            return text
    try:
        return _printable(base64.b64decode(run + "=" * (-len(run) % 4), validate=True))
    except binascii.Error:
        return None


def _printable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    return text if text and printable >= 0.9 * len(text) else None


_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
# "\u5173\u95ed\u4f60...": text written as escapes for the model to decode
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){4,}")


# "%6F%6C%76%69...": a URL's percent-encoding (searched only in text with a "%"; hex bytes
# spaced apart, "64 65 73 ...", are not read: their search would cost 0.09 ms on every input)
_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2}){8,}")


def _percent(run: str) -> str | None:
    return _printable(bytes.fromhex(run.replace("%", "")))


def _escaped(run: str) -> str | None:
    """The text a run of \\u escapes stands for, when it is mostly printable."""
    codes = [int(run[i + 2 : i + 6], 16) for i in range(0, len(run), 6)]
    return _printable("".join(map(chr, codes)).encode("utf-8", "surrogatepass"))

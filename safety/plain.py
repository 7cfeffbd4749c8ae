"""The stream guard's check for the common chunk: plain ASCII text arriving while nothing is held.

On plain ASCII (no entity, no "[at]"-style construct) the cased view is the text itself and the
folded view its lower case, so the block/redact detectors of those two views can be asked as two
combined patterns over the chunk alone. Nothing that could match can have begun in text already
released (it would have been held), so only positions in the new chunk are asked; how far back
a pattern looks (its look-behinds) is read from the pattern, so the answer depends only on the
chunk and that many released characters. Chunks repeat (a model's tokens do), so answers are
remembered; when the patterns look one character back, per class of that character (see
CharClasses), since "after which letter" rarely matters.
"""

from __future__ import annotations

import re
import re._compiler as sre_compile
import re._constants as sre  # the stdlib's own parse of a pattern, to measure look-behinds
import re._parser as sre_parse
from functools import cache
from typing import Any

import regex

from safety.detectors import RegexDetector

# Up to this many characters one partial search of the detectors' alternation is cheapest; past
# it, each pattern's own search (with its literal-prefix scan) is: the alternation tries every
# pattern at every position. gitleaks' 234 rules, 4 characters: 0.05 ms against 0.17; 16: 0.28
# against 0.19; 128: 2.7 against 0.45 (`regex`, 2 cores).
ALTERNATION_MAX = 12
MEMO = 65536  # remembered answers per plan (cleared when full)
# Where an entity ("&amp;", "&#64;") or a bracketed "[at]" / "(dot)" could begin (see
# normalize): "&" before "#" or a letter, a bracket before "a"/"d" (one space allowed), or either
# at the chunk's end, where the next chunk may complete it. Code is full of "(x" and "[0]": those
# stay on the plain path.
_MAY_CONSTRUCT = re.compile(r"&(?:[#A-Za-z]|$)|[\[({] ?(?:[aAdD]|$)")


@cache  # a pure function of the pattern; a policy reload or a second guard asks it again
def lookbehind(pattern: str) -> int | None:
    """The most characters before a match's start that `pattern` reads (look-behinds, word
    boundaries); None when the stdlib cannot parse it, so the width is unknown."""
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    return _behind(tree, [])


def _behind(node: Any, bodies: list[sre_parse.SubPattern]) -> int:
    """The look-behind width under `node`; each look-behind's body is added to `bodies`."""
    width = 0
    items = node.data if isinstance(node, sre_parse.SubPattern) else node
    for op, av in items:
        if op in (sre.ASSERT, sre.ASSERT_NOT) and av[0] < 0:
            width = max(width, av[1].getwidth()[1])
            bodies.append(av[1])
        elif op is sre.AT and av in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY, sre.AT_BEGINNING_LINE):
            width = max(width, 1)
        for sub in _subpatterns(av):
            width = max(width, _behind(sub, bodies))
    return width


class CharClasses:
    """Characters that every one-character look-behind, word boundary and line start of a
    pattern treats alike share a representative, so "the character before" can be remembered
    per class: an answer found after "a" holds after any letter the patterns do not tell
    apart. Each body is asked in both case modes (a body may sit under a scoped (?i)) and for
    both cases of the character (the folded view sees it lowered)."""

    def __init__(self, pattern: str) -> None:
        bodies: list[sre_parse.SubPattern] = []
        _behind(sre_parse.parse(pattern), bodies)
        self._tests = [
            sre_compile.compile(body, flags) for body in bodies for flags in (0, re.IGNORECASE)
        ]
        self._by_signature: dict[tuple[bool, ...], str] = {}
        self._rep: dict[str, str] = {}

    def representative(self, c: str) -> str:
        rep = self._rep.get(c)
        if rep is None:
            if not c.isascii():
                rep = c  # only ASCII is classed; any other character stands for itself
            else:
                cases = (c, c.lower(), c.upper())
                sig = tuple(t.fullmatch(x) is not None for t in self._tests for x in cases)
                sig += (c.isalnum() or c == "_", c == "\n")
                rep = self._by_signature.setdefault(sig, c)
            self._rep[c] = rep
        return rep


@cache  # CharClasses remembers only what its patterns decide: one per pattern can be shared
def _char_classes(pattern: str) -> CharClasses:
    return CharClasses(pattern)


def _subpatterns(av: Any) -> list[sre_parse.SubPattern]:
    if isinstance(av, sre_parse.SubPattern):
        return [av]
    if isinstance(av, (tuple, list)):
        return [s for a in av for s in _subpatterns(a)]
    return []


class PlainCheck:
    """Where the block/redact detectors of the cased and folded views could begin in a plain
    chunk: `cut(released, chunk)`."""

    def __init__(self, cased: list[RegexDetector], folded: list[RegexDetector], alt: Any) -> None:
        self.patterns = [
            (regex.compile(alt(dets)), dets, lower)
            for dets, lower in ((cased, False), (folded, True))
            if dets
        ]
        widths = [lookbehind(alt(dets)) for dets in (cased, folded) if dets]
        known = [w for w in widths if w is not None]
        self.behind = max(known, default=0) if len(known) == len(widths) else None
        self._classes = (
            _char_classes("|".join(alt(dets) for dets in (cased, folded) if dets))
            if self.behind == 1
            else None
        )
        self._memo: dict[tuple[str, str], int | None] = {}

    def usable(self, chunk: str) -> bool:
        return self.behind is not None and chunk.isascii() and not _MAY_CONSTRUCT.search(chunk)

    def cut(self, released: str, chunk: str) -> int | None:
        """The first offset in `chunk` where a match could be forming (len(chunk) if none); None
        if a complete match is there (the views decide). `chunk` must be `usable`."""
        assert self.behind is not None
        before = released[-self.behind :] if self.behind else ""
        if self._classes is not None and before:
            before = self._classes.representative(before)
        key = (before, chunk)
        answer = self._memo.get(key, -1)
        if answer == -1:
            if len(self._memo) >= MEMO:
                self._memo.clear()
            answer = self._memo[key] = self._search(*key)
        return answer

    def _search(self, before: str, chunk: str) -> int | None:
        text, base = before + chunk, len(before)
        cut = len(text)
        for pattern, dets, lower in self.patterns:
            m = partial_search(pattern, dets, text.lower() if lower else text, base)
            if m is not None:
                if not m.partial:
                    return None
                cut = min(cut, m.start())
        return cut - base


def partial_search(
    alternation: regex.Pattern[str], dets: list[RegexDetector], text: str, pos: int
) -> regex.Match[str] | None:
    """What `alternation.search(text, pos, partial=True)` answers, found the cheaper way."""
    if len(text) - pos <= ALTERNATION_MAX:
        return alternation.search(text, pos, partial=True)
    return earliest([m for d in dets if (m := d.partial_search(text, pos)) is not None])


def earliest(found: list[regex.Match[str]]) -> regex.Match[str] | None:
    """The earliest complete match if there is one (`regex` prefers a complete match to an
    earlier partial one, in an alternation as in one pattern), else the earliest partial."""
    complete = [m for m in found if not m.partial]
    return min(complete or found, key=lambda m: m.start(), default=None)

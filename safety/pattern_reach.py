"""How far one match of a pattern can read from where it starts, so the stream guard asks a
pattern about the held text's end only where a match of it could still reach that end
(scan._tail). Read from the standard module's parse of the pattern, as plain.lookbehind reads
how far one reads before its start."""

from __future__ import annotations

import re
from re import _constants as re_constants
from re import _parser as re_parser
from typing import Any


def reach(pattern: str) -> int | None:
    """The most characters of a view that one match reads from its start: what it consumes and
    what its look-aheads read past that, twice over (`regex`'s full case folding lets one
    pattern character match two, "ß" and "ss"); None when a repeat is unbounded or the
    standard module's parser cannot read the pattern."""
    try:  # a Unicode property is one character, as "." is (the standard module has none)
        widest = _width(list(re_parser.parse(_PROPERTY.sub(".", pattern))))
    except (re.error, RecursionError, OverflowError):
        return None
    return None if widest is None else 2 * widest


_PROPERTY = re.compile(r"\\[pP](?:\{[^}]*\}|[A-Za-z])")
_ONE = {re_constants.LITERAL, re_constants.NOT_LITERAL, re_constants.ANY, re_constants.IN,
        re_constants.CATEGORY}  # fmt: skip
_REPEATS = {re_constants.MAX_REPEAT, re_constants.MIN_REPEAT, re_constants.POSSESSIVE_REPEAT}


def _width(items: list[Any]) -> int | None:
    """The widest a parsed sequence reads, look-aheads counted as if consumed (look-behinds and
    anchors read nothing after the start); None when unbounded or not known."""
    total = 0
    for op, av in items:
        if op in _ONE:
            part: int | None = 1
        elif op in (re_constants.AT, re_constants.ASSERT, re_constants.ASSERT_NOT):
            part = 0 if op is re_constants.AT or av[0] < 0 else _width(list(av[1]))
        elif op is re_constants.SUBPATTERN:
            part = _width(list(av[3]))
        elif op is re_constants.ATOMIC_GROUP:
            part = _width(list(av))
        elif op is re_constants.BRANCH:
            widths = [_width(list(b)) for b in av[1]]
            part = None if None in widths else max(w for w in widths if w is not None)
        elif op in _REPEATS:
            inner = _width(list(av[2]))
            part = None if inner is None or av[1] >= re_constants.MAXREPEAT else av[1] * inner
        else:  # a back-reference, a conditional: not measured
            part = None
        if part is None:
            return None
        total += part
    return total

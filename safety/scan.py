"""One policy in one direction, compiled once: which detectors run, what each category does, and
the combined patterns that make a chunk cheap to check.

`scan` finds every finding with its action (overlaps resolved by action strength); `forming`
answers the stream guard's question, where in the held text a block/redact span could still be
forming.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import regex

from safety.detectors import Detector, Finding, LearnedDetector, RegexDetector, dominant
from safety.normalize import Normalized
from safety.plain import ALTERNATION_MAX, PlainCheck, earliest
from safety.policy import Policy
from safety.views import VIEWS, Views

# The start of a normalization construct that the next chunk may complete ("&#5" of "&#52;",
# "[a" of "[at]"): held like a forming span, since its meaning is not known yet.
_OPEN_CONSTRUCT = regex.compile(r"(?:&#?[A-Za-z0-9]{0,31}| {0,2}[\[({] ?[a-zA-Z]{0,3} ?)$")


@dataclass
class Decided:
    finding: Finding
    action: str


_BACKREF = regex.compile(r"\\[1-9]|\(\?P=")


def _alternation(detectors: list[RegexDetector]) -> str:
    """One alternation of the detectors' patterns (a leading global flag becomes scoped).
    A numbered back-reference would point at another pattern's group once combined: such
    patterns do not combine (regex.error, so callers fall back to one pattern at a time)."""
    if any(_BACKREF.search(d.pattern) for d in detectors):
        raise regex.error("a back-reference does not survive combining")
    alts = []
    for d in detectors:
        p = d.pattern
        m = regex.match(r"\(\?([a-zA-Z]+)\)", p)
        alts.append(f"(?{m.group(1)}:{p[m.end() :]})" if m else f"(?:{p})")
    return "|".join(alts)


def _combined(detectors: list[RegexDetector]) -> regex.Pattern[str] | None:
    """The alternation for partial matching (the `regex` module); None if it does not compile."""
    try:
        return regex.compile(_alternation(detectors), regex.V1) if detectors else None
    except regex.error:  # an operator pattern that does not combine: no shortcut
        return None


# Past this many characters the detectors' own searches (each with its literal prefixes) cost
# less than one search of their alternation: at 2,000 characters of prose 0.13 vs 0.53 ms.
QUICK_MAX_CHARS = 128


def _quick(detectors: list[RegexDetector]) -> re.Pattern[str] | None:
    """The alternation for "any complete match here?" with the standard `re` module, which
    searches it several times faster than `regex`; None where `re` lacks the syntax."""
    try:
        return re.compile(_alternation(detectors)) if detectors else None
    except (re.error, regex.error):
        return None


def _plain_check(by_view: dict[str, list[RegexDetector]]) -> PlainCheck | None:
    """The one-search check for plain chunks; None when a detector reads the loose view or
    decodes base64, which it cannot stand in for, or when the patterns do not combine."""
    if by_view.get("loose") or any(d.decode_base64 for ds in by_view.values() for d in ds):
        return None
    try:
        return PlainCheck(by_view.get("cased", []), by_view.get("folded", []), _alternation)
    except regex.error:
        return None


@dataclass
class Group:
    """Detectors by the view they read, each view's detectors also as one combined pattern;
    those with keywords (gitleaks' rules) also by keyword, found in one Aho-Corasick pass."""

    detectors: dict[str, list[RegexDetector]]
    combined: dict[str, regex.Pattern[str] | None] = field(default_factory=dict)
    quick: dict[str, re.Pattern[str] | None] = field(default_factory=dict)
    decoding: dict[str, list[RegexDetector]] = field(default_factory=dict)
    keyed: dict[str, Keyed] = field(default_factory=dict)
    unkeyed: dict[str, list[RegexDetector]] = field(default_factory=dict)
    plain: PlainCheck | None = None  # the stream guard's check for plain chunks
    models: list[LearnedDetector] = field(default_factory=list)  # whole-text scorers

    def __post_init__(self) -> None:
        for v, dets in self.detectors.items():
            self.combined[v] = _combined(dets)
            self.keyed[v] = Keyed([d for d in dets if d.keywords], folded=v != "cased")
            self.unkeyed[v] = [d for d in dets if not d.keywords]
            self.quick[v] = _quick(self.unkeyed[v])
            self.decoding[v] = [d for d in dets if d.decode_base64]
        self.plain = _plain_check(self.detectors)

    def find(self, views: Views, start: int = 0) -> list[Finding]:
        """Findings that start at original offset `start` or later (look-behind sees before),
        and those inside base64 runs for detectors that decode them."""
        found: list[Finding] = []
        for v, dets in self.detectors.items():
            if not dets:
                continue
            view = views.get(v)
            pos = _view_index(view, start)
            for det, starts in self._candidates(v, view.text, pos):
                found.extend(det.find_plain(views, pos) if starts is None
                             else det.find_at(views, starts, pos))  # fmt: skip
            if self.decoding[v] and views.encoded():
                for det in self.decoding[v]:
                    found.extend(f for f in det.find_encoded(views) if f.end > start)
        for model in self.models:
            found.extend(f for f in model.find(views) if f.end > start)
        return found

    def _candidates(
        self, v: str, text: str, pos: int
    ) -> list[tuple[RegexDetector, list[int] | None]]:
        """The detectors of view `v` that may match text[pos:]: the keyed ones whose keyword
        is there, and the others unless their combined pattern says none can; of both, those
        whose `needs` the text has. Each with where its matches can begin, when its keywords
        lead every match (else None: it searches the text)."""
        seen: dict[str, bool] = {}  # each `needs` pattern searched once per text
        out = [(d, starts) for d, starts in self.keyed[v].present(text)
               if not d.needs or _has(seen, d.needs, text)]  # fmt: skip
        quick = self.quick[v] if len(text) - pos <= QUICK_MAX_CHARS else None
        # `re` and `regex` agree on ASCII; on other text (full case folding, Unicode
        # classes) only `regex` decides
        if quick is None or not text.isascii() or quick.search(text, pos):
            for d in self.unkeyed[v]:
                if not d.needs or _has(seen, d.needs, text):
                    out.append((d, None))
        return out


def _has(seen: dict[str, bool], needs: str, text: str) -> bool:
    if needs not in seen:
        seen[needs] = re.search(needs, text) is not None
    return seen[needs]


class Keyed:
    """Detectors that run only where one of their keywords is (gitleaks' prefilter): every
    keyword of the text found in one pass over its case-folded text."""

    def __init__(self, detectors: list[RegexDetector], folded: bool = False) -> None:
        self.detectors = detectors
        self.folded = folded  # the view is case-folded already (folded, loose)
        self.leading = any(d.leads for d in detectors)
        self._automaton: Any = None
        if detectors:
            self._automaton = ahocorasick.Automaton()
            by_word: dict[str, list[int]] = {}
            for i, d in enumerate(detectors):
                for w in d.keywords:
                    by_word.setdefault(w, []).append(i)
            for w, ids in by_word.items():
                self._automaton.add_word(w, (len(w), ids))
            self._automaton.make_automaton()

    def present(self, text: str) -> list[tuple[RegexDetector, list[int] | None]]:
        """The detectors with a keyword in text (a match starting at any position may reach
        back to a keyword before it through a look-behind: the whole text is read), each with
        where its keywords begin when they lead every match (RegexDetector.leads) and
        case-folding kept the text's offsets, else None."""
        if self._automaton is None:
            return []
        folded = text if self.folded else text.casefold()  # "paßword": "password"
        if not self.leading:  # which detectors, not where
            hits: set[int] = set()
            for _, (_, ids) in self._automaton.iter(folded):
                hits.update(ids)
            return [(self.detectors[i], None) for i in sorted(hits)]
        aligned = len(folded) == len(text)
        starts: dict[int, list[int]] = {}
        for end, (size, ids) in self._automaton.iter(folded):
            for i in ids:
                starts.setdefault(i, []).append(end + 1 - size)
        found = [(self.detectors[i], at) for i, at in sorted(starts.items())]
        return [(d, sorted(set(at)) if d.leads and aligned else None) for d, at in found]


@dataclass
class Plan:
    """The active detectors of one direction: all, those of block/redact categories (held in
    a stream), and the rest (flagged only)."""

    actions: dict[str, str]  # category -> action in this direction
    all: Group
    hold: Group
    flag: Group

    def action(self, category: str) -> str:
        return self.actions.get(category, "allow")

    def resolve(self, found: list[Finding]) -> list[Decided]:
        """Overlaps resolved by action strength, then length; in text order."""
        out = [Decided(f, self.action(f.category)) for f in dominant(found, self.action)]
        out.sort(key=lambda d: (d.finding.start, -d.finding.end))
        return out


def plan_for(policy: Policy, direction: str) -> Plan:
    """The compiled plan, cached on the policy object (a reload builds a new policy)."""
    cache: dict[str, Any] = policy.__dict__.setdefault("_plans", {})
    plan = cache.get(direction)
    if plan is None:
        actions = {c.name: c.action(direction) for c in policy.active(direction)}
        kinds = ("all", "hold", "flag")
        groups: dict[str, dict[str, list[RegexDetector]]] = {
            k: {v: [] for v in VIEWS} for k in kinds
        }
        models: dict[str, list[LearnedDetector]] = {k: [] for k in kinds}
        for cat in policy.active(direction):
            holds = actions[cat.name] in ("block", "redact")
            for det in cat.detectors:
                kind = "hold" if holds and getattr(det, "holds", True) else "flag"
                for k in ("all", kind):
                    add_detector(groups[k], models[k], det)
        plan = Plan(actions, *(Group(groups[k], models=models[k]) for k in kinds))
        cache[direction] = plan
    return plan


def add_detector(
    by_view: dict[str, list[RegexDetector]], models: list[LearnedDetector], det: Detector
) -> None:
    if isinstance(det, LearnedDetector):
        models.append(det)
    else:
        by_view[det.view].append(det)


def scan(policy: Policy, text: str, direction: str, views: Views | None = None) -> list[Decided]:
    """Every finding of the categories active in `direction`, with its action."""
    plan = plan_for(policy, direction)
    return plan.resolve(plan.all.find(views or Views(text)))


def _view_index(view: Normalized, start: int) -> int:
    """The first normalized position that comes from original offset `start` or later."""
    if isinstance(view.starts, range):
        return min(start, len(view.text))
    return bisect_left(view.starts, start)


class _Ahead:
    """The detectors' next match or partial match from a position, as their alternation's
    partial search answers it, but searched pattern by pattern past a few characters (see
    `plain.ALTERNATION_MAX`). A pattern's answer stands until the position passes its start:
    no match from pos means none from any later position."""

    def __init__(self, dets: list[RegexDetector], combined: regex.Pattern[str] | None) -> None:
        self.combined = combined
        # (place among dets, detector, its last answer); built at the first pattern-by-pattern
        # search, so a short held text (the alternation's case, most chunks) allocates nothing
        self.found: list[tuple[int, RegexDetector, regex.Match[str] | None]] | None = None
        self.dets = dets
        self.whole = True  # the last answer came from the alternation, not pattern by pattern
        # of the last pattern-by-pattern answers: those complete, those partial (by start)
        self._complete: list[tuple[int, RegexDetector]] = []
        self._partial: list[tuple[int, RegexDetector]] = []
        self._partial_starts: list[int] = []
        self._indexed = False

    def suspects(self, text: str, pos: int) -> list[RegexDetector] | None:
        """The detectors that may be forming at `pos` (None: any may): of the searches so far,
        those that found a complete match (a partial one may start before it) or a partial one
        at or before `pos`, and that reach from `pos` to the end. Any other search found a
        partial match after `pos` and no complete one: none of its matches begins at `pos`."""
        if self.whole:
            return None
        if not self._indexed:
            self._index()
        room = len(text) - pos
        k = bisect_right(self._partial_starts, pos)
        picked = sorted(self._complete + self._partial[:k])
        return [d for _, d in picked if d.reach is None or d.reach >= room]

    def first(self, text: str, pos: int) -> regex.Match[str] | None:
        self.whole = self.combined is not None and len(text) - pos <= ALTERNATION_MAX
        if self.whole:
            return self.combined.search(text, pos, partial=True)  # type: ignore[union-attr]
        if self.found is None:
            self.found = [(i, d, None) for i, d in enumerate(self.dets)]
        found = []
        for i, d, m in self.found:
            if m is None or m.start() < pos:
                m = d.partial_search(text, _tail(d, text, pos))
            if m is not None:
                found.append((i, d, m))
        self.found, self._indexed = found, False
        return earliest([m for _, _, m in found])

    def _index(self) -> None:
        """The last answers, complete and partial (by start), each with its detector's place."""
        found = self.found or []
        self._complete = [(i, d) for i, d, m in found if m is not None and not m.partial]
        partial = sorted((m.start(), i, d) for i, d, m in found if m is not None and m.partial)
        self._partial = [(i, d) for _, i, d in partial]
        self._partial_starts = [start for start, _, _ in partial]
        self._indexed = True


def _tail(det: RegexDetector, text: str, pos: int) -> int:
    """Where `det`'s search for what may be forming starts: a match the end cuts short (or
    that may still grow) reaches the end, so it starts within the pattern's reach of it.
    Complete matches before that are passed over: they are not forming, and the views find
    them. A held 1,024-character token was searched whole by every pattern at every chunk."""
    return pos if det.reach is None else max(pos, len(text) - det.reach)


def _forming_in(
    view: Normalized,
    dets: list[RegexDetector],
    combined: regex.Pattern[str] | None,
    pos: int,
    before: int,
) -> tuple[int, RegexDetector] | None:
    """The first view position >= pos (whose origin is before `before`) where one of `dets`
    could still be forming, with that detector. The patterns' partial searches skip, in C,
    every position where none can even begin; only their candidates are checked anchored.
    `regex` prefers a complete match to an earlier partial one, so when the search lands on
    a complete match the positions before it are asked one by one."""
    text = view.text
    ahead = _Ahead(dets, combined)
    while pos < len(text):
        m = ahead.first(text, pos)
        if m is None:
            return None
        if not m.partial:  # a complete match: partial ones may start before it
            for p in range(pos, m.start() + 1):
                hit = _prefix_here(view, ahead, p, before)
                if hit is not None:
                    return None if hit[1] is None else (hit[0], hit[1])
            pos = m.start() + 1
            continue
        pos = m.start()
        hit = _prefix_here(view, ahead, pos, before)
        if hit is not None:
            return None if hit[1] is None else (hit[0], hit[1])
        pos += 1
    return None


def _prefix_here(
    view: Normalized, ahead: _Ahead, pos: int, before: int
) -> tuple[int, RegexDetector | None] | None:
    """(pos, detector) when one could be forming at pos; (pos, None) when pos is past
    `before` (stop looking); None to go on. Only the searches' suspects are asked when the
    searches were pattern by pattern, else all (the alternation of all asked first)."""
    if view.origin(pos) >= before:
        return pos, None
    dets = ahead.suspects(view.text, pos)
    if dets is None:
        if (
            ahead.combined is not None
            and ahead.combined.fullmatch(view.text, pos, partial=True) is None
        ):
            return None
        dets = ahead.dets
    det = next((d for d in dets if d.prefix_at(view, pos)), None)
    return None if det is None else (pos, det)


def forming(plan: Plan, views: Views, start: int) -> tuple[int, RegexDetector | None]:
    """The earliest original offset >= `start` where a block/redact span could still be forming
    (len(text) when none), and the detector that could form it (None for an open construct)."""
    end = len(views.text)
    cut, who = end, None
    for v, dets in plan.hold.detectors.items():
        if not dets:
            continue
        view = views.get(v)
        p = _forming_in(view, dets, plan.hold.combined[v], _view_index(view, start), cut)
        if p is not None:
            cut, who = view.origin(p[0]), p[1]
    tail = max(start, end - 40)
    if any(plan.hold.detectors.values()) and any(c in "&[({" for c in views.text[tail:]):
        m = _OPEN_CONSTRUCT.search(views.text, tail)
        if m is not None and m.end() > m.start() and m.start() < cut:
            cut, who = m.start(), None
    return cut, who

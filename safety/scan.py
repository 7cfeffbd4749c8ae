"""One policy in one direction, compiled once: which detectors run, what each category does, and
the combined patterns that make a chunk cheap to check.

`scan` finds every finding with its action (overlaps resolved by action strength); `forming`
answers the stream guard's question, where in the held text a block/redact span could still be
forming.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

import regex

from safety.detectors import VIEWS, Finding, RegexDetector, Views, dominant
from safety.normalize import Normalized
from safety.policy import Policy

# The start of a normalization construct that the next chunk may complete ("&#5" of "&#52;",
# "[a" of "[at]"): held like a forming span, since its meaning is not known yet.
_OPEN_CONSTRUCT = regex.compile(r"(?:&#?[A-Za-z0-9]{0,31}| {0,2}[\[({] ?[a-zA-Z]{0,3} ?)$")


@dataclass
class Decided:
    finding: Finding
    action: str


def _combined(detectors: list[RegexDetector]) -> regex.Pattern[str] | None:
    """One alternation of the detectors' patterns (a leading global flag becomes scoped)."""
    if not detectors:
        return None
    alts = []
    for d in detectors:
        p = d.pattern
        m = regex.match(r"\(\?([a-zA-Z]+)\)", p)
        alts.append(f"(?{m.group(1)}:{p[m.end() :]})" if m else f"(?:{p})")
    try:
        return regex.compile("|".join(alts), regex.V1)
    except regex.error:  # an operator pattern that does not combine: no shortcut
        return None


@dataclass
class Group:
    """Detectors by the view they read, each view's detectors also as one combined pattern."""

    detectors: dict[str, list[RegexDetector]]
    combined: dict[str, regex.Pattern[str] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for v, dets in self.detectors.items():
            # base64-decoding detectors find what their pattern alone cannot: no shortcut
            plain = not any(d.decode_base64 for d in dets)
            self.combined[v] = _combined(dets) if plain else None

    def find(self, views: Views, start: int = 0) -> list[Finding]:
        """Findings that start at original offset `start` or later (look-behind sees before)."""
        found: list[Finding] = []
        for v, dets in self.detectors.items():
            if not dets:
                continue
            view = views.get(v)
            pos = _view_index(view, start)
            quick = self.combined[v]
            if quick is not None and quick.search(view.text, pos) is None:
                continue  # no detector of this view matches here
            for det in dets:
                found.extend(det.find(views, pos))
        return found


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
        groups: dict[str, dict[str, list[RegexDetector]]] = {
            k: {v: [] for v in VIEWS} for k in ("all", "hold", "flag")
        }
        for cat in policy.active(direction):
            kind = "hold" if actions[cat.name] in ("block", "redact") else "flag"
            for det in cat.detectors:
                groups["all"][det.view].append(det)
                groups[kind][det.view].append(det)
        plan = Plan(actions, *(Group(groups[k]) for k in ("all", "hold", "flag")))
        cache[direction] = plan
    return plan


def scan(policy: Policy, text: str, direction: str, views: Views | None = None) -> list[Decided]:
    """Every finding of the categories active in `direction`, with its action."""
    plan = plan_for(policy, direction)
    return plan.resolve(plan.all.find(views or Views(text)))


def _view_index(view: Normalized, start: int) -> int:
    """The first normalized position that comes from original offset `start` or later."""
    if isinstance(view.starts, range):
        return min(start, len(view.text))
    return bisect_left(view.starts, start)


def forming(plan: Plan, views: Views, start: int) -> tuple[int, RegexDetector | None]:
    """The earliest original offset >= `start` where a block/redact span could still be forming
    (len(text) when none), and the detector that could form it (None for an open construct)."""
    end = len(views.text)
    cut, who = end, None
    for v, dets in plan.hold.detectors.items():
        combined = plan.hold.combined[v]
        if not dets:
            continue
        view = views.get(v)
        for p in range(_view_index(view, start), len(view.text)):
            if view.origin(p) >= cut:
                break
            if combined is not None and combined.fullmatch(view.text, p, partial=True) is None:
                continue
            det = next((d for d in dets if d.prefix_at(view, p)), None)
            if det is not None:
                cut, who = view.origin(p), det
                break
    tail = max(start, end - 40)
    if any(plan.hold.detectors.values()) and any(c in "&[({" for c in views.text[tail:]):
        m = _OPEN_CONSTRUCT.search(views.text, tail)
        if m is not None and m.end() > m.start() and m.start() < cut:
            cut, who = m.start(), None
    return cut, who

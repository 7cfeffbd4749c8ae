"""The stream guard's search for where a held span could still be forming (scan.forming)
against its definition: the first position where one of the patterns could begin a match that
the text's end has cut short or that may still grow, asked of every pattern at every position."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.detectors import RegexDetector
from safety.normalize import Normalized
from safety.pattern_reach import reach
from safety.scan import Plan, _forming_in, _view_index, plan_for
from safety.views import Views
from tests.safety.streams import AFTER, BEFORE, CASES, Case, policy_guard

KINDS = {"secrets.jwt", "pii.iban", "pii.email", "secrets.url_password", "secrets.private_key",
         "pii.phone", "secrets.github_token"}  # fmt: skip


def held_plan(tmp: Path) -> Plan:
    return plan_for(policy_guard(tmp, "redact").policy, "output")


def defined(view: Normalized, dets: list[RegexDetector], pos: int) -> tuple[int, str] | None:
    """Every position from `pos`, every pattern, in the detectors' order."""
    for p in range(pos, len(view.text) + 1):
        det = next((d for d in dets if d.prefix_at(view, p)), None)
        if det is not None:
            return p, det.name
    return None


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.detector in KINDS], ids=lambda c: f"{c.detector}-{len(c.span)}"
)
def test_forming_finds_what_asking_every_position_finds(tmp_path: Path, case: Case) -> None:
    plan = held_plan(tmp_path)
    text, n = BEFORE[3] + case.span + AFTER[2], len(case.span)
    start = len(BEFORE[3]) // 2
    for end in sorted({len(BEFORE[3]) + k for k in (1, 9, n // 2, n, n + 4)}):
        views = Views(text[:end])  # cut inside the span, at its end and past it
        for v, dets in plan.hold.detectors.items():
            view = views.get(v)
            pos = _view_index(view, start)
            got = _forming_in(view, dets, plan.hold.combined[v], pos, end + 1)
            want = defined(view, dets, pos)
            assert (None if got is None else (got[0], got[1].name)) == want, (v, end)


def test_a_patterns_reach_counts_look_aheads_and_is_none_when_unbounded() -> None:
    assert reach(r"ab(?=.{0,50}x)") == 2 * (2 + 51)
    assert reach(r"(?<=key )\d{3}") == 6  # a look-behind reads before the start
    assert reach(r"[\p{L}\p{N}]{1,8}@x") == 2 * 10  # a property is one character
    assert reach(r"a+") is None and reach(r"(a)\1") is None


def test_no_match_of_a_held_pattern_is_longer_than_its_reach(tmp_path: Path) -> None:
    views = [Views(BEFORE[1] + c.span + AFTER[1]) for c in CASES]
    for v, dets in held_plan(tmp_path).hold.detectors.items():
        for det in dets:
            reach = det.reach
            if reach is not None:
                spans = [m.span() for vs in views for m in det._re.finditer(vs.get(v).text)]
                assert max((e - s for s, e in spans), default=0) <= reach, det.name

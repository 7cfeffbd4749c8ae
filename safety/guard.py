"""The guard the serving path calls: check input, filter output (whole or streamed), audit.

Input: a `block` finding raises ContentFiltered (400, code content_filter, the category only);
`redact` findings are replaced by placeholders before the text reaches the model; `flag` findings
are audited and counted.

Output while streaming (`StreamGuard`): text is released only when no `block`/`redact` span can
still be forming in it. Each detector is asked, with partial regex matching, where a match that
the text's end has not finished could begin; text before the earliest such point is released
(redacted), the rest is held, never more than `hold_back_chars`. So a blocked string split across
any number of chunks is seen whole before any of it leaves, and text that cannot begin a match
(ordinary prose) is released at once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from safety.detectors import Finding, Views, dominant
from safety.policy import Policy

audit_log = logging.getLogger("llm-deploy.audit")
CONTEXT = 64  # released characters kept as look-behind context for the detectors


class ContentFiltered(Exception):
    """Input blocked by the policy; carries the category, never the matched text."""

    def __init__(self, category: str) -> None:
        super().__init__(f"the input was blocked by the content policy (category: {category})")
        self.category = category


@dataclass
class Decided:
    finding: Finding
    action: str


class Recorder:
    """Where decisions and filter latency are counted (the server's Prometheus metrics)."""

    def decision(self, direction: str, category: str, action: str) -> None:
        pass

    def latency(self, direction: str, seconds: float) -> None:
        pass

    def held(self, chars: int) -> None:
        pass


def scan(policy: Policy, text: str, direction: str, views: Views | None = None) -> list[Decided]:
    """Every finding of the categories active in `direction`, with its action."""
    views = views or Views(text)
    acts: dict[str, str] = {}
    found: list[Finding] = []
    for cat in policy.active(direction):
        acts[cat.name] = cat.action(direction)
        for det in cat.detectors:
            found.extend(det.find(views))
    out = [Decided(f, acts[f.category]) for f in dominant(found)]
    out.sort(key=lambda d: (d.finding.start, -d.finding.end))
    return out


def redact(text: str, decided: list[Decided], upto: int | None = None) -> str:
    """Replace redact spans (merged where they overlap) that end before `upto`."""
    spans = sorted(
        (d.finding.start, d.finding.end, d.finding.label)
        for d in decided
        if d.action == "redact" and (upto is None or d.finding.end <= upto)
    )
    out, pos = [], 0
    for s, e, label in spans:
        if e <= pos:
            continue
        s = max(s, pos)
        out.append(text[pos:s])
        out.append(label)
        pos = e
    out.append(text[pos:upto])
    return "".join(out)


@dataclass
class Guard:
    """The policy in force plus where decisions go (audit log, metrics)."""

    policy: Policy
    record: Recorder = field(default_factory=Recorder)
    transport: Any = None  # httpx transport for the guard model (tests)
    _model: Any = None
    _model_cfg: Any = None

    def guard_model(self, direction: str) -> Any:
        """The guard-model client when the policy configures one for `direction`."""
        cfg = self.policy.classifier
        if cfg is None or not cfg.url or direction not in cfg.directions:
            return None
        if self._model is None or self._model_cfg is not cfg:  # built per policy (reloads)
            from safety.classifier import GuardModel

            self._model, self._model_cfg = GuardModel(cfg, self.transport), cfg
        return self._model

    async def classify(
        self, request_id: str, direction: str, user: str, assistant: str | None = None
    ) -> str | None:
        """Ask the guard model; returns the category to block on, or None. Flags are audited."""
        from safety.classifier import UNAVAILABLE

        model = self.guard_model(direction)
        if model is None:
            return None
        t0 = time.perf_counter()
        codes = await model.classify(user, assistant)
        self._timed(direction, t0)
        policy = self.policy
        if codes is None:
            closed = policy.classifier is not None and policy.classifier.on_failure == "closed"
            self._audit_category(request_id, direction, UNAVAILABLE, "block" if closed else "allow")
            return UNAVAILABLE if closed else None
        blocked = None
        for code in sorted(codes):
            hits = [
                (c.name, c.action(direction))
                for c in policy.categories.values()
                if c.classifier_code == code
            ] or [(f"hazard_{code}", "flag")]  # a code the policy does not name is flagged
            for name, act in hits:
                self._audit_category(request_id, direction, name, act)
                if act == "block" and blocked is None:
                    blocked = name
        return blocked

    def _audit_category(self, request_id: str, direction: str, category: str, action: str) -> None:
        audit_log.info(
            json.dumps(
                {
                    "event": "safety",
                    "request_id": request_id,
                    "direction": direction,
                    "category": category,
                    "detector": "guard_model",
                    "action": action,
                }
            )
        )
        self.record.decision(direction, category, action)

    def _audit(
        self, request_id: str, direction: str, decided: list[Decided], base: int = 0
    ) -> None:
        for d in decided:
            if d.action == "allow":
                continue
            audit_log.info(
                json.dumps(
                    {
                        "event": "safety",
                        "request_id": request_id,
                        "direction": direction,
                        "category": d.finding.category,
                        "detector": d.finding.detector,
                        "action": d.action,
                        "start": base + d.finding.start,
                        "end": base + d.finding.end,
                    }
                )
            )
            self.record.decision(direction, d.finding.category, d.action)

    def check_input(self, text: str, request_id: str) -> str:
        """The text the model may see, or ContentFiltered."""
        t0 = time.perf_counter()
        decided = scan(self.policy, text, "input")
        self._audit(request_id, "input", decided)
        self._timed("input", t0)
        for d in decided:
            if d.action == "block":
                raise ContentFiltered(d.finding.category)
        return redact(text, decided)

    def _timed(self, direction: str, t0: float) -> None:
        self.record.latency(direction, time.perf_counter() - t0)

    def output(self, request_id: str) -> StreamGuard:
        return StreamGuard(self, self.policy, request_id)


@dataclass
class StreamGuard:
    """Filters one choice's output as it arrives. `feed` returns what may be sent now;
    `blocked` is set (and nothing more is released) once a block span appears."""

    guard: Guard
    policy: Policy  # captured: a reload mid-request does not change this request's rules
    request_id: str
    pending: str = ""  # received, not yet released (original text)
    context: str = ""  # the last released characters, for look-behind
    released: int = 0  # characters of model output consumed so far (audit offsets)
    blocked: str | None = None
    held_max: int = 0  # the most characters ever held (for the latency report)
    redactions: int = 0  # spans replaced so far
    _hold: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._hold = [
            det
            for cat in self.policy.active("output")
            if cat.action("output") in ("block", "redact")
            for det in cat.detectors
        ]

    def feed(self, delta: str, final: bool = False) -> str:
        if self.blocked is not None:
            return ""
        t0 = time.perf_counter()
        try:
            return self._feed(delta, final)
        finally:
            self.guard._timed("output", t0)

    def _feed(self, delta: str, final: bool) -> str:
        self.pending += delta
        if not self.pending:
            return ""
        text = self.context + self.pending
        base = len(self.context)
        # Findings wholly inside the context were handled when it was released. One starting at
        # the very first context character of a cut-off context is an artifact of the cut (its
        # look-behind cannot see what came before), e.g. inside a long run of digits.
        cut_off = self.released > len(self.context)
        views = Views(text)  # normalized once, shared by the scan and the hold-back check
        decided = [
            d
            for d in scan(self.policy, text, "output", views)
            if d.finding.end > base and not (cut_off and d.finding.start == 0)
        ]
        for d in decided:
            if d.action == "block":
                self.blocked = d.finding.category
                self.guard._audit(self.request_id, "output", [d], self.released - base)
                self.pending = ""
                return ""
        cut = len(text)
        if not final:
            for det in self._hold:
                p = det.partial_start(views)
                if p is not None:
                    cut = min(cut, p)
            for d in decided:  # a complete match at the end may still grow
                if d.action == "redact" and d.finding.end == len(text):
                    cut = min(cut, d.finding.start)
            cut = max(cut, len(text) - self.policy.hold_back_chars, base)
            for d in decided:  # never split a redaction
                if d.action == "redact" and d.finding.start < cut < d.finding.end:
                    cut = d.finding.start if d.finding.start >= base else d.finding.end
        cut = max(cut, base)
        done = [d for d in decided if d.finding.end <= cut]
        self.redactions += sum(1 for d in done if d.action == "redact")
        self.guard._audit(self.request_id, "output", done, self.released - base)
        out = _slice_redacted(text, done, base, cut)
        self.released += cut - base
        self.context = text[:cut][-CONTEXT:]
        self.pending = text[cut:]
        self.held_max = max(self.held_max, len(self.pending))
        self.guard.record.held(len(self.pending))
        return out

    def finish(self) -> str:
        """Release what is held at the end of the generation (after the last check)."""
        return self.feed("", final=True)


def _slice_redacted(text: str, done: list[Decided], base: int, cut: int) -> str:
    """text[base:cut] with redactions; spans starting in the context are clipped to base."""
    clipped = [
        Decided(
            Finding(
                d.finding.category,
                d.finding.detector,
                max(d.finding.start, base) - base,
                d.finding.end - base,
                d.finding.label,
            ),
            d.action,
        )
        for d in done
    ]
    return redact(text[base:cut], clipped)

"""The guard the serving path calls: check input, filter output (whole or streamed), audit.

Input: a `block` finding raises ContentFiltered (400, code content_filter, the category only);
`redact` findings are replaced by placeholders before the text reaches the model; `flag` findings
are audited and counted.

Output while streaming (`StreamGuard`): text is released only when no `block`/`redact` span can
still be forming in it. For each position of the held text, the policy's block/redact patterns are
asked with anchored partial matching whether the text from there to the end could be the start
of a match (or a complete match that may still grow); everything from the earliest such position
on is held, everything before it is released (redacted). A held span that grows past
`hold_back_chars` ends the choice as if it were blocked (finish_reason content_filter): a span
is never released in part. Checks start where the held text starts, so a chunk costs work in
proportion to what is new plus what is still forming, and one combined pattern per view answers
"is there any finding here at all?" before the detectors run one by one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from safety.detectors import Finding
from safety.plain import PlainCheck
from safety.policy import Policy
from safety.scan import Decided, Plan, forming, plan_for, scan
from safety.views import Views

audit_log = logging.getLogger("llm-deploy.audit")
LOOKBEHIND = 16  # released characters kept for the block/redact detectors' look-behind
CONTEXT = 64  # overlap between the flag-only detectors' batches


class ContentFiltered(Exception):
    """Input blocked by the policy; carries the category, never the matched text."""

    def __init__(self, category: str) -> None:
        super().__init__(f"the input was blocked by the content policy (category: {category})")
        self.category = category


class Recorder:
    """Where decisions and filter latency are counted (the server's Prometheus metrics)."""

    def decision(self, direction: str, category: str, action: str) -> None:
        pass

    def latency(self, direction: str, seconds: float) -> None:
        """CPU seconds of one input check, on the thread that ran it."""

    def model_latency(self, direction: str, seconds: float) -> None:
        """Wall seconds of one guard-model call (a network round trip, not CPU)."""

    def stream(self, seconds: float, chunks: int, held: int, held_max: int) -> None:
        """Once per streamed choice: filter time and chunks, characters held summed over its
        chunks, and the most held at once."""


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
        self.record.model_latency(direction, time.perf_counter() - t0)
        policy = self.policy
        if codes is None:
            closed = policy.classifier is not None and policy.classifier.on_failure == "closed"
            self.audit_event(
                request_id, direction, UNAVAILABLE, "guard_model", "block" if closed else "allow"
            )
            return UNAVAILABLE if closed else None
        blocked = None
        for code in sorted(codes):
            hits = [
                (c.name, c.action(direction))
                for c in policy.categories.values()
                if c.classifier_code == code
            ] or [(f"hazard_{code}", "flag")]  # a code the policy does not name is flagged
            for name, act in hits:
                self.audit_event(request_id, direction, name, "guard_model", act)
                if act == "block" and blocked is None:
                    blocked = name
        return blocked

    def audit_event(
        self,
        request_id: str,
        direction: str,
        category: str,
        detector: str,
        action: str,
        **where: Any,
    ) -> None:
        """One audit line (JSON, never the matched text) and the decision metric."""
        record = {
            "event": "safety",
            "request_id": request_id,
            "direction": direction,
            "category": category,
            "detector": detector,
            "action": action,
            **where,
        }
        audit_log.info(json.dumps(record))
        self.record.decision(direction, category, action)

    def audit(self, request_id: str, direction: str, decided: list[Decided], base: int = 0) -> None:
        for d in decided:
            if d.action != "allow":
                f = d.finding
                self.audit_event(
                    request_id, direction, f.category, f.detector, d.action,
                    start=base + f.start, end=base + f.end,
                )  # fmt: skip

    def check_input(self, text: str, request_id: str) -> str:
        """The text the model may see, or ContentFiltered."""
        t0 = time.thread_time()  # the check's own CPU: preemption by the engine is not its cost
        decided = scan(self.policy, text, "input")
        self.audit(request_id, "input", decided)
        self.record.latency("input", time.thread_time() - t0)
        for d in decided:
            if d.action == "block":
                raise ContentFiltered(d.finding.category)
        return redact(text, decided)

    def output(self, request_id: str) -> StreamGuard:
        return StreamGuard(self, self.policy, request_id)

    def warm(self) -> Guard:
        """Compile the policy's plans and load what its detectors read (the injection model,
        the Unicode tables) now, at start-up or reload, so no request pays for it; nothing is
        audited."""
        for direction in ("input", "output"):
            scan(self.policy, _WARM_TEXT, direction)
        return self


# a little of every script and construct the normalizer and detectors treat specially
_WARM_TEXT = "Warm-up: ｆｕｌｌ café 中文 а&amp; user@example.com 4111 1111 1111 1111 sk-"


FLAG_BATCH = 256  # flag-only findings are looked for once per this many released characters


@dataclass
class StreamGuard:
    """Filters one choice's output as it arrives. `feed` returns what may be sent now;
    `blocked` is set (and nothing more is released) once a block span appears or a span that
    could still become one outgrows the hold limit.

    Only block/redact detectors run on every chunk, and only from the start of the held text.
    Flag-only detectors change nothing that is sent, so they read the released text in batches
    (every FLAG_BATCH characters and at the end), with CONTEXT characters of overlap."""

    guard: Guard
    policy: Policy  # captured: a reload mid-request does not change this request's rules
    request_id: str
    pending: str = ""  # received, not yet released (original text)
    context: str = ""  # the last released characters, for look-behind (never re-scanned)
    released: int = 0  # characters of model output consumed so far (audit offsets)
    blocked: str | None = None
    held_max: int = 0  # the most characters ever held
    redactions: int = 0  # spans replaced so far
    _plan: Plan | None = None
    _sent: str = ""  # released text not yet read by the flag detectors, after some overlap
    _sent_base: int = 0  # offset of _sent in what was sent
    _sent_done: int = 0  # index in _sent up to which flag findings were audited
    _flags: bool = False  # whether any flag-only detector reads the output
    _check: PlainCheck | None = None  # the plan's one-search check for plain chunks
    _seconds: float = 0.0  # time in feed, all chunks
    _chunks: int = 0
    _held: int = 0  # characters held after each chunk, summed
    _closed: bool = False

    def __post_init__(self) -> None:
        self._plan = plan_for(self.policy, "output")
        self._flags = any(self._plan.flag.detectors.values())
        self._check = self._plan.hold.plain

    def feed(self, delta: str, final: bool = False) -> str:
        if self.blocked is not None:
            return ""
        t0 = time.thread_time()
        out = None if final else self._plain(delta)
        if out is None:
            out = self._feed(delta, final)
        if self._flags:
            self._sent += out
            if final or len(self._sent) - self._sent_done >= FLAG_BATCH + CONTEXT:
                self._flag(final)
        self._seconds += time.thread_time() - t0
        self._chunks += 1
        self._held += len(self.pending)
        if final or self.blocked is not None:
            self.close()
        return out

    def close(self) -> None:
        """Report this choice's filter time and hold-back (once; also for a choice cut short)."""
        if not self._closed:
            self._closed = True
            self.guard.record.stream(self._seconds, self._chunks, self._held, self.held_max)

    def _feed(self, delta: str, final: bool) -> str:
        assert self._plan is not None
        self.pending += delta
        if not self.pending:
            return ""
        text = self.context + self.pending
        base = len(self.context)
        views = Views(text)  # normalized once, shared by the scan and the hold-back check
        decided = self._plan.resolve(self._plan.hold.find(views, base))
        block = next((d for d in decided if d.action == "block"), None)
        if block is not None:
            return self._block(block, base)
        cut = len(text) if final else self._cut(views, base, decided)
        if cut < 0:
            return ""  # blocked: a forming span outgrew the hold limit
        return self._release(text, base, cut, decided)

    def _plain(self, delta: str) -> str | None:
        """The common case, in one search: the held text and the new chunk are plain ASCII with
        no character that could begin a normalization construct. Nothing that could match can
        have started in the released text (it would be held), so only positions from the held
        text on are asked, all views at once; text before the first possible start is
        released, the rest held. None when this cannot decide (a complete match, or text that
        needs the views); then nothing has changed. Not for the last chunk: a complete match
        may hide inside a longer partial one, which only matters once nothing more will be
        held. Written flat: it runs for nearly every chunk."""
        check = self._check
        chunk = self.pending + delta
        if check is None or not chunk or not check.usable(chunk):
            return None
        at = check.cut(self.context, chunk)
        if at is None or len(chunk) - at > self.policy.hold_back_chars:
            return None  # a complete match, or the hold limit: the views decide
        self.released += at
        self.context = (self.context + chunk[:at])[-LOOKBEHIND:]
        self.pending = chunk[at:]
        if len(self.pending) > self.held_max:
            self.held_max = len(self.pending)
        return chunk[:at]

    def _release(self, text: str, base: int, cut: int, decided: list[Decided]) -> str:
        """Send text[base:cut] with its redactions; hold the rest."""
        done = [d for d in decided if d.finding.end <= cut]
        if done:
            self.redactions += len(done)
            self.guard.audit(self.request_id, "output", done, self.released - base)
            out = _slice_redacted(text, done, base, cut)
        else:
            out = text[base:cut]
        self.released += cut - base
        self.context = text[:cut][-LOOKBEHIND:]
        self.pending = text[cut:]
        self.held_max = max(self.held_max, len(self.pending))
        return out

    def _cut(self, views: Views, base: int, decided: list[Decided]) -> int:
        """Where released text ends: before anything still forming, never inside a redaction;
        -1 when the forming span outgrew the hold limit (the choice is then blocked)."""
        assert self._plan is not None
        cut, who = forming(self._plan, views, base)
        for d in decided:  # never split a redaction
            if d.finding.start < cut < d.finding.end:
                cut = max(d.finding.start, base)
        if len(views.text) - cut > self.policy.hold_back_chars:
            category = who.category if who is not None else "hold_limit"
            self._block_forming(category, who.name if who else "stream_guard", cut - base)
            return -1
        return cut

    def _flag(self, final: bool) -> None:
        """Audit flag-only findings in the sent text (a batch, or the rest at the end)."""
        assert self._plan is not None
        safe = len(self._sent) if final else len(self._sent) - CONTEXT
        found = self._plan.resolve(self._plan.flag.find(Views(self._sent)))
        # already sent, so flagged, whatever the category does to text it holds (a secret of
        # a rule that flags streams: curl's, detect-secrets' keyword lines)
        new = [Decided(d.finding, "flag") for d in found if self._sent_done < d.finding.end <= safe]
        self.guard.audit(self.request_id, "output", new, self._sent_base)
        keep = max(0, safe - CONTEXT)
        self._sent, self._sent_base = self._sent[keep:], self._sent_base + keep
        self._sent_done = safe - keep

    def _block(self, d: Decided, base: int) -> str:
        self.blocked = d.finding.category
        self.guard.audit(self.request_id, "output", [d], self.released - base)
        self.pending = ""
        return ""

    def _block_forming(self, category: str, detector: str, start: int) -> None:
        self.blocked = category
        self.guard.audit_event(
            self.request_id,
            "output",
            category,
            detector,
            "block",
            start=self.released + start,
            end=self.released + len(self.pending),
            reason="hold_limit",
        )
        self.pending = ""

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

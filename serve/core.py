"""What both endpoints share: request checks, the input guard, admission, engine steps under the
request timeout, the output guard, and token accounting.

`serve.completions` and `serve.chat` each own one endpoint on top of this core: they prepare a
request (every 4xx happens there, before a byte is sent), then run it to one JSON body or stream
it as chunks. Admission is the last step of preparing; from then on the response owns the slot
(`Slot`), so a request that never starts still frees it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safety.guard import ContentFiltered, Guard, StreamGuard
from serve.errors import (
    BadRequest,
    ContentFilter,
    ContextLengthExceeded,
    EngineFailure,
    ModelNotFound,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
)
from serve.fair import Headroom
from serve.keys import ANONYMOUS, Caller
from serve.metrics import ServerMetrics
from serve.protocol import ChatCompletionRequest, CompletionRequest
from serve.quota import Quotas
from serve.settings import ServerSettings
from serve.types import ChoiceOutput, EngineClient, GenerationStep, SamplingConfig, TokenLogprob

GREEDY_EPS = 1e-5  # vLLM's _SAMPLING_EPS: a temperature below it is greedy sampling


@dataclass
class RequestContext:
    """Per-request facts the access log and metrics read after the response."""

    request_id: str
    endpoint: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_text: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    screened: list[str] = field(default_factory=list)  # input texts the guard checked
    caller: Caller = ANONYMOUS  # the API key's owner (set by the auth dependency)
    rate_headers: dict[str, str] = field(default_factory=dict)  # the key's limits, on the reply
    admitted_at: float | None = None  # perf_counter() when admitted (the access log's admitted_ms)


class Slot:
    """Admitted sequences, given back exactly once by whoever holds the slot last: the JSON
    response (`with slot:`) or the SSE response (its close)."""

    def __init__(
        self, admission: Admission, seqs: int, on_release: Callable[[], None] | None = None
    ) -> None:
        self._admission, self._seqs, self.on_release = admission, seqs, on_release

    def release(self) -> None:
        if self._seqs:
            self._admission.release(self._seqs)
            self._seqs = 0
            if self.on_release is not None:
                self.on_release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Admission:
    """Bounds admitted sequences (running + queued); past the bound, 429 with Retry-After."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def acquire(self, seqs: int) -> Slot:
        if self.in_flight + seqs > self.limit:
            raise TooManyRequests(
                f"server is at capacity ({self.in_flight} of {self.limit} sequences admitted); "
                "retry later",
                headers={"Retry-After": "1"},
            )
        self.in_flight += seqs
        return Slot(self, seqs)

    def release(self, seqs: int) -> None:
        self.in_flight -= seqs


@dataclass
class Prepared:
    """A validated, screened, admitted request: prompts as token ids, resolved sampling."""

    response_id: str
    model: str
    prompts: list[list[int]]
    prompt_texts: list[str]
    params: SamplingConfig
    echo: bool
    include_usage: bool
    created: int
    slot: Slot
    ctx: RequestContext


class ServingCore:
    """The engine, the settings, the guard and the admission bound both endpoints use."""

    def __init__(
        self,
        engine: EngineClient,
        settings: ServerSettings,
        metrics: ServerMetrics,
        guard: Guard | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.engine = engine
        self.quotas = quotas or Quotas()
        fair = self.quotas.fair is not None and engine.max_num_seqs > 1
        self.headroom = Headroom(engine.max_num_seqs - 1) if fair else None
        self.settings = settings
        self.metrics = metrics
        self.guard = guard
        self.model_name = settings.served_model_name or engine.model_path
        self.admission = Admission(engine.max_num_seqs + settings.max_queued_requests)
        self.draining = False
        self.created = int(time.time())
        self.vocab_size = len(engine.tokenizer)
        self.max_tokens_limit = min(
            settings.max_tokens_limit or engine.max_model_len, engine.max_model_len
        )

    # ---- checks (each raises the 4xx/5xx the client sees) ------------------------------------
    def check_model(self, name: str | None, caller: Caller = ANONYMOUS) -> None:
        """The model is ours and the key may use it (a key that may not is told nothing more
        than about a model that does not exist)."""
        if not caller.may_use(self.model_name):
            which = f"The model '{name}'" if name else "The model"
            raise ModelNotFound(
                f"{which} does not exist or you do not have access to it", param="model"
            )
        if name is not None and name != self.model_name:
            raise ModelNotFound(
                f"The model '{name}' does not exist; this server serves '{self.model_name}'",
                param="model",
            )

    def check_request(self, name: str | None, caller: Caller = ANONYMOUS) -> None:
        """The model is ours, the key may use it, and the server takes generation requests."""
        self.check_model(name, caller)
        if self.draining:
            raise ServiceUnavailable("server is shutting down", headers={"Retry-After": "5"})
        if self.engine.dead:
            raise EngineFailure("the engine is not running; the server must be restarted")

    def check_token_ids(self, ids: list[int], param: str) -> list[int]:
        bad = [t for t in ids if not 0 <= t < self.vocab_size]
        if bad:
            raise BadRequest(
                f"token id {bad[0]} is outside the vocabulary (0..{self.vocab_size - 1})",
                param=param,
            )
        return ids

    def check_input(self, text: str, ctx: RequestContext) -> str:
        """The text the model may see (redacted), or a 400 content_filter."""
        if self.guard is None:
            return text
        try:
            safe = self.guard.check_input(text, ctx.request_id)
        except ContentFiltered as exc:
            raise ContentFilter(str(exc)) from None
        ctx.screened.append(safe)
        return safe

    def encode(self, prompt: str | list[int], param: str = "prompt") -> list[int]:
        if isinstance(prompt, str):
            ids = list(self.engine.tokenizer.encode(prompt, add_special_tokens=True))
        else:
            ids = self.check_token_ids(list(prompt), param)
        if not ids:
            # An empty prompt is answered from BOS, as OpenAI does; without one we must refuse.
            bos = self.engine.tokenizer.bos_token_id
            if bos is None:
                raise BadRequest("prompt is empty", param=param)
            ids = [bos]
        return ids

    def max_tokens(self, requested: int | None, prompt_len: int, default: int | None) -> int:
        ctx_len = self.engine.max_model_len
        room = ctx_len - prompt_len
        if room <= 0 or (requested is not None and requested > room):
            asked = requested if requested is not None else 1
            raise ContextLengthExceeded(
                f"This model's maximum context length is {ctx_len} tokens. However, you "
                f"requested {prompt_len + asked} tokens ({prompt_len} in the prompt, {asked} "
                "for the completion). Please reduce the prompt or max_tokens.",
                param="prompt" if requested is None or prompt_len >= ctx_len else "max_tokens",
            )
        if requested is not None and requested > self.max_tokens_limit:
            raise BadRequest(
                f"max_tokens is {requested}, above this server's limit of {self.max_tokens_limit}",
                param="max_tokens",
            )
        if requested is not None:
            return requested
        return min(default or room, room, self.max_tokens_limit)

    def check_sampling(self, params: SamplingConfig) -> None:
        """What vLLM's SamplingParams would refuse, refused first with the parameter named."""
        if params.n > 1 and params.temperature < GREEDY_EPS:
            raise BadRequest(
                f"n must be 1 when sampling is greedy (temperature 0), got n={params.n}",
                param="n",
            )
        if params.min_tokens > params.max_tokens:
            raise BadRequest(
                f"min_tokens ({params.min_tokens}) must not exceed max_tokens "
                f"({params.max_tokens})",
                param="min_tokens",
            )
        for param, ids in (("logit_bias", params.logit_bias or {}),
                           ("stop_token_ids", params.stop_token_ids)):  # fmt: skip
            for tid in ids:
                if not 0 <= tid < self.vocab_size:
                    raise BadRequest(
                        f"{param} token id {tid} is outside the vocabulary", param=param
                    )

    async def admit(
        self,
        prefix: str,
        req: CompletionRequest | ChatCompletionRequest,
        prompts: list[list[int]],
        texts: list[str],
        params: SamplingConfig,
        echo: bool,
        ctx: RequestContext,
    ) -> Prepared:
        """The guard model's verdict on the input (when the policy names one; the pattern checks
        ran while preparing), then an admission slot: the last step, so nothing after it can
        fail before the response takes the slot."""
        if self.guard is not None and self.guard.guard_model("input") is not None:
            user = "\n".join(ctx.screened)
            blocked = await self.guard.classify(ctx.request_id, "input", user)
            if blocked is not None:
                raise ContentFilter(
                    f"the input was blocked by the content policy (category: {blocked})"
                )
        ctx.prompt_tokens = sum(len(p) for p in prompts)
        seqs = params.n * len(prompts)
        slot = self.admission.acquire(seqs)  # sequences, not requests
        try:
            may_use = ctx.prompt_tokens + params.max_tokens * seqs
            grant = self.quotas.admit(ctx.caller, ctx.prompt_tokens, may_use)
            slot.on_release = lambda: grant.settle(ctx.prompt_tokens, ctx.completion_tokens)
            await self._headroom(ctx, seqs, slot)
        except BaseException:
            slot.release()
            raise
        ctx.admitted_at = time.perf_counter()
        ctx.rate_headers = grant.headers
        params.priority = grant.priority
        if self.settings.log_prompts:
            ctx.prompt_text = "\n".join(texts)
        return Prepared(
            response_id=f"{prefix}-{uuid.uuid4().hex}",
            model=self.model_name,
            prompts=prompts,
            prompt_texts=texts,
            params=params,
            echo=echo,
            include_usage=req.include_usage,
            created=int(time.time()),
            slot=slot,
            ctx=ctx,
        )

    async def _headroom(self, ctx: RequestContext, seqs: int, slot: Slot) -> None:
        """With keys to be fair between, wait while this key would fill the running batch."""
        if self.headroom is None:
            return
        await self.headroom.enter(ctx.caller.name, seqs)
        settle, headroom = slot.on_release, self.headroom

        def release() -> None:
            headroom.leave(ctx.caller.name, seqs)
            if settle is not None:
                settle()

        slot.on_release = release

    # ---- generation ----------------------------------------------------------------------------
    @asynccontextmanager
    async def deadline(self) -> AsyncIterator[None]:
        """The request timeout (--request-timeout) as a 408."""
        try:
            async with asyncio.timeout(self.settings.request_timeout or None):
                yield
        except TimeoutError:
            raise RequestTimeout(
                f"request did not finish within {self.settings.request_timeout:g} s"
            ) from None

    async def generate_all(
        self, prep: Prepared
    ) -> AsyncGenerator[tuple[int, GenerationStep], None]:
        """Engine steps for several prompts at once, tagged with the prompt's index."""
        queue: asyncio.Queue[tuple[int, GenerationStep] | BaseException | None] = asyncio.Queue()

        async def pump(i: int, ids: list[int]) -> None:
            try:
                async for step in self.engine.generate(ids, prep.params, f"{prep.response_id}-{i}"):
                    queue.put_nowait((i, step))
            except BaseException as exc:  # forwarded to the consumer
                queue.put_nowait(exc)
                return
            queue.put_nowait(None)

        tasks = [asyncio.create_task(pump(i, ids)) for i, ids in enumerate(prep.prompts)]
        try:
            remaining = len(tasks)
            while remaining:
                item = await queue.get()
                if item is None:
                    remaining -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()  # closing each generator aborts its engine request
            await asyncio.gather(*tasks, return_exceptions=True)

    # ---- output guard ------------------------------------------------------------------------
    async def guard_finals(
        self, prep: Prepared, finals: dict[int, ChoiceOutput]
    ) -> dict[int, ChoiceOutput]:
        """Whole (not streamed) outputs through the output rules, then the guard model."""
        if self.guard is None:
            return finals
        finals = {k: self._filter_final(prep, c) for k, c in finals.items()}
        if self.guard.guard_model("output") is not None:
            user = "\n".join(prep.ctx.screened)
            for k, c in finals.items():
                if c.finish_reason == "content_filter":
                    continue
                if await self.guard.classify(prep.ctx.request_id, "output", user, c.text):
                    finals[k] = replace(c, text="", logprobs=None, finish_reason="content_filter")
        return finals

    def _filter_final(self, prep: Prepared, c: ChoiceOutput) -> ChoiceOutput:
        assert self.guard is not None
        sg = self.guard.output(prep.ctx.request_id)
        text = sg.feed(c.text, final=True)
        if sg.blocked is not None:
            return replace(c, text=text, logprobs=None, finish_reason="content_filter")
        if text != c.text:
            return replace(c, text=text, logprobs=None)  # token logprobs would leak the span
        return c

    def tally(self, prep: Prepared) -> StreamTally:
        """What a streamed response counts and guards, choice by choice."""
        guard = None if self.guard is None else OutputStreams(self.guard, prep.ctx.request_id)
        return StreamTally(self, prep, guard)

    # ---- accounting ----------------------------------------------------------------------------
    def account(
        self, prep: Prepared, completion_tokens: int, reasons: Sequence[str | None]
    ) -> None:
        prep.ctx.completion_tokens = completion_tokens
        prep.ctx.finish_reasons = [r for r in reasons if r]
        self.metrics.tokens(prep.ctx.prompt_tokens, completion_tokens)

    @staticmethod
    def generated(finals: dict[int, ChoiceOutput]) -> int:
        return sum(len(c.token_ids) for c in finals.values())

    @staticmethod
    def usage(prep: Prepared, completion_tokens: int) -> dict[str, int]:
        p = prep.ctx.prompt_tokens
        return {
            "prompt_tokens": p,
            "completion_tokens": completion_tokens,
            "total_tokens": p + completion_tokens,
        }

    def moderate(self, texts: list[str]) -> dict[str, Any]:
        """OpenAI moderation results under the policy in force (the shipped default when
        filtering is off, so the endpoint still answers)."""
        from safety.moderation import moderate
        from safety.policy import DEFAULT_POLICY, load_policy

        policy = self.guard.policy if self.guard is not None else load_policy(DEFAULT_POLICY)
        return {
            "id": f"modr-{uuid.uuid4().hex}",
            "model": f"llm-deploy-policy:{Path(policy.source).name}",
            "results": [moderate(policy, t) for t in texts],
        }


class StreamTally:
    """A streamed response's bookkeeping: tokens and finish reasons, choices already ended or
    blocked, and the output guard of each choice. `close` accounts for the request."""

    def __init__(self, core: ServingCore, prep: Prepared, guard: OutputStreams | None) -> None:
        self.core, self.prep, self.guard = core, prep, guard
        self.total = prep.params.n * len(prep.prompts)
        self.completion_tokens = 0
        self.reasons: list[str] = []
        self.stopped: set[int] = set()

    def take(self, idx: int, c: ChoiceOutput) -> ChoiceOutput | None:
        """Choice `idx`'s delta as it may be sent, or None once the choice has ended."""
        self.completion_tokens += len(c.token_ids)
        if idx in self.stopped:
            return None  # blocked: the rest of this choice is never sent
        if self.guard is not None:
            c = self.guard.feed(idx, c)
        if c.finish_reason is not None:
            self.stopped.add(idx)
            self.reasons.append(c.finish_reason)
        return c

    @property
    def done(self) -> bool:
        return len(self.stopped) == self.total

    def close(self) -> None:
        self.core.account(self.prep, self.completion_tokens, self.reasons)
        if self.guard is not None:
            self.guard.close()

    def usage_chunk(self, head: dict[str, Any]) -> dict[str, Any]:
        return {**head, "choices": [], "usage": self.core.usage(self.prep, self.completion_tokens)}


class OutputStreams:
    """One StreamGuard per streamed choice, and the token logprobs held with their text."""

    def __init__(self, guard: Guard, request_id: str) -> None:
        self.guard, self.request_id = guard, request_id
        self.guards: dict[int, StreamGuard] = {}
        self.held: dict[int, tuple[list[TokenLogprob], int]] = {}

    def feed(self, idx: int, c: ChoiceOutput) -> ChoiceOutput:
        """One streamed delta through choice `idx`'s guard: what may be sent now. A block ends
        the choice with finish_reason content_filter. Token logprobs travel with their text:
        held while any text is held, sent when it drains, and dropped when a span was redacted
        (they would show it)."""
        sg = self.guards.get(idx)
        if sg is None:
            sg = self.guards[idx] = self.guard.output(self.request_id)
        lps, redactions = self.held.get(idx, ([], 0))
        text = sg.feed(c.text, final=c.finish_reason is not None)
        if sg.blocked is not None:
            self.held[idx] = ([], sg.redactions)
            return replace(c, text="", logprobs=None, finish_reason="content_filter")
        if c.logprobs:
            lps = [*lps, *c.logprobs]
        if sg.pending:  # some text is still held: so are all logprobs not yet sent
            self.held[idx] = (lps, redactions)
            return replace(c, text=text, logprobs=None)
        self.held[idx] = ([], sg.redactions)
        if sg.redactions != redactions:
            return replace(c, text=text, logprobs=None)
        if c.logprobs is None and not lps:
            return c if text == c.text else replace(c, text=text)
        return replace(c, text=text, logprobs=lps)

    def close(self) -> None:
        for sg in self.guards.values():  # a choice cut short (client gone) reports here
            sg.close()

"""The one request path: validate -> safety(input) -> engine.generate -> safety(output) -> response.

Routes call `prepare_*` (everything that can fail with a 4xx happens here, before any byte is sent),
then `run` (one JSON body) or `stream` (SSE chunks). Admission is taken in `prepare_*` and released
by `Prepared.release`, which the response owns, so a request that never starts still frees its slot.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safety.guard import ContentFiltered, Guard, Recorder, StreamGuard
from serve.errors import (
    APIError,
    BadRequest,
    ContentFilter,
    ContextLengthExceeded,
    EngineFailure,
    ModelNotFound,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
)
from serve.metrics import ServerMetrics
from serve.protocol import ChatCompletionRequest, ChatMessage, CompletionRequest
from serve.settings import ServerSettings
from serve.types import ChoiceOutput, EngineClient, GenerationStep, SamplingConfig, TokenLogprob

# Used when the tokenizer has no chat template of its own (documented in the README).
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
COMPLETION_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


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


class Admission:
    """Bounds admitted sequences (running + queued); past the bound, 429 with Retry-After."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def acquire(self, seqs: int) -> Callable[[], None]:
        if self.in_flight + seqs > self.limit:
            raise TooManyRequests(
                f"server is at capacity ({self.in_flight} of {self.limit} sequences admitted); "
                "retry later",
                headers={"Retry-After": "1"},
            )
        self.in_flight += seqs
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_flight -= seqs

        return release


@dataclass
class Prepared:
    """A validated request, ready to run: prompts as token ids and resolved sampling params."""

    kind: str  # "completion" | "chat"
    response_id: str
    model: str
    prompts: list[list[int]]
    prompt_texts: list[str]
    params: SamplingConfig
    echo: bool
    include_usage: bool
    created: int
    release: Callable[[], None]
    ctx: RequestContext


GREEDY_EPS = 1e-5  # vLLM's _SAMPLING_EPS: a temperature below it is greedy sampling


class SafetyMetrics(Recorder):
    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        # bound once: labels() takes a lock and a lookup
        self._latency = {d: metrics.safety_latency.labels(d) for d in ("input", "output")}

    def decision(self, direction: str, category: str, action: str) -> None:
        self.metrics.safety_decisions.labels(category, action, direction).inc()

    def latency(self, direction: str, seconds: float) -> None:
        self._latency[direction].observe(seconds)

    def stream(self, seconds: float, chunks: int, held: int, held_max: int) -> None:
        self._latency["output"].observe(seconds)
        self.metrics.safety_chunks.inc(chunks)
        self.metrics.safety_held_sum.inc(held)
        self.metrics.safety_held.observe(held_max)


class Service:
    """Validates requests, drives the engine, and shapes OpenAI responses."""

    def __init__(
        self,
        engine: EngineClient,
        settings: ServerSettings,
        metrics: ServerMetrics,
        guard: Guard | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.guard = guard
        if guard is not None:
            guard.record = SafetyMetrics(metrics)
        self.model_name = settings.served_model_name or engine.model_path
        seq_limit = engine.max_num_seqs + settings.max_queued_requests
        self.admission = Admission(seq_limit)
        self.draining = False
        self.created = int(time.time())
        tok = engine.tokenizer
        self.vocab_size = len(tok)
        self.chat_template = tok.chat_template or DEFAULT_CHAT_TEMPLATE
        self.max_tokens_limit = min(
            settings.max_tokens_limit or engine.max_model_len, engine.max_model_len
        )

    # ---- validation -------------------------------------------------------------------------
    def check_model(self, name: str | None) -> None:
        if name is not None and name != self.model_name:
            raise ModelNotFound(
                f"The model '{name}' does not exist; this server serves '{self.model_name}'",
                param="model",
            )

    def check_serving(self) -> None:
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

    async def _screen(self, prep: Prepared) -> Prepared:
        """The guard model's verdict on the input, when the policy configures one (after the
        pattern checks, which ran while preparing). A block, or the client leaving while the guard
        model thinks, frees the admission slot."""
        if self.guard is None or self.guard.guard_model("input") is None:
            return prep
        try:
            blocked = await self.guard.classify(
                prep.ctx.request_id, "input", "\n".join(prep.ctx.screened)
            )
        except BaseException:
            prep.release()
            raise
        if blocked is not None:
            prep.release()
            raise ContentFilter(
                f"the input was blocked by the content policy (category: {blocked})"
            )
        return prep

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

    def _guarded_prompt(self, prompt: str | list[int], ctx: RequestContext) -> str | list[int]:
        """Token prompts are decoded for the check, so no input form skips the policy."""
        if self.guard is None:
            return prompt
        if isinstance(prompt, str):
            return self.check_input(prompt, ctx)
        ids = self.check_token_ids(list(prompt), "prompt")
        text = self.engine.tokenizer.decode(ids)
        safe = self.check_input(text, ctx)
        return prompt if safe == text else safe

    def _encode(self, prompt: str | list[int], param: str = "prompt") -> list[int]:
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

    def _max_tokens(self, requested: int | None, prompt_len: int, default: int | None) -> int:
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

    def _check_sampling(self, params: SamplingConfig) -> None:
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
        for tid in params.logit_bias or {}:
            if not 0 <= tid < self.vocab_size:
                raise BadRequest(
                    f"logit_bias token id {tid} is outside the vocabulary", param="logit_bias"
                )

    async def prepare_completion(self, req: CompletionRequest, ctx: RequestContext) -> Prepared:
        """A validated, screened completion request holding an admission slot."""
        return await self._screen(self._prepare_completion(req, ctx))

    async def prepare_chat(self, req: ChatCompletionRequest, ctx: RequestContext) -> Prepared:
        """A validated, screened chat request holding an admission slot."""
        return await self._screen(self._prepare_chat(req, ctx))

    def _prepare_completion(self, req: CompletionRequest, ctx: RequestContext) -> Prepared:
        self.check_model(req.model)
        self.check_serving()
        raw = [self._guarded_prompt(p, ctx) for p in req.prompts()]
        prompts = [self._encode(p) for p in raw]
        # the prompt text is needed only to echo it or to log it: token prompts are not decoded
        # otherwise
        need_text = req.echo or self.settings.log_prompts
        texts = [
            p if isinstance(p, str) else self.engine.tokenizer.decode(p) if need_text else ""
            for p in raw
        ]
        longest = max(len(p) for p in prompts)
        default = self.engine.default_sampling.get("max_tokens", COMPLETION_DEFAULT_MAX_TOKENS)
        max_tokens = self._max_tokens(req.max_tokens, longest, default)
        params = req.to_sampling_params(self.engine.default_sampling, max_tokens, req.logprobs)
        if req.echo and req.logprobs is not None:
            params.prompt_logprobs = req.logprobs
        self._check_sampling(params)
        return self._prepared("completion", "cmpl", req, prompts, texts, params, req.echo, ctx)

    def render_chat(
        self,
        messages: list[ChatMessage],
        add_generation_prompt: bool,
        ctx: RequestContext | None = None,
    ) -> str:
        conv = [
            {
                "role": m.role,
                "content": m.text() if ctx is None else self.check_input(m.text(), ctx),
            }
            for m in messages
        ]
        try:
            text = self.engine.tokenizer.apply_chat_template(
                conv,
                chat_template=self.chat_template,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
            )
        except Exception as exc:  # jinja errors from a checkpoint's own template
            raise BadRequest(f"cannot render the chat template: {exc}", param="messages") from exc
        return str(text)

    def _prepare_chat(self, req: ChatCompletionRequest, ctx: RequestContext) -> Prepared:
        self.check_model(req.model)
        self.check_serving()
        text = self.render_chat(req.messages, req.add_generation_prompt, ctx)
        ids = list(self.engine.tokenizer.encode(text, add_special_tokens=False)) or self._encode("")
        max_tokens = self._max_tokens(
            req.requested_max_tokens(), len(ids), self.engine.default_sampling.get("max_tokens")
        )
        params = req.chat_sampling_params(self.engine.default_sampling, max_tokens)
        self._check_sampling(params)
        return self._prepared("chat", "chatcmpl", req, [ids], [text], params, False, ctx)

    def _prepared(
        self,
        kind: str,
        prefix: str,
        req: CompletionRequest | ChatCompletionRequest,
        prompts: list[list[int]],
        texts: list[str],
        params: SamplingConfig,
        echo: bool,
        ctx: RequestContext,
    ) -> Prepared:
        release = self.admission.acquire(params.n * len(prompts))  # sequences, not requests
        ctx.prompt_tokens = sum(len(p) for p in prompts)
        if self.settings.log_prompts:
            ctx.prompt_text = "\n".join(texts)
        return Prepared(
            kind=kind,
            response_id=f"{prefix}-{uuid.uuid4().hex}",
            model=self.model_name,
            prompts=prompts,
            prompt_texts=texts,
            params=params,
            echo=echo,
            include_usage=req.include_usage,
            created=int(time.time()),
            release=release,
            ctx=ctx,
        )

    # ---- generation -------------------------------------------------------------------------
    async def _steps(self, prep: Prepared) -> AsyncGenerator[tuple[int, GenerationStep], None]:
        """Engine steps for every prompt, tagged with the prompt's index (merged if several)."""
        base = prep.response_id
        if len(prep.prompts) == 1:
            async for step in self.engine.generate(prep.prompts[0], prep.params, base):
                yield 0, step
            return
        queue: asyncio.Queue[tuple[int, GenerationStep] | BaseException | None] = asyncio.Queue()

        async def pump(i: int, ids: list[int]) -> None:
            try:
                async for step in self.engine.generate(ids, prep.params, f"{base}-{i}"):
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

    def _timeout(self) -> float | None:
        return self.settings.request_timeout or None

    async def run(self, prep: Prepared) -> dict[str, Any]:
        """Run to completion and return the OpenAI response body."""
        n = prep.params.n
        finals: dict[int, ChoiceOutput] = {}
        prompt_lp: dict[int, list[TokenLogprob | None] | None] = {}
        try:
            async with asyncio.timeout(self._timeout()):
                async for i, step in self._steps(prep):
                    for c in step.choices:
                        finals[i * n + c.index] = c
                    if step.prompt_logprobs is not None:
                        prompt_lp[i] = step.prompt_logprobs
        except TimeoutError:
            raise RequestTimeout(
                f"request did not finish within {self.settings.request_timeout:g} s"
            ) from None
        finally:
            prep.release()
        completion_tokens = sum(len(c.token_ids) for c in finals.values())
        if self.guard is not None:
            finals = {k: self._filter_final(prep, c) for k, c in finals.items()}
            if self.guard.guard_model("output") is not None:
                user = "\n".join(prep.ctx.screened)
                for k, c in finals.items():
                    if c.finish_reason == "content_filter":
                        continue
                    if await self.guard.classify(prep.ctx.request_id, "output", user, c.text):
                        finals[k] = replace(
                            c, text="", logprobs=None, finish_reason="content_filter"
                        )
        self._account(prep, completion_tokens, [c.finish_reason for c in finals.values()])
        choices = [
            self._choice_body(prep, idx // n, finals[idx], prompt_lp.get(idx // n))
            for idx in sorted(finals)
        ]
        return {
            "id": prep.response_id,
            "object": "text_completion" if prep.kind == "completion" else "chat.completion",
            "created": prep.created,
            "model": prep.model,
            "choices": choices,
            "usage": self._usage(prep, completion_tokens),
        }

    async def stream(self, prep: Prepared) -> AsyncIterator[dict[str, Any]]:
        """Yield OpenAI chunk objects; errors after the first chunk are raised to `streaming`."""
        n = prep.params.n
        obj = "text_completion" if prep.kind == "completion" else "chat.completion.chunk"
        head = {"id": prep.response_id, "object": obj, "created": prep.created, "model": prep.model}
        completion_tokens = 0
        reasons: list[str] = []
        started: set[int] = set()
        guards: dict[int, StreamGuard] = {}
        held_lp: dict[int, tuple[list[TokenLogprob], int]] = {}  # logprobs of held text
        stopped: set[int] = set()  # finished or blocked choices
        total = n * len(prep.prompts)
        try:
            async with asyncio.timeout(self._timeout()):
                if prep.kind == "chat":
                    yield {
                        **head,
                        "choices": [
                            {
                                "index": k,
                                "delta": {"role": "assistant", "content": ""},
                                "logprobs": None,
                                "finish_reason": None,
                            }
                            for k in range(n)
                        ],
                    }
                steps = self._steps(prep)
                async for i, step in steps:
                    choices = []
                    for c in step.choices:
                        idx = i * n + c.index
                        completion_tokens += len(c.token_ids)
                        if idx in stopped:
                            continue  # blocked: the rest of this choice is never sent
                        if self.guard is not None:
                            sg = guards.get(idx)
                            if sg is None:
                                sg = guards[idx] = self.guard.output(prep.ctx.request_id)
                            c = _guarded_chunk(sg, c, held_lp, idx)
                        if c.finish_reason is not None:
                            stopped.add(idx)
                        prefix = ""
                        if prep.echo and idx not in started:
                            prefix = prep.prompt_texts[i]
                        started.add(idx)
                        if c.finish_reason is not None:
                            reasons.append(c.finish_reason)
                        lp = step.prompt_logprobs if prefix else None
                        choices.append(self._chunk_choice(prep, idx, c, prefix, lp, i))
                    if choices:
                        yield {**head, "choices": choices}
                    if len(stopped) == total:
                        # every choice ended or was blocked: close the generator now, which
                        # aborts the engine request (a bare break would leave that to the GC)
                        await steps.aclose()
                        break
        except TimeoutError:
            raise RequestTimeout(
                f"request did not finish within {self.settings.request_timeout:g} s"
            ) from None
        finally:
            prep.release()
            self._account(prep, completion_tokens, reasons)
            for sg in guards.values():  # a choice cut short (client gone) reports here
                sg.close()
        if prep.include_usage:
            yield {**head, "choices": [], "usage": self._usage(prep, completion_tokens)}

    def _filter_final(self, prep: Prepared, c: ChoiceOutput) -> ChoiceOutput:
        """The same output rules without streaming: one pass over the whole text."""
        assert self.guard is not None
        sg = self.guard.output(prep.ctx.request_id)
        text = sg.feed(c.text, final=True)
        if sg.blocked is not None:
            return replace(c, text=text, logprobs=None, finish_reason="content_filter")
        if text != c.text:
            return replace(c, text=text, logprobs=None)  # token logprobs would leak the span
        return c

    # ---- response shaping -------------------------------------------------------------------
    def _account(
        self, prep: Prepared, completion_tokens: int, reasons: Sequence[str | None]
    ) -> None:
        prep.ctx.completion_tokens = completion_tokens
        prep.ctx.finish_reasons = [r for r in reasons if r]
        self.metrics.tokens(prep.ctx.prompt_tokens, completion_tokens)

    def _usage(self, prep: Prepared, completion_tokens: int) -> dict[str, int]:
        p = prep.ctx.prompt_tokens
        return {
            "prompt_tokens": p,
            "completion_tokens": completion_tokens,
            "total_tokens": p + completion_tokens,
        }

    def _choice_body(
        self,
        prep: Prepared,
        prompt_idx: int,
        c: ChoiceOutput,
        prompt_lp: list[TokenLogprob | None] | None,
    ) -> dict[str, Any]:
        index = prompt_idx * prep.params.n + c.index
        if prep.kind == "chat":
            lp = None
            if c.logprobs is not None:
                lp = {"content": [_chat_logprob(t) for t in c.logprobs]}
            return {
                "index": index,
                "message": {"role": "assistant", "content": c.text},
                "logprobs": lp,
                "finish_reason": c.finish_reason,
            }
        text = c.text
        logprobs = None
        if prep.params.logprobs is not None:
            entries: list[TokenLogprob | None] = []
            if prep.echo:
                entries.extend(prompt_lp or [])
            entries.extend(c.logprobs or [])
            logprobs = _completion_logprobs(entries, 0)
        if prep.echo:
            text = prep.prompt_texts[prompt_idx] + text
        return {
            "index": index,
            "text": text,
            "logprobs": logprobs,
            "finish_reason": c.finish_reason,
        }

    def _chunk_choice(
        self,
        prep: Prepared,
        idx: int,
        c: ChoiceOutput,
        prefix: str,
        prompt_lp: list[TokenLogprob | None] | None,
        prompt_idx: int,
    ) -> dict[str, Any]:
        if prep.kind == "chat":
            delta: dict[str, Any] = {"content": c.text} if c.text else {}
            lp = None
            if c.logprobs is not None:
                lp = {"content": [_chat_logprob(t) for t in c.logprobs]}
            return {"index": idx, "delta": delta, "logprobs": lp, "finish_reason": c.finish_reason}
        logprobs = None
        if prep.params.logprobs is not None:
            entries: list[TokenLogprob | None] = list(prompt_lp or [])
            entries.extend(c.logprobs or [])
            logprobs = _completion_logprobs(entries, 0)
        return {
            "index": idx,
            "text": prefix + c.text,
            "logprobs": logprobs,
            "finish_reason": c.finish_reason,
        }


def _completion_logprobs(entries: list[TokenLogprob | None], offset: int) -> dict[str, Any]:
    """The legacy completions logprobs object (tokens, token_logprobs, top_logprobs, offsets)."""
    tokens: list[str] = []
    token_lps: list[float | None] = []
    tops: list[dict[str, float] | None] = []
    offsets: list[int] = []
    pos = offset
    for e in entries:
        if e is None:
            continue
        tokens.append(e.token)
        token_lps.append(e.logprob)
        tops.append({t: lp for t, lp in e.top} if e.logprob is not None else None)
        offsets.append(pos)
        pos += len(e.token)
    return {
        "tokens": tokens,
        "token_logprobs": token_lps,
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def _chat_logprob(t: TokenLogprob) -> dict[str, Any]:
    return {
        "token": t.token,
        "logprob": t.logprob if t.logprob is not None else float("-inf"),
        "bytes": list(t.token.encode("utf-8")),
        "top_logprobs": [
            {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))} for tok, lp in t.top
        ],
    }


def error_from_engine(exc: BaseException) -> APIError:
    """Map an unexpected failure during generation to an API error (never a bare 500)."""
    if isinstance(exc, APIError):
        return exc
    return EngineFailure(f"generation failed: {type(exc).__name__}")


def _guarded_chunk(
    sg: StreamGuard,
    c: ChoiceOutput,
    states: dict[int, tuple[list[TokenLogprob], int]],
    idx: int,
) -> ChoiceOutput:
    """One streamed delta through the choice's guard: what may be sent now. A block ends the
    choice with finish_reason content_filter. Token logprobs travel with their text: held while
    any text is held, sent when it drains, and dropped when a span was redacted (they would show
    it)."""
    lps, redactions = states.get(idx, ([], 0))
    text = sg.feed(c.text, final=c.finish_reason is not None)
    if sg.blocked is not None:
        states[idx] = ([], sg.redactions)
        return replace(c, text="", logprobs=None, finish_reason="content_filter")
    if c.logprobs:
        lps = [*lps, *c.logprobs]
    if sg.pending:  # some text is still held: so are all logprobs not yet sent
        states[idx] = (lps, redactions)
        return replace(c, text=text, logprobs=None)
    states[idx] = ([], sg.redactions)
    if sg.redactions != redactions:
        return replace(c, text=text, logprobs=None)
    if c.logprobs is None and not lps:
        return c if text == c.text else replace(c, text=text)
    return replace(c, text=text, logprobs=lps)

"""POST /v1/completions: prompts (text or token ids, one or several) -> text choices.

`prepare` does every check that can answer 4xx; `run` returns the JSON body, `stream` the SSE
chunk objects (the echoed prompt and prompt logprobs go with each choice's first chunk).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from serve.core import Prepared, RequestContext, ServingCore
from serve.protocol import CompletionRequest
from serve.types import ChoiceOutput, GenerationStep, TokenLogprob

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


class CompletionService:
    def __init__(self, core: ServingCore) -> None:
        self.core = core
        self.engine = core.engine

    async def prepare(self, req: CompletionRequest, ctx: RequestContext) -> Prepared:
        """A validated, screened completion request holding an admission slot."""
        core = self.core
        core.check_request(req.model, ctx.caller)
        raw = [self._guarded_prompt(p, ctx) for p in req.prompts()]
        prompts = [core.encode(p) for p in raw]
        # the prompt text is needed only to echo it or to log it: token prompts are not decoded
        # otherwise
        need_text = req.echo or core.settings.log_prompts
        texts = [
            p if isinstance(p, str) else self.engine.tokenizer.decode(p) if need_text else ""
            for p in raw
        ]
        default = self.engine.default_sampling.get("max_tokens", DEFAULT_MAX_TOKENS)
        max_tokens = core.max_tokens(req.max_tokens, max(len(p) for p in prompts), default)
        params = req.to_sampling_params(self.engine.default_sampling, max_tokens, req.logprobs)
        if req.echo and req.logprobs is not None:
            params.prompt_logprobs = req.logprobs
        core.check_sampling(params)
        return await core.admit("cmpl", req, prompts, texts, params, req.echo, ctx)

    def _guarded_prompt(self, prompt: str | list[int], ctx: RequestContext) -> str | list[int]:
        """Token prompts are decoded for the check, so no input form skips the policy."""
        if self.core.guard is None:
            return prompt
        if isinstance(prompt, str):
            return self.core.check_input(prompt, ctx)
        ids = self.core.check_token_ids(list(prompt), "prompt")
        text = self.engine.tokenizer.decode(ids)
        safe = self.core.check_input(text, ctx)
        return prompt if safe == text else safe

    def _steps(self, prep: Prepared) -> AsyncIterator[GenerationStep | tuple[int, GenerationStep]]:
        """The engine's steps: straight from the engine for one prompt (the common case, no
        extra hop), merged and tagged with the prompt's index for several."""
        if len(prep.prompts) == 1:
            return self.engine.generate(prep.prompts[0], prep.params, prep.response_id)
        return self.core.generate_all(prep)

    async def run(self, prep: Prepared) -> dict[str, Any]:
        """Run to completion and return the OpenAI response body."""
        n = prep.params.n
        finals: dict[int, ChoiceOutput] = {}
        prompt_lp: dict[int, list[TokenLogprob | None] | None] = {}
        try:
            async with self.core.deadline():
                async for item in self._steps(prep):
                    i, step = item if isinstance(item, tuple) else (0, item)
                    for c in step.choices:
                        finals[i * n + c.index] = c
                    if step.prompt_logprobs is not None:
                        prompt_lp[i] = step.prompt_logprobs
        finally:  # what the engine produced counts for the key's limits, also when aborted
            completion_tokens = prep.ctx.completion_tokens = self.core.generated(finals)
        finals = await self.core.guard_finals(prep, finals)
        self.core.account(prep, completion_tokens, [c.finish_reason for c in finals.values()])
        choices = [
            self._choice(prep, idx // n, finals[idx], prompt_lp.get(idx // n))
            for idx in sorted(finals)
        ]
        return {
            "id": prep.response_id,
            "object": "text_completion",
            "created": prep.created,
            "model": prep.model,
            "choices": choices,
            "usage": self.core.usage(prep, completion_tokens),
        }

    async def stream(self, prep: Prepared) -> AsyncIterator[dict[str, Any]]:
        """OpenAI chunk objects; errors after the first chunk are raised to `streaming`."""
        n = prep.params.n
        head = {"id": prep.response_id, "object": "text_completion", "created": prep.created,
                "model": prep.model}  # fmt: skip
        tally, started = self.core.tally(prep), set()
        steps = self._steps(prep)
        try:
            async with self.core.deadline():
                async for item in steps:
                    i, step = item if isinstance(item, tuple) else (0, item)
                    choices = []
                    for c in step.choices:
                        idx = i * n + c.index
                        if (sent := tally.take(idx, c)) is not None:
                            first = step if idx not in started else None
                            started.add(idx)
                            choices.append(self._chunk(prep, idx, sent, i, first))
                    if choices:
                        yield {**head, "choices": choices}
                    if tally.done:
                        # every choice ended or was blocked: close the generator now, which
                        # aborts the engine request (a bare break would leave that to the GC)
                        await steps.aclose()  # type: ignore[attr-defined]
                        break
        finally:
            tally.close()
        if prep.include_usage:
            yield tally.usage_chunk(head)

    # ---- response shaping ----------------------------------------------------------------------
    def _choice(
        self,
        prep: Prepared,
        prompt_idx: int,
        c: ChoiceOutput,
        prompt_lp: list[TokenLogprob | None] | None,
    ) -> dict[str, Any]:
        text, logprobs = c.text, None
        if prep.params.logprobs is not None:
            entries: list[TokenLogprob | None] = []
            if prep.echo:
                entries.extend(prompt_lp or [])
            entries.extend(c.logprobs or [])
            logprobs = completion_logprobs(entries)
        if prep.echo:
            text = prep.prompt_texts[prompt_idx] + text
        index = prompt_idx * prep.params.n + c.index
        return {
            "index": index,
            "text": text,
            "logprobs": logprobs,
            "finish_reason": c.finish_reason,
        }

    def _chunk(
        self,
        prep: Prepared,
        idx: int,
        c: ChoiceOutput,
        prompt_idx: int,
        first: GenerationStep | None,
    ) -> dict[str, Any]:
        """A streamed choice; its first chunk carries the echoed prompt (and its logprobs)."""
        prefix = prep.prompt_texts[prompt_idx] if prep.echo and first is not None else ""
        logprobs = None
        if prep.params.logprobs is not None:
            entries: list[TokenLogprob | None] = []
            if prefix and first is not None:
                entries.extend(first.prompt_logprobs or [])
            entries.extend(c.logprobs or [])
            logprobs = completion_logprobs(entries)
        return {
            "index": idx,
            "text": prefix + c.text,
            "logprobs": logprobs,
            "finish_reason": c.finish_reason,
        }


def completion_logprobs(entries: list[TokenLogprob | None]) -> dict[str, Any]:
    """The legacy completions logprobs object (tokens, token_logprobs, top_logprobs, offsets)."""
    tokens: list[str] = []
    token_lps: list[float | None] = []
    tops: list[dict[str, float] | None] = []
    offsets: list[int] = []
    pos = 0
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

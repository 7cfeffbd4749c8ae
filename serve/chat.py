"""POST /v1/chat/completions: messages -> the chat template -> one prompt -> assistant choices.

`prepare` checks every message against the input policy and renders the template; `run` returns
the JSON body, `stream` the SSE chunk objects (a role chunk first, as OpenAI sends).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from serve.core import Prepared, RequestContext, ServingCore
from serve.errors import BadRequest
from serve.protocol import ChatCompletionRequest, ChatMessage
from serve.types import ChoiceOutput, TokenLogprob

# Used when the tokenizer has no chat template of its own (documented in the README).
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ChatService:
    def __init__(self, core: ServingCore) -> None:
        self.core = core
        self.engine = core.engine
        self.template = core.engine.tokenizer.chat_template or DEFAULT_CHAT_TEMPLATE

    async def prepare(self, req: ChatCompletionRequest, ctx: RequestContext) -> Prepared:
        """A validated, screened chat request holding an admission slot."""
        core = self.core
        core.check_request(req.model, ctx.caller)
        text = self.render(req.messages, req.add_generation_prompt, ctx)
        ids = list(self.engine.tokenizer.encode(text, add_special_tokens=False)) or core.encode("")
        max_tokens = core.max_tokens(
            req.requested_max_tokens(), len(ids), self.engine.default_sampling.get("max_tokens")
        )
        params = req.chat_sampling_params(self.engine.default_sampling, max_tokens)
        core.check_sampling(params)
        return await core.admit("chatcmpl", req, [ids], [text], params, False, ctx)

    def render(
        self,
        messages: list[ChatMessage],
        add_generation_prompt: bool,
        ctx: RequestContext | None = None,
    ) -> str:
        """The prompt text; with `ctx`, every message passes the input policy first."""
        conv = [
            {
                "role": m.role,
                "content": m.text() if ctx is None else self.core.check_input(m.text(), ctx),
            }
            for m in messages
        ]
        try:
            text = self.engine.tokenizer.apply_chat_template(
                conv,
                chat_template=self.template,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
            )
        except Exception as exc:  # jinja errors from a checkpoint's own template
            raise BadRequest(f"cannot render the chat template: {exc}", param="messages") from exc
        return str(text)

    async def run(self, prep: Prepared) -> dict[str, Any]:
        """Run to completion and return the OpenAI response body."""
        finals: dict[int, ChoiceOutput] = {}
        try:
            async with self.core.deadline():
                gen = self.engine.generate(prep.prompts[0], prep.params, prep.response_id)
                async for step in gen:
                    for c in step.choices:
                        finals[c.index] = c
        finally:  # what the engine produced counts for the key's limits, also when aborted
            completion_tokens = prep.ctx.completion_tokens = self.core.generated(finals)
        finals = await self.core.guard_finals(prep, finals)
        self.core.account(prep, completion_tokens, [c.finish_reason for c in finals.values()])
        choices = [
            {
                "index": k,
                "message": {"role": "assistant", "content": finals[k].text},
                "logprobs": _logprobs(finals[k]),
                "finish_reason": finals[k].finish_reason,
            }
            for k in sorted(finals)
        ]
        return {
            "id": prep.response_id,
            "object": "chat.completion",
            "created": prep.created,
            "model": prep.model,
            "choices": choices,
            "usage": self.core.usage(prep, completion_tokens),
        }

    async def stream(self, prep: Prepared) -> AsyncIterator[dict[str, Any]]:
        """OpenAI chunk objects; errors after the first chunk are raised to `streaming`."""
        head = {"id": prep.response_id, "object": "chat.completion.chunk",
                "created": prep.created, "model": prep.model}  # fmt: skip
        tally = self.core.tally(prep)
        steps = self.engine.generate(prep.prompts[0], prep.params, prep.response_id)
        try:
            async with self.core.deadline():
                role = {"role": "assistant", "content": ""}
                yield {**head, "choices": [
                    {"index": k, "delta": role, "logprobs": None, "finish_reason": None}
                    for k in range(prep.params.n)
                ]}  # fmt: skip
                async for step in steps:
                    choices = [
                        {"index": c.index, "delta": {"content": c.text} if c.text else {},
                         "logprobs": _logprobs(c), "finish_reason": c.finish_reason}
                        for c in (tally.take(x.index, x) for x in step.choices)
                        if c is not None
                    ]  # fmt: skip
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


def _logprobs(c: ChoiceOutput) -> dict[str, Any] | None:
    return None if c.logprobs is None else {"content": [_chat_logprob(t) for t in c.logprobs]}


def _chat_logprob(t: TokenLogprob) -> dict[str, Any]:
    return {
        "token": t.token,
        "logprob": t.logprob if t.logprob is not None else float("-inf"),
        "bytes": list(t.token.encode("utf-8")),
        "top_logprobs": [
            {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))} for tok, lp in t.top
        ],
    }

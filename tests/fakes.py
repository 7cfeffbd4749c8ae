"""A fake engine for fast HTTP-layer tests: byte-level tokenizer, scripted generation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from serve.types import ChoiceOutput, GenerationStep, SamplingConfig, TokenLogprob

SPECIALS = 3  # 0 = bos, 1 = eos, 2 = pad; byte b is token b + 3


class FakeTokenizer:
    bos_token_id: int | None = 0
    eos_token_id: int | None = 1
    chat_template: str | None = None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [b + SPECIALS for b in text.encode("utf-8")]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return bytes(i - SPECIALS for i in ids if i >= SPECIALS).decode("utf-8", "replace")

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any:
        from jinja2 import Template

        return Template(kwargs["chat_template"]).render(
            messages=conversation, add_generation_prompt=kwargs["add_generation_prompt"]
        )

    def __len__(self) -> int:
        return 256 + SPECIALS


class FakeEngine:
    """Generates the text `script` (cycled), one byte per step, with `delay` seconds per step."""

    def __init__(
        self,
        script: str = "hello world ",
        delay: float = 0.0,
        max_model_len: int = 64,
        max_num_seqs: int = 4,
    ) -> None:
        self.model_path = "fake-model"
        self.max_model_len = max_model_len
        self.max_num_seqs = max_num_seqs
        self.tokenizer = FakeTokenizer()
        self.default_sampling: dict[str, Any] = {}
        self.script = script
        self.delay = delay
        self.running: set[str] = set()
        self.aborted: list[str] = []
        self.seen: list[tuple[list[int], SamplingConfig]] = []
        self.fail_after: int | None = None
        self._dead = False
        self.engine_version = "fake 0"

    @property
    def dead(self) -> bool:
        return self._dead

    def kill(self) -> None:
        self._dead = True

    def num_unfinished_requests(self) -> int:
        return len(self.running)

    def shutdown(self) -> None:
        pass

    def _tokens(self, params: SamplingConfig) -> tuple[list[int], str]:
        out: list[int] = []
        text = ""
        for k in range(params.max_tokens):
            ch = self.script[k % len(self.script)]
            out.append(ord(ch) + SPECIALS)
            text += ch
            hit = next((s for s in params.stop if text.endswith(s)), None)
            if hit:
                return out, "stop:" + hit
        return out, "length"

    async def generate(
        self, prompt_ids: list[int], params: SamplingConfig, request_id: str
    ) -> AsyncIterator[GenerationStep]:
        self.seen.append((prompt_ids, params))
        self.running.add(request_id)
        done = False
        try:
            tokens, reason = self._tokens(params)
            finish = "stop" if reason.startswith("stop") else "length"
            text = self.tokenizer.decode(tokens)
            if reason.startswith("stop:"):
                text = text[: -len(reason[5:])]
            lp = params.logprobs is not None
            if not params.stream:
                for _ in tokens:
                    await asyncio.sleep(self.delay)
                done = True
                yield GenerationStep(
                    choices=[
                        ChoiceOutput(i, text, tokens, self._lp(tokens) if lp else None, finish)
                        for i in range(params.n)
                    ],
                )
                return
            for k, tid in enumerate(tokens):
                await asyncio.sleep(self.delay)
                if self.fail_after is not None and k >= self.fail_after:
                    raise RuntimeError("engine exploded")
                last = k == len(tokens) - 1
                piece = self.tokenizer.decode([tid])
                if last and reason.startswith("stop:"):
                    piece = ""
                done = last
                yield GenerationStep(
                    choices=[
                        ChoiceOutput(
                            i,
                            piece,
                            [tid],
                            self._lp([tid]) if lp else None,
                            finish if last else None,
                        )
                        for i in range(params.n)
                    ],
                )
        finally:
            self.running.discard(request_id)
            if not done:  # closed before the end: the real engine aborts the request here
                self.aborted.append(request_id)

    def _lp(self, tokens: list[int]) -> list[TokenLogprob]:
        return [
            TokenLogprob(self.tokenizer.decode([t]), -0.5, [(self.tokenizer.decode([t]), -0.5)])
            for t in tokens
        ]

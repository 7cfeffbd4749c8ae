"""The contract between the HTTP layer and an engine: what the server asks for and gets back.

`engine.py` implements it over vLLM; the unit tests implement it with a fake. Nothing here imports
vLLM, so the HTTP layer can be tested without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class SamplingConfig:
    """Engine-neutral sampling parameters, already resolved against server defaults."""

    n: int = 1
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: dict[int, float] | None = None
    logprobs: int | None = None
    """Top-k logprobs per generated token (0 = only the chosen token)."""
    prompt_logprobs: int | None = None
    """Logprobs of the prompt tokens (completions `echo` + `logprobs`)."""
    json_schema: dict[str, Any] | None = None
    json_object: bool = False
    ignore_eos: bool = False
    min_tokens: int = 0
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    stream: bool = False
    """Deltas per step (streaming) rather than one final output."""
    priority: int = 0
    """Engine scheduling order, lower first (set by fair admission between keys; it takes
    effect under vLLM's priority scheduling policy)."""


@dataclass(slots=True)
class TokenLogprob:
    """One position's chosen token and its alternatives."""

    token: str
    logprob: float | None
    """None for the first prompt token, which has no context to be predicted from."""
    top: list[tuple[str, float]]


@dataclass(slots=True)
class ChoiceOutput:
    """One sequence's progress: the text delta (streaming) or the whole text (final)."""

    index: int
    text: str
    token_ids: Sequence[int]
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None


@dataclass(slots=True)
class GenerationStep:
    """What one engine step produced for one request."""

    choices: list[ChoiceOutput]
    prompt_logprobs: list[TokenLogprob | None] | None = None


class Tokenizer(Protocol):
    """The subset of a HF tokenizer the server uses."""

    eos_token_id: int | None
    bos_token_id: int | None
    chat_template: str | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = ...) -> str: ...

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def __len__(self) -> int: ...


class EngineClient(Protocol):
    """An engine the service can drive. `generate` must abort the engine request when closed."""

    model_path: str
    max_model_len: int
    max_num_seqs: int
    tokenizer: Tokenizer
    default_sampling: dict[str, Any]
    """Defaults from the checkpoint's generation_config.json (server default tier)."""

    def generate(
        self, prompt_ids: list[int], params: SamplingConfig, request_id: str
    ) -> AsyncIterator[GenerationStep]: ...

    def num_unfinished_requests(self) -> int: ...

    @property
    def dead(self) -> bool: ...

    def shutdown(self) -> None: ...

"""OpenAI request models (fields in the order of the OpenAI API reference, then vLLM's extras).

`to_sampling_params` resolves each field as: the request's value > the server default (the
checkpoint's generation_config.json) > the OpenAI default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from serve.types import SamplingConfig

Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]
MAX_N = 16
MAX_LOGPROBS = 20


class StreamOptions(BaseModel):
    include_usage: bool = False


def valid_unicode(data: Any, where: str = "body") -> Any:
    """`data` unchanged, or ValueError naming the first string with a lone surrogate: JSON may
    carry one ("\\ud800"), but it is not text a tokenizer can encode (a 400, not a crash)."""
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{where} holds a lone surrogate (U+{ord(data[exc.start]):04X}) at character "
                f"{exc.start}: not valid Unicode text"
            ) from None
    elif isinstance(data, dict):
        for k, v in data.items():
            valid_unicode(v, f"'{k}'" if where == "body" else f"{where}.{k}")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            valid_unicode(v, f"{where}[{i}]")
    return data


class _Text(BaseModel):
    """A request whose strings reach the tokenizer: lone surrogates are refused up front."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return valid_unicode(data)


class _SamplingFields(_Text):
    """Fields shared by completions and chat, and their resolution into a SamplingConfig."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    n: Annotated[int, Field(ge=1, le=MAX_N)] = 1
    presence_penalty: Penalty | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    user: str | None = None
    # vLLM extras
    # above the vocabulary it is all tokens (vLLM clamps it); past int64 the engine's message
    # encoding fails, so that is refused here
    top_k: Annotated[int, Field(ge=-1, le=2**63 - 1)] | None = None
    min_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    repetition_penalty: Annotated[float, Field(gt=0.0, le=2.0)] | None = None
    ignore_eos: bool = False
    min_tokens: Annotated[int, Field(ge=0)] = 0
    stop_token_ids: list[int] | None = None
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        stops = [v] if isinstance(v, str) else (v or [])
        if len(stops) > 16:
            raise ValueError("at most 16 stop sequences")
        if any(s == "" for s in stops):
            raise ValueError("stop sequences must not be empty")
        return v

    @field_validator("logit_bias")
    @classmethod
    def _logit_bias(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for key in v or {}:
            if not key.lstrip("-").isdigit():
                raise ValueError(f"logit_bias keys must be token ids, got {key!r}")
        return v

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def _resolve(self, defaults: dict[str, Any], name: str, openai_default: Any) -> Any:
        value = getattr(self, name)
        if value is not None:
            return value
        return defaults.get(name, openai_default)

    def to_sampling_params(
        self, defaults: dict[str, Any], max_tokens: int, logprobs: int | None = None
    ) -> SamplingConfig:
        """Resolve this request against server defaults; `max_tokens` is already resolved."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        top_k = self._resolve(defaults, "top_k", 0)
        bias = {int(k): v for k, v in self.logit_bias.items()} if self.logit_bias else None
        return SamplingConfig(
            n=self.n,
            max_tokens=max_tokens,
            temperature=self._resolve(defaults, "temperature", 1.0),
            top_p=self._resolve(defaults, "top_p", 1.0),
            top_k=0 if top_k == -1 else top_k,
            min_p=self._resolve(defaults, "min_p", 0.0),
            seed=self.seed,
            stop=stop,
            stop_token_ids=list(self.stop_token_ids or []),
            presence_penalty=self.presence_penalty or 0.0,
            frequency_penalty=self.frequency_penalty or 0.0,
            repetition_penalty=self._resolve(defaults, "repetition_penalty", 1.0),
            logit_bias=bias,
            logprobs=logprobs,
            ignore_eos=self.ignore_eos,
            min_tokens=self.min_tokens,
            skip_special_tokens=self.skip_special_tokens,
            include_stop_str_in_output=self.include_stop_str_in_output,
            stream=self.stream,
        )


Prompt = str | list[str] | list[int] | list[list[int]]


class CompletionRequest(_SamplingFields):
    """POST /v1/completions."""

    prompt: Prompt
    echo: bool = False
    logprobs: Annotated[int, Field(ge=0, le=MAX_LOGPROBS)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: Prompt) -> Prompt:
        if isinstance(v, list) and len(v) == 0:
            raise ValueError("prompt must not be an empty list")
        if isinstance(v, list) and any(isinstance(p, list) and not p for p in v):
            raise ValueError("token-id prompts must not be empty")
        return v

    def prompts(self) -> list[str | list[int]]:
        """The prompt as a list of single prompts (text or token ids)."""
        p = self.prompt
        if isinstance(p, str):
            return [p]
        if all(isinstance(x, int) for x in p):
            return [list(p)]  # type: ignore[arg-type]
        return list(p)  # type: ignore[arg-type]


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(BaseModel):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is 'json_schema'")
        return self


class ChatCompletionRequest(_SamplingFields):
    """POST /v1/chat/completions."""

    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_LOGPROBS)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: ResponseFormat | None = None
    add_generation_prompt: bool = True

    @model_validator(mode="after")
    def _top_logprobs_needs_logprobs(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs to be true")
        return self

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def chat_sampling_params(self, defaults: dict[str, Any], max_tokens: int) -> SamplingConfig:
        params = self.to_sampling_params(
            defaults, max_tokens, (self.top_logprobs or 0) if self.logprobs else None
        )
        rf = self.response_format
        if rf is not None and rf.type == "json_object":
            params.json_object = True
        elif rf is not None and rf.json_schema is not None:
            params.json_schema = rf.json_schema.schema_ or {"type": "object"}
        return params


class TokenizeRequest(_Text):
    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        return self


class DetokenizeRequest(BaseModel):
    model: str | None = None
    tokens: list[int]


class ModerationRequest(_Text):
    """OpenAI's moderation request: one string or a list of strings."""

    model_config = ConfigDict(extra="forbid")

    input: str | list[str] = Field(min_length=1)
    model: str | None = None

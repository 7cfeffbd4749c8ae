"""One streamed request to an OpenAI-compatible server, timed chunk by chunk.

TTFT is the time to the first chunk carrying text; ITLs are the gaps between later text chunks
(a chunk may carry several tokens; vLLM's benchmark measures the same way); TPOT is
(latency - TTFT) / (output tokens - 1). Output tokens come from the server's `usage`
(`stream_options.include_usage`), falling back to the tokenizer when a server sends none.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.workload import BenchRequest, Tokenizer


@dataclass
class RequestResult:
    """What one request did; `error` is None when it completed."""

    input_len: int = 0
    output_len: int = 0
    ttft: float = 0.0  # seconds
    itl: list[float] = field(default_factory=list)  # seconds between text chunks
    latency: float = 0.0  # seconds, send to last byte
    start: float = 0.0  # perf_counter at send
    error: str | None = None  # failure kind: http_429, http_4xx, http_5xx, timeout, ...
    detail: str = ""
    key: int = 0  # which --api-key sent it

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def tpot(self) -> float | None:
        if self.output_len < 2:
            return None
        return (self.latency - self.ttft) / (self.output_len - 1)


@dataclass(frozen=True)
class Target:
    """Where requests go: base URL, served model name, endpoint kind, extra body fields."""

    base_url: str
    model: str
    chat: bool = False
    api_key: str | None = None
    api_keys: tuple[str, ...] = ()  # several keys: a request's `key` picks one
    ignore_eos: bool = True
    extra_body: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        path = "/v1/chat/completions" if self.chat else "/v1/completions"
        return self.base_url.rstrip("/") + path

    def body(self, req: BenchRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": req.max_tokens,
            "temperature": 0.0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.ignore_eos:  # vLLM's extension: exact output lengths
            body["ignore_eos"] = True
        if self.chat:
            body["messages"] = req.messages or [{"role": "user", "content": req.prompt or ""}]
        else:
            body["prompt"] = req.prompt if req.prompt is not None else _joined(req.messages)
        body.update(self.extra_body)
        return body

    def headers(self, key: int = 0) -> dict[str, str]:
        token = self.api_keys[key] if self.api_keys else self.api_key
        return {"Authorization": f"Bearer {token}"} if token else {}


def _joined(messages: list[dict[str, str]] | None) -> str:
    return "\n".join(m.get("content", "") for m in messages or [])


def _kind(status: int) -> str:
    if status == 429:
        return "http_429"
    return f"http_{status // 100}xx"


def _is_token(chunk: dict[str, Any], chat: bool) -> bool:
    """A chunk that carries generated tokens, even ones whose text is empty (a random-weight
    model emits those); the chat stream's opening role chunk does not."""
    for choice in chunk.get("choices") or []:
        if not chat or "role" not in (choice.get("delta") or {}):
            return True
    return False


def _text(chunk: dict[str, Any], chat: bool) -> str:
    text = ""
    for choice in chunk.get("choices") or []:
        if chat:
            text += (choice.get("delta") or {}).get("content") or ""
        else:
            text += choice.get("text") or ""
    return text


async def send(
    client: httpx.AsyncClient, target: Target, req: BenchRequest, tok: Tokenizer | None
) -> RequestResult:
    """Stream one request; never raises for server or network failures, records them instead."""
    res = RequestResult(input_len=req.input_len, key=req.key)
    res.start = t0 = time.perf_counter()
    last = t0
    generated = ""
    first_token: float | None = None  # the first chunk with tokens, text or not
    usage: dict[str, Any] | None = None
    try:
        async with client.stream(
            "POST", target.url, json=target.body(req), headers=target.headers(req.key)
        ) as r:
            if r.status_code != 200:
                await r.aread()
                res.error, res.detail = _kind(r.status_code), r.text[:200]
                return res
            async for line in r.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                now = time.perf_counter()
                chunk = json.loads(data)
                if "error" in chunk:
                    res.error, res.detail = "stream_error", str(chunk["error"])[:200]
                    return res
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if first_token is None and _is_token(chunk, target.chat):
                    first_token = now
                text = _text(chunk, target.chat)
                if not text:
                    continue
                if not generated:
                    res.ttft = now - t0
                else:
                    res.itl.append(now - last)
                last = now
                generated += text
    except httpx.TimeoutException as e:
        res.error, res.detail = "timeout", type(e).__name__
        return res
    except httpx.HTTPError as e:
        res.error, res.detail = "connection", f"{type(e).__name__}: {e}"[:200]
        return res
    except json.JSONDecodeError as e:
        res.error, res.detail = "bad_response", e.msg
        return res
    res.latency = time.perf_counter() - t0
    return _counted(res, usage, generated, None if first_token is None else first_token - t0, tok)


def _counted(
    res: RequestResult,
    usage: dict[str, Any] | None,
    generated: str,
    first_token_s: float | None,
    tok: Tokenizer | None,
) -> RequestResult:
    """Token counts from the server's usage, else from the tokenizer."""
    if usage:
        res.output_len = int(usage.get("completion_tokens") or 0)
        res.input_len = int(usage.get("prompt_tokens") or res.input_len)
    if not res.output_len and tok is not None:
        res.output_len = len(tok.encode(generated, add_special_tokens=False))
    if not generated:
        # counted by tokens, as vLLM's benchmark does: tokens whose text is empty are output
        if not res.output_len or first_token_s is None:
            res.error, res.detail = "empty_output", "the stream carried no tokens"
        else:
            res.ttft = first_token_s
    return res

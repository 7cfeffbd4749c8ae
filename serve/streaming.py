"""Server-sent events: OpenAI chunk framing, `data: [DONE]`, errors as events, cleanup on close.

A client that disconnects cancels the task iterating the stream; the cancellation closes the
engine's generator, which aborts the request in the engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from serve.core import Slot
from serve.errors import api_error_body, error_from_engine

log = logging.getLogger("serve.streaming")
DONE = b"data: [DONE]\n\n"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_event(obj: dict[str, Any]) -> bytes:
    return b"data: " + _dumps(obj).encode("utf-8") + b"\n\n"


async def sse(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Frame chunks as SSE; an error after the stream started becomes an error event + [DONE]."""
    try:
        async for chunk in chunks:
            yield encode_event(chunk)
    except Exception as exc:  # the stream has started: the status line is already sent
        err = error_from_engine(exc)
        if err.status >= 500:
            log.warning("stream failed: %s", err.message)
        yield encode_event(api_error_body(err))
    yield DONE


class SSEResponse(StreamingResponse):
    """A streaming response that owns the request's admission slot: given back when the
    response ends, even if the body never started."""

    def __init__(self, body: AsyncIterator[bytes], slot: Slot) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
            self._slot.release()

"""An OpenAI-style streaming server with scripted latencies, for llm-bench's metric tests.

Each request: wait `ttft` seconds, send one token chunk, then one chunk every `itl` seconds
until max_tokens; a usage chunk and [DONE] close the stream. A prompt containing "FAIL429"
gets a 429 (so does the bearer key "limited"), "FAIL500" a 500, "BREAK" a mid-stream error
event, "EMPTYTEXT" tokens whose text is empty (as a random-weight model's can be), "NOTOKENS" a
stream with no token at all.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from benchmarks.launch import free_port


def make_app(ttft: float, itl: float, model: str = "fake") -> FastAPI:
    app = FastAPI()
    app.state.in_flight = 0
    app.state.max_in_flight = 0
    app.state.requests = 0
    app.state.bearers: list[str] = []

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model, "object": "model"}]}

    async def stream(body: dict[str, Any], chat: bool) -> AsyncIterator[str]:
        text = body.get("prompt") or " ".join(m["content"] for m in body.get("messages", []))
        n = int(body.get("max_tokens", 16))
        app.state.in_flight += 1
        app.state.max_in_flight = max(app.state.max_in_flight, app.state.in_flight)
        try:
            await asyncio.sleep(ttft)
            for i in range(n):
                if i:
                    await asyncio.sleep(itl)
                if "BREAK" in text and i == 1:
                    yield "data: " + json.dumps({"error": {"message": "engine died"}}) + "\n\n"
                    yield "data: [DONE]\n\n"
                    return
                if "NOTOKENS" in text:
                    n = 0
                    break
                piece = "" if "EMPTYTEXT" in text else "x"
                choice = (
                    {"index": 0, "delta": {"content": piece}}
                    if chat
                    else {"index": 0, "text": piece}
                )
                yield "data: " + json.dumps({"choices": [choice]}) + "\n\n"
            usage = {"prompt_tokens": len(text.split()), "completion_tokens": n}
            yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"
        finally:
            app.state.in_flight -= 1

    async def handle(request: Request, chat: bool) -> Any:
        app.state.requests += 1
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        app.state.bearers.append(bearer)
        if bearer == "limited":
            return JSONResponse({"error": {"message": "rate limit", "code": 429}}, status_code=429)
        body = await request.json()
        text = body.get("prompt") or " ".join(m["content"] for m in body.get("messages", []))
        if "FAIL429" in text:
            return JSONResponse({"error": {"message": "busy", "code": 429}}, status_code=429)
        if "FAIL500" in text:
            return JSONResponse({"error": {"message": "boom", "code": 500}}, status_code=500)
        return StreamingResponse(stream(body, chat), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await handle(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return await handle(request, chat=True)

    return app


@contextmanager
def fake_server(ttft: float, itl: float, model: str = "fake") -> Iterator[tuple[str, FastAPI]]:
    """Serve the fake app on a free port in a thread; yields (base_url, app)."""
    port = free_port()
    app = make_app(ttft, itl, model)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)

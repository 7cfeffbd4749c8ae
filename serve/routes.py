"""Thin handlers: parse, call the endpoint's service, choose JSON or SSE. What they add is the
response's ownership of the admission slot, and ending work when the client disconnects
(`until_disconnect`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import serve
from serve.core import RequestContext, Slot
from serve.errors import NotFound
from serve.metrics import ServerMetrics
from serve.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    DetokenizeRequest,
    ModerationRequest,
    TokenizeRequest,
)
from serve.service import Service
from serve.streaming import SSEResponse, sse

T = TypeVar("T")
public = APIRouter()
api = APIRouter()
KNOWN_PATHS = {
    "/health",
    "/ready",
    "/metrics",
    "/version",
    "/tokenize",
    "/detokenize",
    "/v1/models",
    "/v1/usage",
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/moderations",
}


def get_service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def get_ctx(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["state"]["ctx"]
    return ctx


ServiceDep = Annotated[Service, Depends(get_service)]
CtxDep = Annotated[RequestContext, Depends(get_ctx)]


class ClientDisconnected(Exception):
    pass


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it (and so aborting its engine request) if the client goes away."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise ClientDisconnected()
        watcher.cancel()
    return task.result()


async def json_until_disconnect(request: Request, slot: Slot, work: Awaitable[Any]) -> Response:
    """The JSON body of `work`, or 499 when the client left first; the slot is given back
    either way."""
    with slot:
        try:
            return JSONResponse(await until_disconnect(request, work))
        except ClientDisconnected:
            return Response(status_code=499)


@api.post("/v1/completions")
async def completions(
    body: CompletionRequest, request: Request, svc: ServiceDep, ctx: CtxDep
) -> Response:
    prep = await svc.completions.prepare(body, ctx)
    if prep.params.stream:
        return SSEResponse(sse(svc.completions.stream(prep)), prep.slot)
    return await json_until_disconnect(request, prep.slot, svc.completions.run(prep))


@api.post("/v1/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, request: Request, svc: ServiceDep, ctx: CtxDep
) -> Response:
    prep = await svc.chat.prepare(body, ctx)
    if prep.params.stream:
        return SSEResponse(sse(svc.chat.stream(prep)), prep.slot)
    return await json_until_disconnect(request, prep.slot, svc.chat.run(prep))


@api.get("/v1/models")
async def models(svc: ServiceDep, ctx: CtxDep) -> dict[str, Any]:
    if not ctx.caller.may_use(svc.core.model_name):
        return {"object": "list", "data": []}
    return {
        "object": "list",
        "data": [
            {
                "id": svc.core.model_name,
                "object": "model",
                "created": svc.core.created,
                "owned_by": "llm-deploy",
                "root": svc.core.engine.model_path,
                "max_model_len": svc.core.engine.max_model_len,
            }
        ],
    }


@api.post("/v1/moderations")
async def moderations(body: ModerationRequest, svc: ServiceDep) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    return svc.core.moderate(texts)


@api.post("/tokenize")
async def tokenize(body: TokenizeRequest, svc: ServiceDep, ctx: CtxDep) -> dict[str, Any]:
    svc.core.check_model(body.model, ctx.caller)
    tokenizer = svc.core.engine.tokenizer
    if body.messages is not None:
        text = svc.chat.render(body.messages, add_generation_prompt=True)
        ids = tokenizer.encode(text, add_special_tokens=False)
    else:
        ids = tokenizer.encode(body.prompt or "", add_special_tokens=body.add_special_tokens)
    return {"count": len(ids), "max_model_len": svc.core.engine.max_model_len, "tokens": list(ids)}


@api.post("/detokenize")
async def detokenize(body: DetokenizeRequest, svc: ServiceDep, ctx: CtxDep) -> dict[str, Any]:
    svc.core.check_model(body.model, ctx.caller)
    ids = svc.core.check_token_ids(body.tokens, "tokens")
    return {"prompt": svc.core.engine.tokenizer.decode(ids)}


@api.get("/v1/usage")
async def usage(svc: ServiceDep, ctx: CtxDep) -> dict[str, Any]:
    """Tokens and requests per key and UTC day, from the usage database: every key's for an
    admin key, the caller's own otherwise."""
    store = svc.core.quotas.usage
    if store is None:
        raise NotFound("usage is kept per key only when llm-serve runs with --keys-file")
    data = store.summary(None if ctx.caller.admin else ctx.caller.name)
    return {"object": "usage", "data": data}


@api.get("/version")
async def version(svc: ServiceDep) -> dict[str, str]:
    return {
        "version": serve.__version__,
        "engine": getattr(svc.core.engine, "engine_version", "unknown"),
    }


@api.get("/metrics")
async def metrics(request: Request) -> Response:
    m: ServerMetrics = request.app.state.metrics
    m.refresh()
    return Response(generate_latest(m.exposition()), media_type=CONTENT_TYPE_LATEST)


@public.get("/health")
async def health() -> dict[str, str]:
    """The process is alive (liveness). Engine state is /ready's job."""
    return {"status": "ok"}


@public.get("/ready")
async def ready(svc: ServiceDep) -> JSONResponse:
    """200 only when the engine can serve: 503 while draining or after the engine died.

    While the engine loads, nothing listens yet (the app is built after the self-test), which
    probes read as not ready."""
    if svc.core.engine.dead:
        return JSONResponse({"status": "engine_dead"}, status_code=503)
    if svc.core.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})

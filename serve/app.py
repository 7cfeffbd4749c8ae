"""build_app(settings, engine): middleware, auth, routers, error handlers and lifespan."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import uuid
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import serve
from safety.guard import Guard
from safety.policy import DEFAULT_POLICY, PolicyError, load_policy
from serve import access, routes
from serve.core import RequestContext
from serve.errors import PayloadTooLarge, error_response, install_handlers
from serve.metrics import SafetyMetrics, ServerMetrics
from serve.service import Service
from serve.settings import ServerSettings
from serve.types import EngineClient

access_log = logging.getLogger("serve.access")
log = logging.getLogger("serve.app")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestMiddleware:
    """Request id, body limit, access log and request metrics (pure ASGI: no per-chunk cost)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, settings: ServerSettings) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        ctx = RequestContext(request_id=request_id)
        scope.setdefault("state", {})["ctx"] = ctx
        path = scope["path"]
        status = 500
        start = time.perf_counter()

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            too_big = PayloadTooLarge(
                f"request body is {int(length)} bytes, above the limit of {self.max_body}"
            )
            await error_response(too_big)(scope, receive, send)
            self._done(ctx, scope, path, too_big.status, start)
            return

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise PayloadTooLarge(f"request body is above the limit of {self.max_body}")
            return msg

        async def send_with_id(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
                msg["headers"] = [
                    *msg.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                    *((k.encode(), v.encode()) for k, v in ctx.rate_headers.items()),
                ]
            await send(msg)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            self._done(ctx, scope, path, status, start)

    def _done(
        self, ctx: RequestContext, scope: Scope, path: str, status: int, start: float
    ) -> None:
        seconds = time.perf_counter() - start
        endpoint = path if path in routes.KNOWN_PATHS else "other"
        self.metrics.request_done(endpoint, status, seconds)
        extra = {
            "request_id": ctx.request_id,
            "method": scope.get("method"),
            "path": path,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
        }
        if ctx.admitted_at is not None:  # time before admission: checks, fair headroom waits
            extra["admitted_ms"] = round((ctx.admitted_at - start) * 1000, 2)
        if ctx.prompt_tokens or ctx.completion_tokens:
            extra["prompt_tokens"] = ctx.prompt_tokens
            extra["completion_tokens"] = ctx.completion_tokens
        if ctx.finish_reasons:
            extra["finish_reasons"] = ctx.finish_reasons
        if ctx.prompt_text is not None:
            extra["prompt"] = ctx.prompt_text
        access_log.info("request", extra=extra)


def load_guard(spec: str) -> Guard | None:
    """--safety-policy: 'none', 'default' (the shipped policy) or a YAML file (PolicyError
    names the line and reason when it is invalid)."""
    if spec == "none":
        return None
    return Guard(load_policy(DEFAULT_POLICY if spec == "default" else Path(spec))).warm()


def reload_policy(app: FastAPI) -> bool:
    """SIGHUP: swap in the policy file's current contents. Requests already streaming keep the
    policy they started with; an invalid file is refused and the running policy stays."""
    service: Service = app.state.service
    metrics: ServerMetrics = app.state.metrics
    guard = service.core.guard
    if guard is None:
        log.warning("SIGHUP: safety filtering is off (--safety-policy none); nothing to reload")
        return False
    source = guard.policy.source
    try:
        policy = load_policy(Path(source))
        Guard(policy).warm()  # compiled here, not by the first request that uses it
        guard.policy = policy
    except PolicyError as exc:
        log.error("safety policy reload refused; keeping the running policy: %s", exc)
        metrics.safety_reloads.labels("refused").inc()
        return False
    log.info("safety policy reloaded", extra={"policy": source})
    metrics.safety_reloads.labels("ok").inc()
    return True


_UNSET: object = object()


def build_app(
    settings: ServerSettings,
    engine: EngineClient,
    metrics: ServerMetrics | None = None,
    guard: Guard | None | object = _UNSET,
) -> FastAPI:
    """The FastAPI app over `engine`. The engine's lifetime is the caller's, shutdown included.
    The safety guard comes from settings.safety_policy unless one is passed."""
    metrics = metrics or ServerMetrics()
    if guard is _UNSET:
        guard = load_guard(settings.safety_policy)
    assert guard is None or isinstance(guard, Guard)
    if guard is not None:  # its decisions reach /metrics; the caller's object is left as it was
        guard = dataclasses.replace(guard, record=SafetyMetrics(metrics))
    service = Service(engine, settings, metrics, guard, access.quotas(settings, metrics))
    metrics.bind_engine(engine.num_unfinished_requests)
    app = FastAPI(title="llm-deploy", version=serve.__version__)
    app.state.service = service
    app.state.metrics = metrics
    app.state.settings = settings
    install_handlers(app)

    app.state.keyring = access.keyring(settings)
    app.include_router(routes.public)
    app.include_router(routes.api, dependencies=[Depends(access.identify)])

    if settings.cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestMiddleware, metrics=metrics, settings=settings)
    return app

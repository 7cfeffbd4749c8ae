"""Typed errors raised where a problem is known, and the one place that turns them into OpenAI JSON.

Every failure a client can see goes through `error_body`, whether it is answered as an HTTP status
(`install_handlers`) or as an SSE error event after a stream started (`streaming.py`).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("serve.errors")


class APIError(Exception):
    """An error with an HTTP status and an OpenAI error type/code."""

    status: int = 400
    type: str = "invalid_request_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = headers or {}


class BadRequest(APIError):
    status = 400


class ContextLengthExceeded(APIError):
    status = 400
    code = "context_length_exceeded"


class ContentFilter(APIError):
    """The safety policy blocked the input. The message names the category, never the text."""

    status = 400
    code = "content_filter"


class Unauthorized(APIError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(APIError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class NotFound(APIError):
    status = 404
    code = "not_found"


class ModelNotFound(APIError):
    status = 404
    code = "model_not_found"


class RequestTimeout(APIError):
    status = 408
    type = "timeout_error"
    code = "request_timeout"


class PayloadTooLarge(APIError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(APIError):
    status = 429
    type = "rate_limit_error"
    code = "too_many_requests"


class ServiceUnavailable(APIError):
    status = 503
    type = "service_unavailable"
    code = "service_unavailable"


class EngineFailure(APIError):
    """The engine failed a request (or died). Not the client's fault, so a 5xx."""

    status = 503
    type = "server_error"
    code = "engine_error"


def error_from_engine(exc: BaseException) -> APIError:
    """Map an unexpected failure during generation to an API error (never a bare 500)."""
    if isinstance(exc, APIError):
        return exc
    return EngineFailure(f"generation failed: {type(exc).__name__}")


def error_body(
    message: str, type_: str, param: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def api_error_body(exc: APIError) -> dict[str, Any]:
    return error_body(exc.message, exc.type, exc.param, exc.code)


def error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(api_error_body(exc), status_code=exc.status, headers=exc.headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """One readable line from pydantic's error list, and the offending parameter's name."""
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    # Union members add their type names to the location; keep the field path only.
    loc = [p for p in loc if not p.startswith(("str", "list[", "int", "function-"))]
    param = ".".join(loc) or None
    kind = first.get("type", "")
    if kind in ("json_invalid", "json_type"):
        return "request body is not valid JSON", None
    if kind == "missing" and param:
        return f"'{param}' is a required property", param
    msg = first.get("msg", "invalid value")
    return (f"{param}: {msg}" if param else msg), param


def install_handlers(app: FastAPI) -> None:
    """Route every exception to an OpenAI error body; nothing escapes as a bare 500 traceback."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(BadRequest(message, param=param))

    @app.exception_handler(json.JSONDecodeError)
    async def _bad_json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return error_response(BadRequest("request body is not valid JSON"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        type_ = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        body = error_body(str(exc.detail or phrase), type_, None, exc.status_code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(UnexpectedErrors)  # first added: innermost, inside the access log


class UnexpectedErrors:
    """An exception nothing else handled becomes a 500 OpenAI error here, logged once.

    (An `exception_handler(Exception)` runs in Starlette's ServerErrorMiddleware, which answers
    and then re-raises to uvicorn, which logs the same traceback a second time.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.exception("unhandled error", exc_info=exc)
            if not started:  # after the first byte the response can only be cut short
                body = error_body("internal server error", "server_error", None, "internal_error")
                await JSONResponse(body, status_code=500)(scope, receive, send)

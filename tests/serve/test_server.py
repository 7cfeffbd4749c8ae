"""Auth, admission control, health/readiness, request ids, metrics, tokenizer endpoints."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from serve.settings import ServerSettings
from tests.fakes import FakeEngine
from tests.serve.conftest import Factory


async def test_auth_required_except_health(make_client) -> None:  # type: ignore[no-untyped-def]
    _, client = make_client(api_key=["k1", "k2"])
    for path in ("/v1/models", "/metrics", "/version"):
        r = await client.get(path)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert (
        await client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    assert (
        await client.get("/v1/models", headers={"Authorization": "Basic k1"})
    ).status_code == 401
    assert (
        await client.get("/v1/models", headers={"Authorization": "Bearer k2"})
    ).status_code == 200
    r = await client.post("/v1/completions", json={"prompt": "x"})
    assert r.status_code == 401
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/ready")).status_code == 200


def test_keys_from_env_and_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "keys"
    f.write_text("# comment\nfile-key\n\n")
    monkeypatch.setenv("LLM_DEPLOY_API_KEYS", "env1, env2")
    s = ServerSettings(api_key=["flag"], api_key_file=str(f))
    assert s.keys() == ["flag", "env1", "env2", "file-key"]


async def test_cors_closed_unless_configured(make_client) -> None:  # type: ignore[no-untyped-def]
    pre = {"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}
    _, closed = make_client()
    r = await closed.options("/v1/completions", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    _, open_ = make_client(cors_origin=["https://a.example"])
    r = await open_.options("/v1/completions", headers=pre)
    assert r.headers["access-control-allow-origin"] == "https://a.example"


async def test_admission_429_does_not_hurt_admitted(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(delay=0.02, max_num_seqs=2)
    _, client = make_client(engine, max_queued_requests=1)
    body = {"prompt": "x", "max_tokens": 10}
    results = await asyncio.gather(*[client.post("/v1/completions", json=body) for _ in range(6)])
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 200, 429, 429, 429]
    rejected = next(r for r in results if r.status_code == 429)
    assert rejected.headers["retry-after"] == "1"
    assert rejected.json()["error"]["type"] == "rate_limit_error"
    assert all(
        r.json()["choices"][0]["text"] == "hello worl" for r in results if r.status_code == 200
    )
    # slots are released: the next request is admitted
    assert (await client.post("/v1/completions", json=body)).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert "llm_deploy_rejected_requests_total 3.0" in metrics
    assert 'llm_deploy_requests_total{endpoint="/v1/completions",status="429"} 3.0' in metrics


async def test_dead_engine_not_ready(make_client) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine()
    _, client = make_client(engine)
    engine.kill()
    r = await client.get("/ready")
    assert r.status_code == 503 and r.json()["status"] == "engine_dead"
    assert (await client.get("/health")).status_code == 200
    r = await client.post("/v1/completions", json={"prompt": "x"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "engine_error"


async def test_draining_refuses_new_requests(make_client) -> None:  # type: ignore[no-untyped-def]
    app, client = make_client()
    app.state.service.core.draining = True
    assert (await client.get("/ready")).status_code == 503
    r = await client.post("/v1/completions", json={"prompt": "x"})
    assert r.status_code == 503 and "shutting down" in r.json()["error"]["message"]


async def test_request_id_echoed_and_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert (
        r.headers["x-request-id"] != "bad id with spaces" and len(r.headers["x-request-id"]) == 32
    )


async def test_models_tokenize_detokenize_version(client: httpx.AsyncClient) -> None:
    models = (await client.get("/v1/models")).json()
    assert models["data"][0]["id"] == "fake-model"
    tok = (await client.post("/tokenize", json={"prompt": "hi"})).json()
    assert tok["count"] == 2 and tok["max_model_len"] == 64
    text = (await client.post("/detokenize", json={"tokens": tok["tokens"]})).json()
    assert text == {"prompt": "hi"}
    assert (await client.post("/detokenize", json={"tokens": [-5]})).status_code == 400
    assert (await client.post("/tokenize", json={})).status_code == 400
    assert (await client.get("/version")).json()["version"]


async def test_metrics_count_tokens(client: httpx.AsyncClient) -> None:
    await client.post("/v1/completions", json={"prompt": "abcd", "max_tokens": 3})
    m = (await client.get("/metrics")).text
    assert "llm_deploy_prompt_tokens_total 4.0" in m
    assert "llm_deploy_generation_tokens_total 3.0" in m


async def test_access_log_has_ids_and_no_prompt_unless_asked(make_client, caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    caplog.set_level(logging.INFO, logger="serve.access")
    _, quiet = make_client()
    await quiet.post(
        "/v1/completions",
        json={"prompt": "secret words", "max_tokens": 2},
        headers={"X-Request-Id": "req-1", "Authorization": "Bearer k"},
    )
    rec = next(r for r in caplog.records if getattr(r, "request_id", "") == "req-1")
    assert rec.status == 200 and rec.prompt_tokens == 12 and rec.completion_tokens == 2  # type: ignore[attr-defined]
    assert not hasattr(rec, "prompt")
    assert all(
        "secret" not in r.getMessage() and "Bearer" not in str(vars(r)) for r in caplog.records
    )
    _, loud = make_client(log_prompts=True)
    await loud.post(
        "/v1/completions",
        json={"prompt": "secret words", "max_tokens": 2},
        headers={"X-Request-Id": "req-2"},
    )
    rec = next(r for r in caplog.records if getattr(r, "request_id", "") == "req-2")
    assert rec.prompt == "secret words"  # type: ignore[attr-defined]


def test_json_log_lines() -> None:
    import json
    import logging

    from serve.logs import JsonFormatter

    rec = logging.makeLogRecord(
        {
            "msg": "request",
            "levelname": "INFO",
            "name": "serve.access",
            "request_id": "abc",
            "status": 200,
        }
    )
    line = json.loads(JsonFormatter().format(rec))
    assert line["request_id"] == "abc" and line["status"] == 200 and line["msg"] == "request"


async def test_an_unexpected_error_is_one_500_and_one_traceback(
    make_client: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """Answered by serve.errors alone: nothing re-raised to the server (which would log the
    same traceback twice, and makes httpx's ASGI transport raise here)."""
    app, client = make_client()

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with caplog.at_level(logging.ERROR):
        r = await client.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error" and "a bug" not in r.text
    assert sum(1 for rec in caplog.records if rec.exc_info) == 1

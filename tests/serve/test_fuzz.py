"""Fuzz every endpoint of the OpenAPI schema: whatever the body, the server never answers 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from prometheus_client import CollectorRegistry

from serve.app import build_app
from serve.metrics import ServerMetrics
from serve.settings import ServerSettings
from tests.fakes import FakeEngine

app = build_app(ServerSettings(), FakeEngine(max_model_len=128), ServerMetrics(CollectorRegistry()))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.path, case.body, response.text)
    if response.status_code >= 400:
        err = response.json()["error"]
        assert {"message", "type", "param", "code"} <= set(err)

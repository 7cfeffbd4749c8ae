"""Fuzz the live server (the real vLLM engine, not the fake): whatever a client sends, never a
5xx, and the server is still ready afterwards (issue 13). Bounded: a few examples per operation
(LLM_DEPLOY_FUZZ_EXAMPLES raises it: `make fuzz` runs the long version)."""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("LLM_DEPLOY_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def live_schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(base_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("live_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_from_the_real_engine(case: schemathesis.Case, base_url: str) -> None:
    response = case.call(base_url=base_url, timeout=120)
    assert response.status_code < 500, (case.path, case.body, response.text[:500])
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        err = response.json()["error"]
        assert {"message", "type", "param", "code"} <= set(err)


def test_still_ready_after_the_fuzz(base_url: str) -> None:
    assert httpx.get(base_url + "/ready", timeout=10).status_code == 200

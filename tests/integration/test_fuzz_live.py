"""Fuzz the live server (the real vLLM engine, not the fake): whatever a client sends, never a
5xx, and the server is still ready afterwards (issue 13). Bounded: 25 examples per operation;
`make fuzz` runs 500 (LLM_DEPLOY_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("LLM_DEPLOY_FUZZ_EXAMPLES", "25"))


def test_no_server_errors_from_the_real_engine(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.label == "POST /v1/completions" for op in operations)
    for op in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def never_5xx(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, timeout=120)
            assert response.status_code < 500, (case.path, case.body, response.text[:500])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                err = response.json()["error"]
                assert {"message", "type", "param", "code"} <= set(err)

        never_5xx()


def test_still_ready_after_the_fuzz(base_url: str) -> None:
    assert httpx.get(base_url + "/ready", timeout=10).status_code == 200

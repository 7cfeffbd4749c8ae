"""The default policy on the real server: input filtering, moderation, streaming, SIGHUP."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest

from benchmarks.launch import ServerProcess
from tests.integration.conftest import MODEL_NAME

pytestmark = pytest.mark.integration


def test_pii_in_the_prompt_is_redacted_before_the_model(base_url: str) -> None:
    r = httpx.post(
        base_url + "/v1/completions",
        json={
            "model": MODEL_NAME,
            "prompt": "card 4111 1111 1111 1111",
            "max_tokens": 1,
            "echo": True,
        },
        timeout=60,
    )
    assert r.status_code == 200
    text = r.json()["choices"][0]["text"]
    assert text.startswith("card [CARD]") and "4111" not in text


def test_the_live_server_writes_the_audit_trail(server: ServerProcess, base_url: str) -> None:
    """Every redaction of a request leaves one JSON audit line on the server's stderr, with the
    request id, category and detector, and never the matched text."""
    rid = f"audit-{time.time_ns()}"
    r = httpx.post(
        base_url + "/v1/completions",
        json={"model": MODEL_NAME, "prompt": "mail a.b@example.org card 4111 1111 1111 1111",
              "max_tokens": 1},
        headers={"X-Request-Id": rid},
        timeout=60,
    )  # fmt: skip
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline and len(records) < 2:
        time.sleep(0.2)
        lines = server.log_path.read_text(errors="replace").splitlines()
        records = [
            json.loads(json.loads(line)["msg"])
            for line in lines
            if '"llm-deploy.audit"' in line and rid in line
        ]
    assert {(x["category"], x["detector"], x["action"]) for x in records} == {
        ("pii_contact", "pii.email", "redact"),
        ("pii_financial", "pii.payment_card", "redact"),
    }
    assert all(x["direction"] == "input" for x in records)
    assert "4111 1111 1111 1111" not in server.log_path.read_text(errors="replace")  # ids are hex


def test_streamed_output_passes_the_guard_unchanged_when_clean(base_url: str) -> None:
    body = {"model": MODEL_NAME, "prompt": "def main():\n", "max_tokens": 24, "temperature": 0}
    whole = httpx.post(base_url + "/v1/completions", json=body, timeout=60).json()
    with httpx.stream(
        "POST", base_url + "/v1/completions", json={**body, "stream": True}, timeout=60
    ) as r:
        chunks = [
            json.loads(line[6:])["choices"][0]["text"]
            for line in r.iter_lines()
            if line.startswith("data: {") and json.loads(line[6:])["choices"]
        ]
    text = whole["choices"][0]["text"]
    assert "".join(chunks) == text  # same rules, same result, streamed or not
    assert len(chunks) > 1


def test_moderation_on_the_real_server(base_url: str) -> None:
    r = httpx.post(
        base_url + "/v1/moderations",
        json={"input": ["hello", "my ssn is 536-22-8726"]},
        timeout=30,
    )
    res = r.json()["results"]
    assert [x["flagged"] for x in res] == [False, True]
    assert res[1]["categories"]["pii_financial"] is True


def test_sighup_reloads_the_policy_without_dropping_requests(
    server: ServerProcess, base_url: str
) -> None:
    def reloads() -> float:
        text = httpx.get(base_url + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith('llm_deploy_safety_policy_reloads_total{result="ok"}'):
                return float(line.split()[-1])
        return 0.0

    before = reloads()
    body = {"model": MODEL_NAME, "prompt": "import os\n", "max_tokens": 32, "stream": True}
    with httpx.stream("POST", base_url + "/v1/completions", json=body, timeout=60) as r:
        server.signal(signal.SIGHUP)  # mid-stream
        lines = [ln for ln in r.iter_lines() if ln]
    data = [ln.removeprefix("data: ") for ln in lines[:-1] if ln.startswith("data: ")]
    events = [json.loads(x) for x in data]  # parsed, not searched as text:
    assert lines[-1] == "data: [DONE]" and not any("error" in e for e in events)  # "text":"error"
    deadline = time.monotonic() + 10
    while reloads() < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reloads() == before + 1
    assert httpx.get(base_url + "/ready", timeout=10).status_code == 200

"""Graceful shutdown and dead-engine detection on real servers."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from tests.integration.conftest import SERVER_FLAGS

pytestmark = pytest.mark.integration


@pytest.mark.stops_server
def test_sigterm_drains_then_exits(server: ServerProcess) -> None:
    """In-flight requests finish, /ready turns 503, new requests are refused, exit code 0."""
    result: dict[str, httpx.Response] = {}

    def long_request() -> None:
        result["r"] = httpx.post(
            server.base_url + "/v1/completions",
            timeout=120,
            json={"prompt": "x", "max_tokens": 200, "ignore_eos": True},
        )

    t = threading.Thread(target=long_request)
    t.start()
    time.sleep(1.0)
    server.signal(signal.SIGTERM)
    time.sleep(0.3)
    ready = httpx.get(server.base_url + "/ready", timeout=5)
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    refused = httpx.post(server.base_url + "/v1/completions", json={"prompt": "x"}, timeout=5)
    assert refused.status_code == 503
    t.join(120)
    assert result["r"].status_code == 200
    assert result["r"].json()["usage"]["completion_tokens"] == 200
    assert server.wait(60) == 0
    assert "engine shut down" in server.log_path.read_text()


def test_dead_engine_detected(tiny_model: Path, tmp_path: Path) -> None:
    """Killing the engine core makes /ready 503 and the server exit non-zero."""
    port = free_port()
    proc = ServerProcess(
        llm_serve_argv(str(tiny_model), port, *SERVER_FLAGS), port, tmp_path / "dead.log"
    )
    proc.start()
    try:
        assert proc.proc is not None
        children = psutil.Process(proc.proc.pid).children(recursive=True)
        assert children, "engine runs in child processes"
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        statuses = []
        for _ in range(60):
            try:
                statuses.append(httpx.get(proc.base_url + "/ready", timeout=2).status_code)
            except httpx.TransportError:
                break
            time.sleep(0.2)
        assert 200 not in statuses[3:], statuses
        assert proc.wait(60) == 1
        assert "engine died" in proc.log_path.read_text()
    finally:
        proc.stop()

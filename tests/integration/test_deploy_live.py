"""What can be tested of the container without Docker: the image's entrypoint and healthcheck
commands against a real server, and that the dashboard's metrics exist on a live /metrics."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from benchmarks.launch import ServerProcess, free_port
from tests.deploy.dockerfile import stages
from tests.deploy.test_manifests import dashboard_metrics

pytestmark = pytest.mark.integration


def test_dashboard_metrics_exist_on_a_live_server(server: ServerProcess) -> None:
    text = httpx.get(server.base_url + "/metrics", timeout=10).text
    exposed = {re.sub(r"_total$", "", m) for m in re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE)}
    missing = dashboard_metrics() - exposed
    assert not missing, f"dashboard queries metrics the server does not expose: {missing}"


@pytest.mark.slow
def test_cpu_image_entrypoint_and_healthcheck_work_outside_docker(
    tiny_model: Path, tmp_path: Path
) -> None:
    stage = stages()["cpu"]
    port = free_port()
    cmd = [str(tiny_model) if a == "/models/default" else a for a in stage.cmd]
    cmd[cmd.index("--port") + 1] = str(port)
    exe = Path(sys.executable).parent / stage.entrypoint[0]
    env = {k: v for k, v in stage.env.items() if k != "PATH"}
    srv = ServerProcess([str(exe), *cmd], port, tmp_path / "entrypoint.log", "/health", env=env)
    with srv:
        check = [sys.executable if a.startswith("python") else a for a in stage.healthcheck]
        check = [a.replace(":8000/", f":{port}/") for a in check]
        assert subprocess.run(check, timeout=30).returncode == 0
        models = httpx.get(srv.base_url + "/v1/models", timeout=10).json()
        assert models["data"][0]["id"] == str(tiny_model)
        body = {"model": str(tiny_model), "prompt": "Hi", "max_tokens": 4}
        r = httpx.post(srv.base_url + "/v1/completions", json=body, timeout=60)
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] >= 1
        srv.signal(15)
        assert srv.wait(60) == 0
    # and the healthcheck fails once nothing answers
    assert subprocess.run(check, timeout=30).returncode != 0

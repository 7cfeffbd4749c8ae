"""Dockerfile and deploy/: the validators `make lint` runs catch mistakes, and the pieces agree
with each other and with the server (probe paths, ports, drain timing, metric names)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from serve.settings import ServerSettings, from_namespace
from tests.deploy.dockerfile import DOCKERFILE, stages

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / name).read_text())
    return doc


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed (dev extra)"
        return found
    return str(path)


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


# --- the validators reject what they should --------------------------------------------------


def test_kubernetes_validate_rejects_a_typo_and_passes_ours(tmp_path: Path) -> None:
    ours = [str(K8S / f) for f in ("deployment.yaml", "service.yaml", "pdb.yaml", "hpa.yaml")]
    ok = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", *ours])
    assert ok.returncode == 0
    bad = tmp_path / "deployment.yaml"
    bad.write_text(
        (K8S / "deployment.yaml").read_text().replace("periodSeconds: 5", "periodSecond: 5")
    )
    res = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", str(bad)],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "periodSecond" in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("schema", "doc", "old", "new"),
    [
        (
            "servicemonitor.json",
            "kubernetes/servicemonitor.yaml",
            "interval: 15s",
            "intervall: 15s",
        ),
        ("prometheus-config.json", "prometheus/prometheus.yml", "action: keep", "action: keeep"),
        (
            "grafana-dashboard.json",
            "grafana/llm-deploy-dashboard.json",
            '"refId": "A"',
            '"refId": 1',
        ),
    ],
)
def test_json_schemas_pass_ours_and_reject_a_typo(
    tmp_path: Path, schema: str, doc: str, old: str, new: str
) -> None:
    schemafile = ROOT / "deploy" / "schemas" / schema
    good = ROOT / "deploy" / doc
    cmd = [tool("check-jsonschema"), "--schemafile", str(schemafile)]
    assert subprocess.run([*cmd, str(good)], capture_output=True).returncode == 0
    text = good.read_text()
    assert old in text
    bad = tmp_path / good.name
    bad.write_text(text.replace(old, new, 1))
    assert subprocess.run([*cmd, str(bad)], capture_output=True).returncode != 0


def test_hadolint_passes_the_dockerfile_and_catches_root_and_latest(tmp_path: Path) -> None:
    assert subprocess.run([tool("hadolint"), str(DOCKERFILE)]).returncode == 0
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    res = subprocess.run([tool("hadolint"), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0 and "DL3007" in res.stdout


# --- the Dockerfile ------------------------------------------------------------------------


def test_docker_targets_run_llm_serve_as_non_root_on_models() -> None:
    st = stages()
    assert {"cpu", "cuda"} <= set(st)
    assert st["cuda"].base.startswith("${VLLM_IMAGE}")
    assert "vllm/vllm-openai:v0.32.0" in DOCKERFILE.read_text()
    for name in ("cpu", "cuda"):
        s = st[name]
        assert s.user and s.user not in ("root", "0")
        assert s.entrypoint == ["llm-serve"]
        assert s.cmd[0].startswith("/models/")
        assert flag(s.cmd, "--port") == "8000"
        assert any("http://127.0.0.1:8000/health" in part for part in s.healthcheck)
        for key in s.env:
            assert not re.search(r"KEY|TOKEN|SECRET|PASSWORD", key), f"secret baked in: {key}"


def test_docker_cpu_pin_matches_the_cpu_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (pin,) = extras["cpu"]
    assert any(f'"{pin}"' in run for run in stages()["cpu-build"].run)
    (cuda,) = extras["cuda"]
    assert cuda.split("==")[1] in stages()["cuda"].base or "v" + cuda.split("==")[1] in (
        DOCKERFILE.read_text()
    )


# --- the Kubernetes manifests agree with each other and with the server -----------------------


def container() -> dict[str, Any]:
    (c,) = load("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return c


def test_probes_use_the_server_health_and_ready_endpoints() -> None:
    c = container()
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["startupProbe"]["httpGet"]["path"] == "/health"
    (port,) = c["ports"]
    assert port["containerPort"] == int(flag(c["args"], "--port"))
    assert (
        c["resources"]["limits"]["nvidia.com/gpu"] == c["resources"]["requests"]["nvidia.com/gpu"]
    )


def test_termination_grace_covers_the_server_drain() -> None:
    spec = load("deployment.yaml")["spec"]["template"]["spec"]
    args = container()["args"]
    drain = float(flag(args, "--drain-delay"))
    grace = float(flag(args, "--shutdown-grace"))
    assert spec["terminationGracePeriodSeconds"] >= drain + grace + 10
    # readiness must notice the drain within the drain delay
    probe = container()["readinessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] < drain


def test_deployment_args_are_llm_serve_flags() -> None:
    from serve.__main__ import build_parser

    settings = from_namespace(build_parser().parse_args(container()["args"]))
    assert settings.port == 8000 and settings.host == "0.0.0.0"
    assert settings.drain_delay == 10.0 and settings.shutdown_grace == 30.0
    assert settings.api_key_file == "/run/secrets/llm-serve/api-keys"
    assert ServerSettings().drain_delay == 0.0  # the manifest, not the default, sets the drain


def test_selectors_and_ports_line_up() -> None:
    labels = load("deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    svc = load("service.yaml")
    for sel in (
        svc["spec"]["selector"],
        load("pdb.yaml")["spec"]["selector"]["matchLabels"],
        load("deployment.yaml")["spec"]["selector"]["matchLabels"],
    ):
        assert sel.items() <= labels.items()
    port_names = {p["name"] for p in container()["ports"]}
    assert svc["spec"]["ports"][0]["targetPort"] in port_names
    sm = load("servicemonitor.yaml")["spec"]
    assert sm["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"]
    hpa = load("hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"]["name"] == load("deployment.yaml")["metadata"]["name"]
    kust = load("kustomization.yaml")["resources"]
    assert sorted(kust) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_hpa_metric_is_what_the_adapter_exports() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "adapter-rules.yaml").read_text())
    exported = {r["name"]["as"] for r in rules["rules"]["custom"]}
    (metric,) = load("hpa.yaml")["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] in exported


def dashboard_metrics() -> set[str]:
    dash = json.loads((ROOT / "deploy" / "grafana" / "llm-deploy-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    names = set()
    for expr in exprs:
        for name in re.findall(r"\b((?:vllm:|llm_deploy_)[a-z0-9_:]+)", expr):
            names.add(re.sub(r"_(bucket|sum|count|total)$", "", name))
    return names


def test_dashboard_covers_what_the_issue_names() -> None:
    names = dashboard_metrics()
    for needed in (
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:generation_tokens",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "llm_deploy_rejected_requests",
        "llm_deploy_safety_decisions",
    ):
        assert needed in names

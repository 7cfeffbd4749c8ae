"""The AMX-permission plugin is visible to vLLM's plugin loader and works on this CPU."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from serve.amx import register, request_amx_permission


def test_registered_as_vllm_general_plugin() -> None:
    eps = {ep.name: ep.value for ep in entry_points(group="vllm.general_plugins")}
    assert eps.get("llm_deploy_amx") == "serve.amx:register"


def test_permission_matches_cpu() -> None:
    has_amx = "amx_tile" in Path("/proc/cpuinfo").read_text()
    assert request_amx_permission() is has_amx
    register()  # idempotent, never raises


def test_refused_permission_is_detected(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch

    from serve import amx

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_init_amx", lambda: False)
    assert amx.amx_advertised_but_refused()
    monkeypatch.setattr(torch.cpu, "_init_amx", lambda: True)
    assert not amx.amx_advertised_but_refused()
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not amx.amx_advertised_but_refused()

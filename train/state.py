"""What a training run carries from step to step, and how it is saved and resumed.

`TrainState` holds the model (and its DDP/FSDP/compiled wrapper), the optimizer, schedule,
loss scaler, data position, objective RNG and the run's history; `save` and `load` are the
resumable checkpoint (OUT.run/checkpoints/last). Under FSDP, gathering full tensors is a
collective, so every rank calls `save` and `full_model_state`; rank 0 writes.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from train import checkpoint as ckpt
from train.config import TrainConfig
from train.data import Batches
from train.errors import TrainError


@dataclass
class Env:
    """Where this process runs: its rank among `world` processes, its device, its autocast."""

    rank: int
    world: int
    device: torch.device
    amp: torch.dtype | None = None

    @classmethod
    def create(cls) -> Env:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank = dist.get_rank() if world > 1 else 0
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            return cls(rank, world, torch.device("cuda", local))
        return cls(rank, world, torch.device("cpu"))

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def fsdp(self, cfg: TrainConfig) -> bool:
        return self.world > 1 and cfg.parallel == "fsdp"


@dataclass
class TrainState:
    model: torch.nn.Module  # the bare LlamaForCausalLM
    train_model: torch.nn.Module  # what steps run: the model, wrapped by DDP/FSDP/compile
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    batches: Batches
    obj_gen: torch.Generator
    step: int = 0
    best_val: float = math.inf
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path, cfg: TrainConfig, env: Env) -> None:
        model_state = self.full_model_state(cfg, env)
        optim_state = self._optim_state(cfg, env)
        if env.rank == 0:
            ckpt.save_state(
                path,
                {
                    "config": asdict(cfg),
                    "model": model_state,
                    "optimizer": optim_state,
                    "scheduler": self.sched.state_dict(),
                    "scaler": self.scaler.state_dict(),
                    "batches": self.batches.state_dict(),
                    "obj_gen": self.obj_gen.get_state(),
                    "rng": ckpt.rng_state(),
                    "step": self.step,
                    "best_val": self.best_val,
                    "metrics": self.metrics,
                },
            )
        env.barrier()

    def load(self, path: Path, cfg: TrainConfig, env: Env) -> None:
        st = ckpt.load_state(path)
        if st["config"] != asdict(cfg):
            raise TrainError(
                "the checkpoint was made with another configuration; resume with the same flags"
            )
        self._load_weights(st, cfg, env)
        self.sched.load_state_dict(st["scheduler"])
        self.scaler.load_state_dict(st["scaler"])
        self.batches.load_state_dict(st["batches"])
        self.obj_gen.set_state(st["obj_gen"])
        ckpt.set_rng_state(st["rng"])
        self.step, self.best_val, self.metrics = st["step"], st["best_val"], st["metrics"]

    def full_model_state(self, cfg: TrainConfig, env: Env) -> dict[str, torch.Tensor]:
        if env.fsdp(cfg):
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
            )

            return get_model_state_dict(  # type: ignore[return-value]
                self.train_model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
            )
        return {k: v.detach().cpu() for k, v in _unwrap(self.train_model).state_dict().items()}

    def _optim_state(self, cfg: TrainConfig, env: Env) -> dict[str, Any]:
        if env.fsdp(cfg):
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return dict(get_optimizer_state_dict(self.train_model, self.opt, options=opts))
        return self.opt.state_dict()

    def _load_weights(self, st: dict[str, Any], cfg: TrainConfig, env: Env) -> None:
        if env.fsdp(cfg):
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True)
            set_model_state_dict(self.train_model, st["model"], options=opts)
            set_optimizer_state_dict(self.train_model, self.opt, st["optimizer"], options=opts)
            return
        _unwrap(self.train_model).load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(model, "_orig_mod", model)  # torch.compile
    return getattr(inner, "module", inner)  # DDP

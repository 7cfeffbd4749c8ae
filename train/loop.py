"""fit(): tokenizer -> token cache -> Llama -> AdamW + warmup/cosine -> checkpoints -> HF export.

Layout: OUT/ is the final Hugging Face checkpoint (config.json, model.safetensors, tokenizer,
generation_config.json, metrics.jsonl, loss.png, train_summary.json); OUT.run/ holds what a
resumed run needs (tokenizer, token cache, checkpoints/last, checkpoints/best).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from train import checkpoint as ckpt
from train.config import TrainConfig
from train.data import Batches, eval_windows, load_corpus, split, tokenize_to_memmap
from train.errors import TrainError
from train.init_checkpoint import LlamaShape, init_weights, llama_config
from train.objectives import build, loss_fn
from train.tokenizer import SENTINELS, TokenizerError, save_tokenizer, train_tokenizer


@dataclass
class FitResult:
    out: Path
    params: int
    steps: int
    seconds: float
    val_loss: float
    val_ppl: float
    unigram_ppl: float
    tokens_seen: int
    skipped_files: int = 0


# ---- environment ----------------------------------------------------------------------------
def _dist() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _device() -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype; None means plain fp32."""
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise TrainError("fp16 training needs CUDA (loss scaling); use bf16 or fp32 on CPU")
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise TrainError(f"unknown precision {precision!r} (auto, fp32, bf16, fp16)")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # bf16 on a CPU without native bf16 instructions is emulated and slower than fp32
    return torch.bfloat16 if _cpu_has_bf16() else None


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


# ---- optimisation -----------------------------------------------------------------------------
def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on matrices; none on norms, biases and embeddings."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if p.dim() < 2 or "embed" in name or "lm_head" in name or "norm" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def lr_lambda(cfg: TrainConfig):  # type: ignore[no-untyped-def]
    """Linear warm-up to 1, then cosine decay to `min_lr_ratio` at the last step."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        span = max(1, cfg.steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


# ---- pieces of a run ----------------------------------------------------------------------------
def _check_out(out: Path, overwrite: bool, resume: bool) -> None:
    if resume or not out.exists():
        return
    if not out.is_dir():
        raise TrainError(f"{out} exists and is not a directory")
    if any(out.iterdir()) and not overwrite:
        what = "another model" if (out / "config.json").exists() else "files"
        raise TrainError(f"{out} already holds {what}; pass --overwrite to replace it")


def _tokenizer(
    cfg: TrainConfig, run: Path, docs: list[str], rank: int, world: int
) -> PreTrainedTokenizerFast:
    tok_dir = run / "tokenizer"
    if rank == 0 and not (tok_dir / "tokenizer.json").exists():
        try:
            tok = train_tokenizer(docs, cfg.vocab_size)
        except TokenizerError as exc:
            raise TrainError(str(exc)) from None
        with ckpt.atomic_output(tok_dir) as tmp:
            save_tokenizer(tok, tmp, cfg.seq_len)
    _barrier(world)
    hf: PreTrainedTokenizerFast = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
    return hf


def unigram_ppl(train_tokens: np.ndarray, val_tokens: np.ndarray, vocab: int) -> float:
    """Perplexity of an add-one unigram model fitted on the train split, on the val split."""
    counts = np.bincount(np.asarray(train_tokens), minlength=vocab).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return float(np.exp(-logp[np.asarray(val_tokens)].mean()))


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    tokens: np.ndarray,
    seq_len: int,
    limit: int,
    device: torch.device,
    amp: torch.dtype | None,
) -> float:
    """Mean next-token loss over deterministic validation windows."""
    model.eval()
    total, n = 0.0, 0
    for w in eval_windows(tokens, seq_len, limit):
        w = w.to(device)
        with _autocast(device, amp):
            logits = model(input_ids=w[:, :-1]).logits
        total += torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), w[:, 1:].flatten(), reduction="sum"
        ).item()
        n += w.shape[1] - 1
    model.train()
    return total / max(1, n)


def _autocast(
    device: torch.device, amp: torch.dtype | None
) -> contextlib.AbstractContextManager[Any]:
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    inner = getattr(model, "_orig_mod", model)  # torch.compile
    return getattr(inner, "module", inner)  # DDP


def _full_state(model: torch.nn.Module, parallel: str, world: int) -> dict[str, torch.Tensor]:
    if world > 1 and parallel == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(  # type: ignore[return-value]
            model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    return {k: v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}


def _optim_state(
    model: torch.nn.Module, opt: torch.optim.Optimizer, parallel: str, world: int
) -> dict[str, Any]:
    """Optimizer state, gathered to full tensors under FSDP (a collective: call on all ranks)."""
    if world > 1 and parallel == "fsdp":
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return dict(get_optimizer_state_dict(model, opt, options=opts))
    return opt.state_dict()


def _load_states(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    st: dict[str, Any],
    parallel: str,
    world: int,
) -> None:
    if world > 1 and parallel == "fsdp":
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        opts = StateDictOptions(full_state_dict=True)
        set_model_state_dict(model, st["model"], options=opts)
        set_optimizer_state_dict(model, opt, st["optimizer"], options=opts)
        return
    _unwrap(model).load_state_dict(st["model"])
    opt.load_state_dict(st["optimizer"])


def export_hf(
    model: torch.nn.Module,
    cfg: TrainConfig,
    tok: PreTrainedTokenizerFast,
    final: Path,
    state: dict[str, torch.Tensor],
    extra: dict[str, Any],
) -> None:
    """A plain HF directory (bf16 safetensors), written atomically."""
    from transformers import GenerationConfig

    hf_cfg = llama_config(_shape(cfg), tok)
    with torch.device("meta"):
        shell = LlamaForCausalLM(hf_cfg)
    shell = shell.to_empty(device="cpu")
    shell.load_state_dict(state, strict=True)
    shell.tie_weights()
    shell = shell.to(torch.bfloat16)  # type: ignore[arg-type]
    with ckpt.atomic_output(final) as tmp:
        shell.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        GenerationConfig(
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, max_new_tokens=256
        ).save_pretrained(str(tmp))
        for name, obj in extra.items():
            (tmp / name).write_text(json.dumps(obj, indent=2) if not isinstance(obj, str) else obj)


def _shape(cfg: TrainConfig) -> LlamaShape:
    return LlamaShape(
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        num_kv_heads=cfg.num_kv_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.seq_len,
    )


def plot_losses(metrics: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    val = [(m["step"], m["val_loss"]) for m in metrics if "val_loss" in m]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train", lw=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the loop ----------------------------------------------------------------------------------
def fit(
    cfg: TrainConfig,
    out: Path,
    overwrite: bool = False,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> FitResult:
    """Train per `cfg` and export to `out`. `stop_after` ends early (tests of resume)."""
    t_start = time.time()
    rank, world = _dist()
    device = _device()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = out.resolve()
    run = out.with_name(out.name + ".run")
    if rank == 0:
        _check_out(out, overwrite, resume)
        if overwrite and not resume and run.exists():
            shutil.rmtree(run)
    if resume and not (run / "checkpoints" / "last" / ckpt.STATE).exists():
        raise TrainError(f"nothing to resume: no checkpoint in {run / 'checkpoints' / 'last'}")
    _barrier(world)

    torch.manual_seed(cfg.seed)
    corpus = load_corpus(cfg.data, cfg.max_corpus_files)
    train_docs, val_docs = split(corpus.documents, cfg.val_fraction, cfg.seed)
    tok = _tokenizer(cfg, run, train_docs, rank, world)
    eos = tok.eos_token_id
    assert eos is not None

    def enc(batch: list[str]) -> list[list[int]]:
        return tok(batch, add_special_tokens=False)["input_ids"]  # type: ignore[no-any-return]

    if rank == 0:
        tokenize_to_memmap(train_docs, enc, eos, run / "tokens" / "train.bin")
        tokenize_to_memmap(val_docs, enc, eos, run / "tokens" / "val.bin")
    _barrier(world)
    train_tok = tokenize_to_memmap([], enc, eos, run / "tokens" / "train.bin")
    val_tok = tokenize_to_memmap([], enc, eos, run / "tokens" / "val.bin")
    if len(val_tok) < cfg.seq_len + 1:
        raise TrainError(
            f"validation split has {len(val_tok)} tokens, fewer than one sequence "
            f"of {cfg.seq_len}; raise --val-fraction or add text"
        )

    model = LlamaForCausalLM(llama_config(_shape(cfg), tok))
    init_weights(model, cfg.num_layers)
    n_params = sum(p.numel() for p in model.parameters())
    model.to(device)  # type: ignore[arg-type]
    if cfg.grad_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    train_model: torch.nn.Module = model
    if world > 1 and cfg.parallel == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
    elif world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        train_model = torch.compile(train_model)  # type: ignore[assignment]

    amp = autocast_dtype(cfg.precision, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    opt = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        fused=device.type == "cuda",
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    batches = Batches(train_tok, cfg.seq_len, cfg.batch_size, cfg.seed, rank, world, cfg.grad_accum)
    obj_gen = torch.Generator().manual_seed(cfg.seed + 1)
    sentinels: list[int] | None = None
    if cfg.objective == "span":
        sentinels = [int(tok.convert_tokens_to_ids(s)) for s in SENTINELS]  # type: ignore[arg-type]

    step, best_val, metrics = 0, math.inf, []
    last_dir, best_dir = run / "checkpoints" / "last", run / "checkpoints" / "best"
    if resume:
        st = ckpt.load_state(last_dir)
        if st["config"] != asdict(cfg):
            raise TrainError(
                "the checkpoint was made with another configuration; resume with the same flags"
            )
        _load_states(train_model, opt, st, cfg.parallel, world)
        sched.load_state_dict(st["scheduler"])
        scaler.load_state_dict(st["scaler"])
        batches.load_state_dict(st["batches"])
        obj_gen.set_state(st["obj_gen"])
        ckpt.set_rng_state(st["rng"])
        step, best_val, metrics = st["step"], st["best_val"], st["metrics"]

    def save_last() -> None:
        # gathering is a collective under FSDP: every rank gathers, rank 0 writes
        model_state = _full_state(train_model, cfg.parallel, world)
        optim_state = _optim_state(train_model, opt, cfg.parallel, world)
        if rank == 0:
            ckpt.save_state(
                last_dir,
                {
                    "config": asdict(cfg),
                    "model": model_state,
                    "optimizer": optim_state,
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(),
                    "batches": batches.state_dict(),
                    "obj_gen": obj_gen.get_state(),
                    "rng": ckpt.rng_state(),
                    "step": step,
                    "best_val": best_val,
                    "metrics": metrics,
                },
            )
        _barrier(world)

    from tqdm import tqdm

    bar = tqdm(
        total=cfg.steps, initial=step, disable=quiet or rank != 0, unit="step", dynamic_ncols=True
    )
    tokens_per_step = cfg.tokens_per_step(world)
    t_last, stopped_early = time.time(), False
    train_model.train()
    while step < cfg.steps:
        opt.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), device=device)
        for micro in range(cfg.grad_accum):
            batch = build(cfg.objective, batches.next(), obj_gen, sentinels)
            sync = micro == cfg.grad_accum - 1 or world == 1 or cfg.parallel == "fsdp"
            ctx = contextlib.nullcontext() if sync else train_model.no_sync()  # type: ignore[operator]
            with ctx:
                with _autocast(device, amp):
                    b = type(batch)(
                        batch.input_ids.to(device),
                        batch.labels.to(device),
                        None if batch.attention_mask is None else batch.attention_mask.to(device),
                    )
                    loss = loss_fn(train_model, b) / cfg.grad_accum
                scaler.scale(loss).backward()
            loss_sum += loss.detach()
        if cfg.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(train_model.parameters(), cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        sched.step()
        step += 1
        if world > 1:
            dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
        now = time.time()
        rec = {
            "step": step,
            "loss": round(loss_sum.item(), 6),
            "lr": sched.get_last_lr()[0],
            "tokens_per_s": round(tokens_per_step / max(1e-9, now - t_last), 1),
            "elapsed_s": round(now - t_start, 2),
        }
        t_last = now
        metrics.append(rec)
        bar.set_postfix(
            loss=f"{rec['loss']:.3f}", lr=f"{rec['lr']:.2e}", tok_s=f"{rec['tokens_per_s']:.0f}"
        )
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val = evaluate(model, val_tok, cfg.seq_len, cfg.eval_batches, device, amp)
            metrics.append(
                {"step": step, "val_loss": round(val, 6), "val_ppl": round(math.exp(val), 3)}
            )
            if val < best_val:
                best_val = val
                state = _full_state(train_model, cfg.parallel, world)  # collective under FSDP
                if rank == 0:
                    export_hf(model, cfg, tok, best_dir, state, {})
        if step % cfg.save_every == 0:
            save_last()
        if stop_after is not None and step >= stop_after:
            save_last()
            bar.close()
            return FitResult(
                out,
                n_params,
                step,
                time.time() - t_start,
                best_val,
                math.exp(best_val),
                math.nan,
                step * tokens_per_step,
            )
        if cfg.time_limit and now - t_start > cfg.time_limit:
            stopped_early = True
            break
    bar.close()
    save_last()

    val = evaluate(model, val_tok, cfg.seq_len, cfg.eval_batches, device, amp)
    uni = unigram_ppl(train_tok, val_tok, len(tok))
    seconds = time.time() - t_start
    summary = {
        "parameters": n_params,
        "steps": step,
        "stopped_by_time_limit": stopped_early,
        "seconds": round(seconds, 1),
        "tokens_seen": step * tokens_per_step,
        "val_loss": round(val, 4),
        "val_ppl": round(math.exp(val), 3),
        "unigram_val_ppl": round(uni, 3),
        "corpus": corpus.source,
        "documents": {"train": len(train_docs), "val": len(val_docs)},
        "tokens": {"train": int(len(train_tok)), "val": int(len(val_tok))},
        "skipped_files": corpus.skipped,
        "config": asdict(cfg),
    }
    final_state = _full_state(train_model, cfg.parallel, world)  # collective under FSDP
    if rank == 0:
        plot_path = run / "loss.png"
        plot_losses(metrics, plot_path)
        export_hf(
            model,
            cfg,
            tok,
            out,
            final_state,
            {
                "metrics.jsonl": "\n".join(json.dumps(m) for m in metrics) + "\n",
                "train_summary.json": summary,
            },
        )
        shutil.copy(plot_path, out / "loss.png")
    _barrier(world)
    return FitResult(
        out,
        n_params,
        step,
        seconds,
        val,
        math.exp(val),
        uni,
        step * tokens_per_step,
        corpus.skipped,
    )

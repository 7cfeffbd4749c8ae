"""fit(): tokenizer -> token cache -> Llama -> AdamW + warmup/cosine -> checkpoints -> HF export.

Layout: OUT/ is the final Hugging Face checkpoint (config.json, model.safetensors, tokenizer,
generation_config.json, metrics.jsonl, loss.png, train_summary.json); OUT.run/ holds what a
resumed run needs (tokenizer, token cache, checkpoints/last, checkpoints/best).
"""

from __future__ import annotations

import contextlib
import json
import math
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
from train.data import Batches, Corpus, eval_windows, load_corpus, split, tokenize_to_memmap
from train.errors import TrainError
from train.export import export_hf, plot_losses, shape_of
from train.init_checkpoint import init_weights, llama_config
from train.objectives import Batch, build, loss_fn
from train.state import Env, TrainState
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


def _tokenizer(cfg: TrainConfig, run: Path, docs: list[str], env: Env) -> PreTrainedTokenizerFast:
    tok_dir = run / "tokenizer"
    if env.rank == 0 and not (tok_dir / "tokenizer.json").exists():
        try:
            tok = train_tokenizer(docs, cfg.vocab_size)
        except TokenizerError as exc:
            raise TrainError(str(exc)) from None
        with ckpt.atomic_output(tok_dir) as tmp:
            save_tokenizer(tok, tmp, cfg.seq_len)
    env.barrier()
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


# ---- the run ------------------------------------------------------------------------------------
@dataclass
class Data:
    """The tokenizer, the token caches of both splits, and where they came from."""

    tok: PreTrainedTokenizerFast
    train: np.ndarray
    val: np.ndarray
    corpus: Corpus
    documents: dict[str, int]
    sentinels: list[int] | None  # span corruption's sentinel ids


def prepare_run_dir(out: Path, overwrite: bool, resume: bool, env: Env) -> Path:
    """OUT.run/, emptied for a fresh --overwrite run; checks OUT may be written."""
    run = out.with_name(out.name + ".run")
    if env.rank == 0:
        _check_out(out, overwrite, resume)
        if overwrite and not resume and run.exists():
            shutil.rmtree(run)
    if resume and not (run / "checkpoints" / "last" / ckpt.STATE).exists():
        raise TrainError(f"nothing to resume: no checkpoint in {run / 'checkpoints' / 'last'}")
    env.barrier()
    return run


def prepare_data(cfg: TrainConfig, run: Path, env: Env) -> Data:
    """Corpus -> split -> tokenizer -> token caches (written once, by rank 0)."""
    corpus = load_corpus(cfg.data, cfg.max_corpus_files)
    train_docs, val_docs = split(corpus.documents, cfg.val_fraction, cfg.seed)
    tok = _tokenizer(cfg, run, train_docs, env)
    eos = tok.eos_token_id
    assert eos is not None

    def enc(batch: list[str]) -> list[list[int]]:
        return tok(batch, add_special_tokens=False)["input_ids"]  # type: ignore[no-any-return]

    caches = {"train": train_docs, "val": val_docs}
    if env.rank == 0:
        for name, docs in caches.items():
            tokenize_to_memmap(docs, enc, eos, run / "tokens" / f"{name}.bin")
    env.barrier()
    train_tok, val_tok = (tokenize_to_memmap([], enc, eos, run / "tokens" / f"{n}.bin")
                          for n in caches)  # fmt: skip
    if len(val_tok) < cfg.seq_len + 1:
        raise TrainError(
            f"validation split has {len(val_tok)} tokens, fewer than one sequence "
            f"of {cfg.seq_len}; raise --val-fraction or add text"
        )
    sentinels = None
    if cfg.objective == "span":
        sentinels = [int(tok.convert_tokens_to_ids(s)) for s in SENTINELS]  # type: ignore[arg-type]
    counts = {"train": len(train_docs), "val": len(val_docs)}
    return Data(tok, train_tok, val_tok, corpus, counts, sentinels)


def build_model(cfg: TrainConfig, tok: PreTrainedTokenizerFast, env: Env) -> LlamaForCausalLM:
    model = LlamaForCausalLM(llama_config(shape_of(cfg), tok))
    init_weights(model, cfg.model.num_layers)
    model.to(env.device)  # type: ignore[arg-type]
    if cfg.grad_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model


def build_state(cfg: TrainConfig, model: LlamaForCausalLM, data: Data, env: Env) -> TrainState:
    """Wrap the model for the run's parallelism and build its optimizer, schedule and data."""
    train_model: torch.nn.Module = model
    if env.fsdp(cfg):
        from torch.distributed.fsdp import fully_shard

        for layer in model.model.layers:
            fully_shard(layer)
        fully_shard(model)
    elif env.world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == "cuda" else None
        )
    if cfg.compile:
        train_model = torch.compile(train_model)  # type: ignore[assignment]
    opt = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        fused=env.device.type == "cuda",
    )
    return TrainState(
        model=model,
        train_model=train_model,
        opt=opt,
        sched=torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg)),
        scaler=torch.amp.GradScaler("cuda", enabled=env.amp == torch.float16),
        batches=Batches(
            data.train, cfg.seq_len, cfg.batch_size, cfg.seed, env.rank, env.world, cfg.grad_accum
        ),
        obj_gen=torch.Generator().manual_seed(cfg.seed + 1),
    )


def train_step(cfg: TrainConfig, st: TrainState, data: Data, env: Env) -> float:
    """One optimizer step over `grad_accum` micro-batches; the loss, averaged over ranks."""
    st.opt.zero_grad(set_to_none=True)
    loss_sum = torch.zeros((), device=env.device)
    for micro in range(cfg.grad_accum):
        batch = build(cfg.objective, st.batches.next(), st.obj_gen, data.sentinels)
        sync = micro == cfg.grad_accum - 1 or env.world == 1 or cfg.parallel == "fsdp"
        ctx = contextlib.nullcontext() if sync else st.train_model.no_sync()  # type: ignore[operator]
        with ctx:
            with _autocast(env.device, env.amp):
                loss = loss_fn(st.train_model, _to(batch, env.device)) / cfg.grad_accum
            st.scaler.scale(loss).backward()
        loss_sum += loss.detach()
    if cfg.grad_clip > 0:
        st.scaler.unscale_(st.opt)
        torch.nn.utils.clip_grad_norm_(st.train_model.parameters(), cfg.grad_clip)
    st.scaler.step(st.opt)
    st.scaler.update()
    st.sched.step()
    st.step += 1
    if env.world > 1:
        dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
    return loss_sum.item()


def _to(batch: Batch, device: torch.device) -> Batch:
    mask = None if batch.attention_mask is None else batch.attention_mask.to(device)
    return Batch(batch.input_ids.to(device), batch.labels.to(device), mask)


def validate(cfg: TrainConfig, st: TrainState, data: Data, env: Env, best_dir: Path) -> None:
    """Validation loss into the history; a new best is exported to `best_dir`."""
    val = evaluate(st.model, data.val, cfg.seq_len, cfg.eval_batches, env.device, env.amp)
    st.metrics.append(
        {"step": st.step, "val_loss": round(val, 6), "val_ppl": round(math.exp(val), 3)}
    )
    if val < st.best_val:
        st.best_val = val
        state = st.full_model_state(cfg, env)  # a collective under FSDP
        if env.rank == 0:
            export_hf(cfg, data.tok, best_dir, state, {})


def train(cfg: TrainConfig, st: TrainState, data: Data, env: Env, run: Path, until: Until) -> str:
    """Steps until cfg.steps, the time limit or `until.stop_after`; returns which ended it."""
    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=st.step, disable=until.quiet or env.rank != 0,
               unit="step", dynamic_ncols=True)  # fmt: skip
    tokens_per_step, t_last = cfg.tokens_per_step(env.world), time.time()
    st.train_model.train()
    with bar:
        while st.step < cfg.steps:
            loss = train_step(cfg, st, data, env)
            now = time.time()
            rec = {"step": st.step, "loss": round(loss, 6), "lr": st.sched.get_last_lr()[0],
                   "tokens_per_s": round(tokens_per_step / max(1e-9, now - t_last), 1),
                   "elapsed_s": round(now - until.t_start, 2)}  # fmt: skip
            st.metrics.append(rec)
            t_last = now
            bar.set_postfix(loss=f"{loss:.3f}", lr=f"{rec['lr']:.2e}",
                            tok_s=f"{rec['tokens_per_s']:.0f}")  # fmt: skip
            bar.update(1)
            if st.step % cfg.eval_every == 0 or st.step == cfg.steps:
                validate(cfg, st, data, env, run / "checkpoints" / "best")
            if st.step % cfg.save_every == 0:
                st.save(run / "checkpoints" / "last", cfg, env)
            if until.stop_after is not None and st.step >= until.stop_after:
                return "stop_after"
            if cfg.time_limit and now - until.t_start > cfg.time_limit:
                return "time_limit"
    return "steps"


@dataclass
class Until:
    """When a run stops besides its step count, and whether it shows progress."""

    t_start: float
    stop_after: int | None = None
    quiet: bool = False


def fit(
    cfg: TrainConfig,
    out: Path,
    overwrite: bool = False,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> FitResult:
    """Train per `cfg` and export to `out`. `stop_after` ends early (tests of resume)."""
    until = Until(time.time(), stop_after, quiet)
    env = Env.create()
    env.amp = autocast_dtype(cfg.precision, env.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = out.resolve()
    run = prepare_run_dir(out, overwrite, resume, env)
    torch.manual_seed(cfg.seed)
    data = prepare_data(cfg, run, env)
    st = build_state(cfg, build_model(cfg, data.tok, env), data, env)
    if resume:
        st.load(run / "checkpoints" / "last", cfg, env)
    ended = train(cfg, st, data, env, run, until)
    st.save(run / "checkpoints" / "last", cfg, env)
    if ended == "stop_after":  # no export: the run is to be resumed
        seconds, tokens = time.time() - until.t_start, st.step * cfg.tokens_per_step(env.world)
        best = st.best_val
        return FitResult(out, _params(st), st.step, seconds, best, math.exp(best), math.nan, tokens)
    return finish(cfg, st, data, env, out, run, until, ended)


def _params(st: TrainState) -> int:
    return sum(p.numel() for p in st.model.parameters())


def finish(
    cfg: TrainConfig,
    st: TrainState,
    data: Data,
    env: Env,
    out: Path,
    run: Path,
    until: Until,
    ended: str,
) -> FitResult:
    """Final validation, the summary, and the exported checkpoint with its history and plot."""
    val = evaluate(st.model, data.val, cfg.seq_len, cfg.eval_batches, env.device, env.amp)
    uni = unigram_ppl(data.train, data.val, len(data.tok))
    seconds = time.time() - until.t_start
    tokens_seen = st.step * cfg.tokens_per_step(env.world)
    summary = {
        "parameters": _params(st),
        "steps": st.step,
        "stopped_by_time_limit": ended == "time_limit",
        "seconds": round(seconds, 1),
        "tokens_seen": tokens_seen,
        "val_loss": round(val, 4),
        "val_ppl": round(math.exp(val), 3),
        "unigram_val_ppl": round(uni, 3),
        "corpus": data.corpus.source,
        "documents": data.documents,
        "tokens": {"train": int(len(data.train)), "val": int(len(data.val))},
        "skipped_files": data.corpus.skipped,
        "config": asdict(cfg),
    }
    final_state = st.full_model_state(cfg, env)  # a collective under FSDP
    if env.rank == 0:
        plot_losses(st.metrics, run / "loss.png")
        history = "\n".join(json.dumps(m) for m in st.metrics) + "\n"
        export_hf(cfg, data.tok, out, final_state,
                  {"metrics.jsonl": history, "train_summary.json": summary})  # fmt: skip
        shutil.copy(run / "loss.png", out / "loss.png")
    env.barrier()
    return FitResult(out, _params(st), st.step, seconds, val, math.exp(val), uni, tokens_seen,
                     data.corpus.skipped)  # fmt: skip

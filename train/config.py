"""Training configuration: one dataclass, every field with a default and a doc line (its --help).

Presets are plain functions returning a TrainConfig; the CLI starts from a preset and applies
flags on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from train.shape import LlamaShape


@dataclass
class TrainConfig:
    """Everything `llm-train fit` needs."""

    # data
    data: list[str] = field(default_factory=list)
    """Text files, directories of them, or JSONL files with a 'text' field (default: the
    interpreter's standard-library sources plus pydoc topics, offline)."""
    val_fraction: float = 0.02
    """Share of documents held out for validation."""
    max_corpus_files: int = 0
    """Use at most this many files of the default corpus (0 = all)."""
    # tokenizer
    vocab_size: int = 4096
    """BPE vocabulary size (bytes + specials + merges)."""
    # model (Llama: RMSNorm, RoPE, SwiGLU, GQA); its context length is seq_len below
    model: LlamaShape = field(default_factory=lambda: LlamaShape(hidden_size=256, num_layers=4))
    """Architecture."""
    seq_len: int = 256
    """Training context length (also the exported max_position_embeddings)."""
    # objective
    objective: str = "causal"
    """causal | prefix | span: causal LM, prefix LM (bidirectional prefix, loss on the suffix),
    or span corruption in decoder-only form (loss on the restored spans)."""
    # optimisation
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 16
    """Sequences per micro-batch per process."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    lr: float = 3e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Cosine decay floor as a fraction of the peak."""
    warmup_steps: int = 50
    """Linear warm-up steps."""
    weight_decay: float = 0.1
    """AdamW decay (not applied to norms, biases or embeddings)."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.95
    """AdamW beta2."""
    grad_clip: float = 1.0
    """Clip gradients to this global norm (0 = off)."""
    precision: str = "auto"
    """auto | fp32 | bf16 | fp16: autocast dtype; auto = bf16 where the hardware has it, fp16 has
    loss scaling and needs CUDA."""
    grad_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory."""
    compile: bool = False
    """torch.compile the model."""
    seed: int = 0
    """Seed for weights, data order and sampling."""
    # distributed
    parallel: str = "ddp"
    """ddp | fsdp, used when launched under torchrun with more than one process."""
    # checkpoints and logs
    eval_every: int = 100
    """Validate every N steps (and keep the best checkpoint)."""
    eval_batches: int = 20
    """Validation batches per evaluation."""
    save_every: int = 200
    """Write a resumable checkpoint every N steps."""
    time_limit: float = 0.0
    """Stop cleanly after this many seconds (0 = no limit); the run is exported as usual."""
    threads: int = 0
    """torch intra-op threads (0 = torch's default)."""

    def tokens_per_step(self, world_size: int = 1) -> int:
        return self.batch_size * self.grad_accum * self.seq_len * world_size


def tiny() -> TrainConfig:
    """Seconds on a laptop: tests and smoke runs."""
    return TrainConfig(
        model=LlamaShape(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1),
        vocab_size=512,
        seq_len=64,
        steps=20,
        batch_size=4,
        warmup_steps=2,
        eval_every=10,
        eval_batches=2,
        save_every=10,
        max_corpus_files=20,
        lr=3e-3,
    )


def default() -> TrainConfig:
    """The embedded default model: 4.0M parameters, about 7.5 minutes on 2 CPU cores.

    Sized so that `make serve` on a fresh 2-core machine trains it in under 10 minutes,
    tokenizer and token cache included; the time limit is a backstop on slower machines.
    """
    return TrainConfig(
        model=LlamaShape(hidden_size=256, num_layers=4, num_heads=4, num_kv_heads=2),
        vocab_size=4096,
        seq_len=256,
        steps=400,
        batch_size=16,
        warmup_steps=30,
        eval_every=100,
        eval_batches=10,
        save_every=200,
        lr=3e-3,
        max_corpus_files=400,
        time_limit=540,
    )


def gpt_125m() -> TrainConfig:
    """~125M parameters (GPT-3 Small shape); for a GPU."""
    return TrainConfig(
        model=LlamaShape(hidden_size=768, num_layers=12, num_heads=12, num_kv_heads=4),
        vocab_size=32000,
        seq_len=1024,
        steps=20000,
        batch_size=32,
        warmup_steps=1000,
        lr=6e-4,
        eval_every=500,
        save_every=1000,
    )


def gpt_350m() -> TrainConfig:
    """~350M parameters (GPT-3 Medium shape); for a GPU."""
    return TrainConfig(
        model=LlamaShape(hidden_size=1024, num_layers=24, num_heads=16, num_kv_heads=4),
        vocab_size=32000,
        seq_len=1024,
        steps=40000,
        batch_size=32,
        warmup_steps=2000,
        lr=3e-4,
        eval_every=1000,
        save_every=2000,
        grad_checkpointing=True,
    )


def gpt_1b() -> TrainConfig:
    """~1B parameters; for several GPUs with FSDP."""
    return TrainConfig(
        model=LlamaShape(
            hidden_size=2048, num_layers=16, num_heads=32, num_kv_heads=8, intermediate_size=5632
        ),
        vocab_size=32000,
        seq_len=2048,
        steps=60000,
        batch_size=8,
        grad_accum=4,
        warmup_steps=2000,
        lr=3e-4,
        eval_every=1000,
        save_every=2000,
        grad_checkpointing=True,
        parallel="fsdp",
    )


PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "tiny": tiny,
    "default": default,
    "125m": gpt_125m,
    "350m": gpt_350m,
    "1b": gpt_1b,
}

"""Build a randomly initialised Llama with transformers' own classes and save it as a HF checkpoint.

Used by tests (tiny models) and benchmarks (the ~80M serving benchmark model), where the weights'
values do not matter but the shapes, the tokenizer and the file format must be exactly what vLLM
loads.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from train.shape import LlamaShape

__all__ = ["LlamaShape", "init_weights", "llama_config", "make_checkpoint"]


def llama_config(shape: LlamaShape, tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
    """A LlamaConfig whose vocabulary and special ids match `tokenizer`."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.ffn(),
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        max_position_embeddings=shape.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": shape.rope_theta},
        rms_norm_eps=1e-5,
        tie_word_embeddings=shape.tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="bfloat16",
    )


def init_weights(model: LlamaForCausalLM, num_layers: int, std: float = 0.02) -> None:
    """GPT-2/Llama initialisation: normal(0, std), residual projections scaled by 1/sqrt(2L)."""
    resid_std = std / (2 * num_layers) ** 0.5
    for name, p in model.named_parameters():
        if p.dim() < 2:
            continue  # norms keep their ones
        is_residual = name.endswith(("o_proj.weight", "down_proj.weight"))
        torch.nn.init.normal_(p, mean=0.0, std=resid_std if is_residual else std)


def save_random_llama(
    out: Path, tokenizer: PreTrainedTokenizerFast, shape: LlamaShape, seed: int = 0
) -> LlamaForCausalLM:
    """Save a randomly initialised Llama (bf16 safetensors) plus tokenizer files to `out`."""
    torch.manual_seed(seed)
    cfg = llama_config(shape, tokenizer)
    model = LlamaForCausalLM(cfg)
    init_weights(model, shape.num_layers)
    model = model.to(torch.bfloat16)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    ).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return model  # type: ignore[no-any-return]


def make_checkpoint(
    out: Path, shape: LlamaShape, vocab_size: int = 2000, corpus_files: int = 60, seed: int = 0
) -> Path:
    """Train a tokenizer on part of the offline corpus and save a random Llama with it."""
    from train.corpus import default_texts
    from train.tokenizer import to_hf, train_tokenizer

    tok = train_tokenizer(default_texts(max_files=corpus_files), vocab_size=vocab_size)
    save_random_llama(out, to_hf(tok, shape.max_position_embeddings), shape, seed=seed)
    return out

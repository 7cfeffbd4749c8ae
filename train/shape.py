"""The architecture of a Llama checkpoint: a plain dataclass, cheap to import (no torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LlamaShape:
    """Architecture of a Llama checkpoint."""

    hidden_size: int = 64
    """Model width."""
    num_layers: int = 2
    """Decoder layers."""
    num_heads: int = 4
    """Attention heads; head_dim = hidden_size // num_heads."""
    num_kv_heads: int = 2
    """Key/value heads (grouped-query attention)."""
    intermediate_size: int = 0
    """SwiGLU width; 0 means about 8/3 of hidden, rounded up to a multiple of 32."""
    max_position_embeddings: int = 512
    """Context length."""
    rope_theta: float = 10000.0
    """RoPE base."""
    tie_word_embeddings: bool = True
    """Share input embedding and lm_head (saves parameters on small models)."""

    def ffn(self) -> int:
        if self.intermediate_size:
            return self.intermediate_size
        return ((self.hidden_size * 8 // 3) + 31) // 32 * 32

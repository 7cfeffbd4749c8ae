"""What `llm-quantize` runs: typed options with defaults, and the combinations that make sense.

Every field has a docstring; the CLI flags mirror the fields one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from quantize.errors import QuantizeError

SCHEMES = ("w8a8", "w8a16", "w4a16")
METHODS = ("rtn", "gptq", "awq", "smoothquant", "smoothquant-gptq")
FORMATS = ("compressed-tensors", "bitsandbytes")

# method -> schemes it applies to (compressed-tensors format)
METHOD_SCHEMES: dict[str, tuple[str, ...]] = {
    "rtn": SCHEMES,
    "gptq": SCHEMES,
    "awq": ("w4a16", "w8a16"),  # activation-aware scaling protects weights, not activations
    "smoothquant": ("w8a8",),  # moves activation outliers into weights: only matters for A8
    "smoothquant-gptq": ("w8a8",),  # smoothing, then GPTQ rounding (llm-compressor's W8A8 recipe)
}

# Architectures whose layer layout the scaling methods know (the RMSNorm before attention and
# before the MLP, and the q/k/v and gate/up Linears that read them). RTN and GPTQ need no layout:
# they quantize every Linear of any decoder's layers.
SCALING_ARCHITECTURES = (
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
)


@dataclass
class QuantizeConfig:
    """Everything `llm-quantize` needs besides the model and output paths."""

    scheme: str = "w4a16"
    """w8a8 (int8 weights per channel + dynamic per-token int8 activations), w8a16 (int8
    weight-only) or w4a16 (int4 weight-only, group-wise)."""
    method: str = "gptq"
    """rtn (round to nearest), gptq (Hessian-aware rounding), awq (activation-aware scaling,
    weight-only schemes), smoothquant (activation smoothing, then rounding to nearest; w8a8) or
    smoothquant-gptq (smoothing, then GPTQ; w8a8)."""
    format: str = "compressed-tensors"
    """compressed-tensors (vLLM on CPU and CUDA, transformers) or bitsandbytes (transformers;
    vLLM on CUDA): w8a16 -> LLM.int8(), w4a16 -> NF4."""
    group_size: int | None = None
    """Weights per scale for int4 (default 128, or the largest power of two that divides every
    layer); int8 defaults to one scale per output channel."""
    calibration: Path | None = None
    """Calibration text: a text file or JSONL with a 'text' field (default: standard-library
    sources the bundled models did not train on)."""
    samples: int = 128
    """Calibration sequences."""
    seq_len: int = 512
    """Tokens per calibration sequence (capped at the model's context)."""
    eval_text: Path | None = None
    """Held-out text for the perplexity report (default: standard-library sources disjoint from
    both the bundled models' training files and the default calibration files)."""
    eval_tokens: int = 32768
    """Tokens of held-out text to score before and after."""
    damp: float = 0.01
    """GPTQ dampening, as a fraction of the Hessian's mean diagonal."""
    act_order: bool = True
    """GPTQ: quantize columns in order of decreasing activation energy, with every group's scale
    fixed up front on the original contiguous groups (llm-compressor's default "static"
    act-order), so no g_idx is written; --no-act-order goes left to right."""
    smoothing: float = 0.5
    """SmoothQuant migration strength alpha in [0, 1]."""
    ignore: list[str] = field(default_factory=lambda: ["lm_head"])
    """Linear layers kept in the original precision (module names or their last part)."""
    seed: int = 0
    """Seed for picking calibration windows."""

    def validate(self) -> None:
        """Refuse combinations that make no sense, before any model is loaded."""
        if self.scheme not in SCHEMES:
            raise QuantizeError(f"unknown scheme {self.scheme!r}; choose from {', '.join(SCHEMES)}")
        if self.method not in METHODS:
            raise QuantizeError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.format not in FORMATS:
            raise QuantizeError(f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        if self.format == "bitsandbytes":
            if self.scheme == "w8a8":
                raise QuantizeError(
                    "bitsandbytes has no w8a8 checkpoint format; use w8a16 (LLM.int8()) "
                    "or w4a16 (NF4)"
                )
            if self.method != "rtn":
                raise QuantizeError(
                    "bitsandbytes quantizes at load time by rounding (its own NF4/int8 codes); "
                    f"--method {self.method} needs --format compressed-tensors"
                )
            if self.group_size is not None:
                raise QuantizeError(
                    "--group-size does not apply to bitsandbytes (llm-quantize picks the NF4 "
                    "block size from the layer shapes)"
                )
        elif self.scheme not in METHOD_SCHEMES[self.method]:
            raise QuantizeError(
                f"--method {self.method} does not apply to {self.scheme}; it works with "
                f"{', '.join(METHOD_SCHEMES[self.method])}"
            )
        if self.group_size is not None and self.group_size <= 0:
            raise QuantizeError("--group-size must be positive")
        if self.samples <= 0 or self.seq_len < 8:
            raise QuantizeError("--samples must be positive and --seq-len at least 8")
        if not 0.0 <= self.smoothing <= 1.0:
            raise QuantizeError("--smoothing must lie in [0, 1]")
        if not 0.0 < self.damp < 1.0:
            raise QuantizeError("--damp must lie in (0, 1)")
        if self.eval_tokens < 2:
            raise QuantizeError("--eval-tokens must be at least 2")

    @property
    def bits(self) -> int:
        return 4 if self.scheme == "w4a16" else 8

    @property
    def smooths(self) -> bool:
        """SmoothQuant's activation smoothing runs before the weights are rounded."""
        return self.method in ("smoothquant", "smoothquant-gptq")

    @property
    def uses_hessian(self) -> bool:
        """The weights are rounded by GPTQ, from each layer's input Hessian."""
        return self.method in ("gptq", "smoothquant-gptq")

    @property
    def needs_calibration(self) -> bool:
        return self.format == "compressed-tensors" and self.method != "rtn"

"""The ~80M Llama every serving benchmark runs on: built once (random weights, a tokenizer
trained on the offline corpus), then reused from .cache/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / ".cache" / "bench-llama-80m"


def build_bench_model(out: Path) -> Path:
    """Hidden 768, 12 layers, GQA 12/4, SwiGLU 2048, vocab 8000, bf16."""
    from train.init_checkpoint import LlamaShape, make_checkpoint

    shape = LlamaShape(
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        num_kv_heads=4,
        intermediate_size=2048,
        max_position_embeddings=2048,
    )
    return make_checkpoint(out, shape, vocab_size=8000, corpus_files=300)


def ensure_bench_model(path: Path) -> str:
    if not (path / "config.json").exists():
        print(f"building the benchmark model in {path}", flush=True)
        build_bench_model(path)
    return str(path)


def count_parameters(model: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(model / "model.safetensors"), "pt") as f:
        for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            n = 1
            for d in f.get_slice(key).get_shape():
                n *= d
            total += n
    return total

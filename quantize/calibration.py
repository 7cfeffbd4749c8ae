"""Calibration and held-out text: loading, the offline defaults, and token windows.

The defaults are standard-library sources the bundled models never trained on (llm-train's
default corpus uses the first `max_corpus_files` sorted files, 400): even-numbered files after
those calibrate, odd-numbered ones measure perplexity, so the report never scores the text it
calibrated on.
"""

from __future__ import annotations

from pathlib import Path

import torch

from quantize.errors import QuantizeError
from train.config import default as default_training
from train.corpus import stdlib_files


def default_files(part: str) -> list[Path]:
    """'calibration' or 'eval': disjoint halves of the files past the training ones."""
    trained = default_training().max_corpus_files  # its corpus: stdlib_files()[:trained]
    rest = stdlib_files()[trained:]
    return rest[0::2] if part == "calibration" else rest[1::2]


def read_texts(path: Path) -> list[str]:
    """A UTF-8 text file (one document) or JSONL with a 'text' field per line (the same reader
    llm-train uses for its corpus)."""
    from train.data import read_documents
    from train.errors import TrainError

    try:
        return read_documents(path)
    except FileNotFoundError:
        raise QuantizeError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuantizeError(f"cannot read {path} as UTF-8 text: {exc}") from None
    except TrainError as exc:
        raise QuantizeError(str(exc)) from None


def load_texts(path: Path | None, part: str, budget_chars: int) -> list[str]:
    """The user's file, or default files until about `budget_chars` characters."""
    if path is not None:
        return read_texts(path)
    texts, n = [], 0
    for f in default_files(part):
        try:
            t = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(t)
        n += len(t)
        if n >= budget_chars:
            break
    return texts


def token_stream(tokenizer, texts: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Documents tokenized and joined by EOS (as in training)."""
    eos = tokenizer.eos_token_id
    tokenizer.model_max_length = 1 << 30  # long documents are cut into windows, not truncated
    ids: list[int] = []
    for t in texts:
        ids.extend(tokenizer(t, add_special_tokens=False)["input_ids"])
        if eos is not None:
            ids.append(eos)
    return ids


def calibration_batches(  # type: ignore[no-untyped-def]
    tokenizer,
    path: Path | None,
    samples: int,
    seq_len: int,
    batch_size: int = 8,
) -> list[torch.Tensor]:
    """`samples` non-overlapping windows of `seq_len` tokens, as (B, T) batches."""
    need = samples * seq_len
    ids = token_stream(tokenizer, load_texts(path, "calibration", need * 6))
    if len(ids) < need:
        src = path or "the default calibration text"
        raise QuantizeError(
            f"{src} has {len(ids)} tokens; {samples} samples of {seq_len} need {need}; "
            "lower --samples or --seq-len, or give more text"
        )
    windows = torch.tensor(ids[:need]).view(samples, seq_len)
    return list(windows.split(batch_size))


def eval_ids(tokenizer, path: Path | None, max_tokens: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Held-out tokens for perplexity (at most `max_tokens`)."""
    ids = token_stream(tokenizer, load_texts(path, "eval", max_tokens * 6))[:max_tokens]
    if len(ids) < 2:
        raise QuantizeError("the evaluation text is too short (fewer than 2 tokens)")
    return ids

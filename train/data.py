"""Corpus -> documents -> one memory-mapped token array (documents separated by EOS) -> batches.

The corpus is tokenized once; the token arrays are cached next to the run under a key made of the
file list, sizes and mtimes and the tokenizer, so a resumed or repeated run reads them back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from train.errors import TrainError

TEXT_SUFFIXES = {".txt", ".md", ".py", ".rst", ".text", ".jsonl"}


@dataclass
class Corpus:
    documents: list[str]
    skipped: int
    """Files skipped as unreadable or not UTF-8."""
    source: str


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in TEXT_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise TrainError(f"no such file or directory: {raw}")
    return out


def read_documents(path: Path) -> list[str]:
    """A UTF-8 text file (one document) or JSONL with a string 'text' field per line."""
    text = path.read_bytes().decode("utf-8")
    if path.suffix == ".jsonl":
        docs = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise TrainError(f"{path}:{n}: a JSONL line needs a string 'text' field")
            docs.append(obj["text"])
        return docs
    return [text]


def load_corpus(paths: list[str], max_default_files: int = 0) -> Corpus:
    """Documents from the given paths, or the offline default corpus when none are given."""
    if not paths:
        from train.corpus import default_texts

        texts = [d for d in default_texts(max_default_files or None) if d.strip()]
        return Corpus(texts, 0, "python stdlib sources + pydoc topics")
    docs: list[str] = []
    skipped = 0
    for f in _files(paths):
        try:
            docs += [d for d in read_documents(f) if d.strip()]
        except (UnicodeDecodeError, OSError):
            skipped += 1
    if not docs:
        why = f" ({skipped} unreadable or non-UTF-8 files skipped)" if skipped else ""
        raise TrainError(f"the corpus is empty: no text in {', '.join(paths)}{why}")
    return Corpus(docs, skipped, ", ".join(paths))


def split(docs: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic document-level split; at least one validation document."""
    if len(docs) < 2:
        raise TrainError("the corpus needs at least 2 documents for a train/validation split")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(docs))
    n_val = max(1, int(len(docs) * val_fraction))
    val = [docs[i] for i in sorted(order[:n_val])]
    train = [docs[i] for i in sorted(order[n_val:])]
    return train, val


def tokenize_to_memmap(docs: list[str], encode_batch, eos_id: int, path: Path) -> np.memmap:  # type: ignore[no-untyped-def]
    """Encode documents (EOS after each) into a uint16/uint32 array on disk; atomic."""
    if path.exists():
        return _open(path)
    chunks: list[np.ndarray] = []
    for i in range(0, len(docs), 256):
        for ids in encode_batch(docs[i : i + 256]):
            chunks.append(np.asarray([*ids, eos_id], dtype=np.uint32))
    arr = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint32)
    dtype = np.uint16 if arr.size == 0 or arr.max() < 2**16 else np.uint32
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    mm = np.memmap(tmp, dtype=dtype, mode="w+", shape=(max(arr.size, 1),))
    mm[: arr.size] = arr
    mm.flush()
    del mm
    (path.with_suffix(".json")).write_text(
        json.dumps({"dtype": np.dtype(dtype).name, "n": int(arr.size)})
    )
    os.replace(tmp, path)
    return _open(path)


def _open(path: Path) -> np.memmap:
    meta = json.loads(path.with_suffix(".json").read_text())
    return np.memmap(path, dtype=meta["dtype"], mode="r", shape=(meta["n"],))


class Batches:
    """Random windows of `seq_len + 1` tokens; the position (RNG state) is part of a checkpoint.

    One global batch (batch x accum x world windows) is drawn per optimizer step and handed out
    in micro-batch slices, so N processes with batch B, or accumulation over N micro-batches,
    see exactly the windows one process with batch N*B sees.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        seq_len: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        accum: int = 1,
    ) -> None:
        if len(tokens) < seq_len + 2:
            raise TrainError(
                f"the corpus has {len(tokens)} tokens, too few for sequences of "
                f"{seq_len}; add text or lower --seq-len"
            )
        self.tokens = tokens
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.rank, self.world, self.accum = rank, world, accum
        self.gen = torch.Generator().manual_seed(seed)
        self.drawn = 0
        self._step: list[int] = []
        self._micro = 0

    def next(self) -> torch.Tensor:
        """(B, T+1) int64 windows: this process's slice of the next micro-batch."""
        if self._micro == 0:
            hi = len(self.tokens) - self.seq_len - 1
            n = self.batch_size * self.world * self.accum
            self._step = torch.randint(0, hi, (n,), generator=self.gen).tolist()
            self.drawn += 1
        b = self.batch_size
        first = (self._micro * self.world + self.rank) * b
        mine = self._step[first : first + b]
        self._micro = (self._micro + 1) % self.accum
        rows = [np.asarray(self.tokens[s : s + self.seq_len + 1], dtype=np.int64) for s in mine]
        return torch.from_numpy(np.stack(rows))

    def state_dict(self) -> dict[str, object]:
        return {"gen": self.gen.get_state(), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.gen.set_state(state["gen"])  # type: ignore[arg-type]
        self.drawn = int(state["drawn"])  # type: ignore[call-overload]
        self._micro = 0


def eval_windows(tokens: np.ndarray, seq_len: int, limit: int) -> Iterator[torch.Tensor]:
    """Consecutive non-overlapping windows (deterministic validation)."""
    n = min(limit, (len(tokens) - 1) // seq_len)
    for i in range(n):
        s = i * seq_len
        yield torch.from_numpy(np.asarray(tokens[s : s + seq_len + 1], dtype=np.int64))[None]

"""What llm-bench sends: synthetic prompts of exact token lengths, a JSONL file, or shared prefixes.

Synthetic prompts are random vocabulary tokens decoded to text, then re-encoded and trimmed or
padded until the text encodes to exactly the requested number of tokens (vLLM's `random` dataset
does the same), so `--input-len 128` means 128 prompt tokens on the server, not roughly 128.
"""

from __future__ import annotations

import json
from collections.abc import Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np


class BenchError(Exception):
    """A bad flag or input file: the CLI prints it as one line and exits 2."""


class Tokenizer(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...
    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


@dataclass(frozen=True)
class BenchRequest:
    """One request: a completion prompt or chat messages, and its output budget."""

    prompt: str | None
    messages: list[dict[str, str]] | None
    max_tokens: int
    input_len: int  # prompt tokens as the workload counted them (the server's count wins)
    key: int = 0  # which --api-key sends it


def load_tokenizer(path: str) -> Tokenizer:
    from transformers import AutoTokenizer

    try:
        tok = cast(Tokenizer, AutoTokenizer.from_pretrained(path))
    except (OSError, ValueError) as e:
        raise BenchError(f"cannot load a tokenizer from {path!r}: {e}") from e
    return tok


def lengths(rng: np.random.Generator, n: int, mean: int, dist: str, spread: float) -> list[int]:
    """n lengths around `mean`: fixed; uniform in mean*(1 +- spread); normal with sd mean*spread."""
    if mean < 1:
        raise BenchError(f"lengths must be at least 1, got {mean}")
    if dist == "fixed":
        return [mean] * n
    if dist == "uniform":
        lo, hi = max(1, round(mean * (1 - spread))), max(1, round(mean * (1 + spread)))
        return [int(x) for x in rng.integers(lo, hi + 1, size=n)]
    if dist == "normal":
        return [max(1, round(x)) for x in rng.normal(mean, mean * spread, size=n)]
    raise BenchError(f"unknown length distribution {dist!r} (fixed, uniform, normal)")


def exact_text(
    tok: Tokenizer, rng: np.random.Generator, n_tokens: int, vocab: int, head: str = ""
) -> str:
    """Text such that head + text encodes to exactly len(head) + n_tokens tokens (without
    special tokens); merges across the boundary are accounted for."""
    base = len(tok.encode(head, add_special_tokens=False)) if head else 0

    def count(s: str) -> int:
        return len(tok.encode(head + s, add_special_tokens=False)) - base

    ids = [int(i) for i in rng.integers(0, vocab, size=n_tokens)]
    text = tok.decode(ids, skip_special_tokens=True)
    for _ in range(200):
        got = count(text)
        if got == n_tokens:
            return text
        if got > n_tokens:  # merges across the decoded pieces: cut characters from the end
            text = tok.decode(tok.encode(text, add_special_tokens=False)[:n_tokens])
            while count(text) > n_tokens:
                text = text[:-1]
        else:  # grow by one decoded random token
            text += tok.decode([int(rng.integers(0, vocab))], skip_special_tokens=True)
    raise BenchError(f"could not build a prompt of exactly {n_tokens} tokens with this tokenizer")


def _vocab(tok: Tokenizer) -> int:
    size = len(cast(Sized, tok)) if hasattr(tok, "__len__") else getattr(tok, "vocab_size", 0)
    if size < 2:
        raise BenchError("the tokenizer reports no vocabulary")
    return int(size)


def synthetic(
    tok: Tokenizer,
    n: int,
    input_len: int,
    output_len: int,
    *,
    dist: str = "fixed",
    spread: float = 0.0,
    prefix_len: int = 0,
    num_prefixes: int = 1,
    seed: int = 0,
    chat: bool = False,
) -> list[BenchRequest]:
    """Random prompts of exact lengths; with prefix_len > 0, each starts with one of
    `num_prefixes` shared prefixes (the prefix-caching workload), then input_len unique tokens."""
    rng = np.random.default_rng(seed)
    vocab = _vocab(tok)
    ins = lengths(rng, n, input_len, dist, spread)
    outs = lengths(rng, n, output_len, dist, spread)
    prefixes = (
        [exact_text(tok, rng, prefix_len, vocab) for _ in range(num_prefixes)] if prefix_len else []
    )
    reqs = []
    for i in range(n):
        head = prefixes[i % num_prefixes] if prefix_len else ""
        text = head + exact_text(tok, rng, ins[i], vocab, head)
        reqs.append(_request(text, outs[i], prefix_len + ins[i], chat))
    return reqs


def _request(text: str, max_tokens: int, input_len: int, chat: bool) -> BenchRequest:
    if chat:
        return BenchRequest(None, [{"role": "user", "content": text}], max_tokens, input_len)
    return BenchRequest(text, None, max_tokens, input_len)


def from_jsonl(
    path: Path, tok: Tokenizer | None, n: int, output_len: int, chat: bool
) -> list[BenchRequest]:
    """Lines of {"prompt": str} or {"messages": [...]}, optional "max_tokens"; cycled up to n."""
    rows: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BenchError(f"cannot read prompts file {path}: {e.strerror}") from e
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise BenchError(f"{path}:{lineno}: not JSON ({e.msg})") from e
        if not isinstance(row, dict) or not (
            isinstance(row.get("prompt"), str) or isinstance(row.get("messages"), list)
        ):
            raise BenchError(
                f'{path}:{lineno}: expected {{"prompt": str}} or {{"messages": [...]}}'
            )
        rows.append(row)
    if not rows:
        raise BenchError(f"{path}: no prompts")
    reqs = []
    for i in range(n):
        row = rows[i % len(rows)]
        max_tokens = int(row.get("max_tokens", output_len))
        messages = row.get("messages")
        prompt = row.get("prompt")
        text = prompt if isinstance(prompt, str) else " ".join(m["content"] for m in messages or [])
        count = len(tok.encode(text, add_special_tokens=False)) if tok else 0
        if chat or prompt is None:
            msgs = messages if messages is not None else [{"role": "user", "content": text}]
            reqs.append(BenchRequest(None, msgs, max_tokens, count))
        else:
            reqs.append(BenchRequest(prompt, None, max_tokens, count))
    return reqs

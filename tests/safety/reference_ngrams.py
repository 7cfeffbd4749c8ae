"""The numpy version of the learned detector's n-gram hashing and window scoring, as it was
written before safety/ngram_kernel.py compiled it: the reference the kernel is compared with
(the model's features are these hashes, so the two must agree exactly). Not used by the
project; a parity oracle, as litgpt keeps the reference model next to its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from safety.learned import InjectionModel, _codes, _scratch, _spaces, _word_chars, flatten

DENSE_MAX = 1 << 20  # window_scores counts (window, feature) pairs in a table up to this size
_MIX = np.uint64(0x9E3779B97F4A7C15)


_BASE = 0x100000001B3  # the FNV prime: odd, so invertible modulo 2**64
_INV = pow(_BASE, -1, 2**64)
_PAIR = np.uint64(0x632BE59BD9B4E019)


def grams(flat: str, n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every hashed n-gram of a flattened text: (feature id, start, end in `flat`)."""
    codes = _codes(flat).astype(np.uint64)
    ids, starts, ends = [], [], []

    bucket = _bucket(n_features)

    def add(h: np.ndarray, at: np.ndarray, to: np.ndarray, offset: int = 0) -> None:
        ids.append(bucket(h >> np.uint64(20)).view(np.int64) + offset)
        starts.append(at)
        ends.append(to)

    with np.errstate(over="ignore"):  # hashing is arithmetic modulo 2**64 on purpose
        for n in (3, 4):
            if len(codes) >= n:
                h = np.full(len(codes) - n + 1, n, dtype=np.uint64)
                for k in range(n):
                    h = (h ^ codes[k : len(codes) - n + 1 + k]) * _MIX
                add(h, np.arange(len(h)), np.arange(n, len(h) + n))
        cjk = (codes >= 0x3040) & (codes <= 0x9FFF)  # kana and CJK ideographs: no spaces, and
        if cjk.any():  # words of one or two characters, so single characters and pairs too
            one = np.flatnonzero(cjk)
            two = np.flatnonzero(cjk[:-1] & cjk[1:])
            pair = (codes[two] ^ (codes[two + 1] << np.uint64(21))) * _MIX
            for n, h, at in ((1, codes[one] * _MIX, one), (2, pair, two)):
                add((h ^ np.uint64(n)) * _MIX, at, at + n)
        at, to = _runs(_word_chars()[codes.astype(np.int64)])
        if len(at):  # words and word pairs, by a polynomial hash of each word's characters
            word = _substring_hashes(codes, at, to)
            add((word ^ (to - at).astype(np.uint64)) * _MIX, at, to, n_features)
            pairs = ((word[:-1] * _MIX) ^ word[1:] ^ _PAIR) * _MIX
            add(pairs, at[:-1], to[1:], n_features)
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(ids), np.concatenate(starts), np.concatenate(ends)


def _bucket(n_features: int) -> Callable[[np.ndarray], np.ndarray]:
    """Hash -> feature id in [0, n_features): a mask when n_features is a power of two (the
    same ids as the remainder, in half its time), else the remainder."""
    size = np.uint64(n_features)
    if n_features & (n_features - 1) == 0:
        return lambda h: h & (size - np.uint64(1))
    return lambda h: h % size


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in `mask`."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _substring_hashes(codes: np.ndarray, at: np.ndarray, to: np.ndarray) -> np.ndarray:
    """sum(codes[j] * BASE**(end-1-j)) mod 2**64 for each codes[at:to], from one prefix sum:
    BASE**(end-1) * (P[end] - P[at]) with P[k] = sum over j < k of codes[j] * BASE**-j."""
    up, down = _powers(len(codes))  # BASE**1 .. BASE**n, BASE**-j for j = 0 .. n-1
    prefix = np.concatenate((np.zeros(1, np.uint64), np.cumsum(codes * down, dtype=np.uint64)))
    power = np.where(to >= 2, up[(to - 2).clip(0)], np.uint64(1))  # BASE**(end-1)
    return np.asarray(power * (prefix[to] - prefix[at]), dtype=np.uint64)


_POWERS: list[tuple[np.ndarray, np.ndarray]] = [(np.ones(0, np.uint64),) * 2]  # longest yet


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n powers of BASE (from 1) and of its inverse (from 0), computed once for the
    longest text yet (the pair is replaced whole, so a thread reads one pair or the other)."""
    up, down = _POWERS[0]
    if len(up) < n:
        size = max(n, 4096)
        up = np.cumprod(np.full(size, _BASE, np.uint64))
        down = np.cumprod(np.full(size, _INV, np.uint64))
        down = np.concatenate((np.ones(1, np.uint64), down[:-1]))
        _POWERS[0] = up, down
    return up[:n], down[:n]


def window_scores(self: InjectionModel, text: str, spans: list[tuple[int, int]]) -> np.ndarray:
    """Injection probability of each (start, end) window of `text`, from one pass over it:
    the text's n-grams are hashed once, and each window counts those inside it (a window
    that starts or ends inside a word also reads the character beyond it, where scoring the
    window alone would read a padding space). One window over the whole text scores as
    `scores([text])`."""
    flat = flatten(text)
    ids, at, to = grams(flat, self.n_features)
    bounds = _flat_index(text, np.array(spans, np.int64).reshape(-1, 2))
    lo, hi = (bounds[:, 0] - 1).clip(0, None), bounds[:, 1] + 1
    pos = np.arange(len(flat) + 1)  # windows are in order: each n-gram is in a run of
    first = np.searchsorted(hi, pos, "left")[to]  # consecutive windows, from the first
    last = np.searchsorted(lo, pos, "right")[at] - 1  # that ends after it to the last
    # that starts before it (looked up per position of the text: fewer than n-grams)
    n = last - first + 1  # how many windows hold each n-gram (at most three)
    layer = [np.flatnonzero(n > k) for k in range(int(n.max(initial=0)))]
    gram = np.concatenate(layer) if layer else n[:0]  # each n-gram once per window
    win = np.concatenate([first[g] + k for k, g in enumerate(layer)]) if layer else n[:0]
    dot = np.bincount(win, self.coef[ids].astype(np.float64)[gram], len(spans))  # one cast
    norm = np.sqrt(_squares(self, ids, gram, win, len(spans)))
    z = dot / np.where(norm > 0, norm, 1.0) + self.intercept
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)


def _squares(
    self: InjectionModel, ids: np.ndarray, gram: np.ndarray, win: np.ndarray, n_win: int
) -> Any:
    """Per window, the sum of its feature counts squared (the norm of its count vector,
    squared). The n-grams are numbered by feature without a sort: each feature's number is
    the last n-gram written to its cell of a per-thread scratch table, and every n-gram of
    the feature reads back the same number. A short text counts every (window, feature)
    pair in a table, a row per window, and squares the rows; a long one sorts its pairs,
    and each n-gram adds how many of its window share its feature."""
    label = _scratch(2 * self.n_features)
    label[ids] = np.arange(len(ids), dtype=np.int32)
    key = win * len(ids) + label[ids][gram]
    if n_win * len(ids) <= DENSE_MAX:
        table = np.bincount(key, minlength=n_win * len(ids)).reshape(n_win, len(ids))
        return np.einsum("ij,ij->i", table, table).astype(np.float64)
    _, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    return np.bincount(win, count[inverse].astype(np.float64), n_win)


def _flat_index(text: str, pos: np.ndarray) -> np.ndarray:
    """Where each position of `text` lands in `flatten(text)`: a word character keeps its place
    among the others, whitespace lands on the one space that stands for its run (the padding
    space at either end when no word follows or precedes it)."""
    space = _spaces()[_codes(text)]
    if space.all():
        return np.ones_like(pos)
    start, end = _runs(~space)
    offset = 1 + np.concatenate(([0], np.cumsum(end - start + 1)[:-1]))
    k = (np.searchsorted(start, pos, "right") - 1).clip(0)  # the last run starting <= pos
    return np.where(pos < start[0], 1, offset[k] + np.minimum(pos, end[k]) - start[k])

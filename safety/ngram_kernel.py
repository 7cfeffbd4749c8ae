"""The learned injection detector's hot loops, compiled (numba): the hashed n-grams of a text and
each window's dot product and count norm. numpy did the same in about 40 array passes, each a
few microseconds of call overhead on 2,000 characters; one compiled pass over the code points
costs a third of that (0.47 -> 0.17 ms on Chinese, where the input check had no margin left).

The hashes are the model's features, so they must not change: `tests/safety/reference_ngrams.py`
keeps the numpy version they were defined with, and the tests compare the two on every suite
text and on random Unicode. Integer arithmetic modulo 2**64 throughout, the same on every CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import int64, njit, uint64


def _compiled(fn: Callable[..., Any]) -> Any:
    """`fn` compiled, cached on disk (next to this file, else in the user's cache directory) so
    a process loads it in milliseconds; compiled in-process (about 2 s) where neither is
    writable (numba refuses to cache there)."""
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:
        return njit(nogil=True)(fn)


_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing multiplier
_BASE = 0x100000001B3  # the FNV prime: each word's polynomial hash
_PAIR = 0x632BE59BD9B4E019  # marks a word pair's hash apart from a word's


@_compiled
def _bucket(h: Any, n_features: int) -> Any:
    """Hash -> feature id in [0, n_features): the top 44 bits, masked when n_features is a
    power of two (the same ids as the remainder), else the remainder."""
    h = h >> uint64(20)
    if n_features & (n_features - 1) == 0:
        return int64(h & uint64(n_features - 1))
    return int64(h % uint64(n_features))


@_compiled
def _put(out: Any, k: int, feature: int, start: int, end: int) -> int:
    """Write the k-th n-gram (feature id, start, end); the next one's index."""
    out[0, k], out[1, k], out[2, k] = feature, start, end
    return k + 1


@_compiled
def _cjk(c: Any) -> Any:
    return 0x3040 <= c <= 0x9FFF  # kana and CJK ideographs


@_compiled
def _char_grams(codes: Any, n_features: int, out: Any, k: int) -> int:
    """Character 3- and 4-grams, then single kana/ideographs and pairs of them (no spaces
    between words there, and words of one or two characters)."""
    mix, n = uint64(_MIX), len(codes)
    for g in (3, 4):
        for i in range(n - g + 1):
            h = uint64(g)
            for j in range(g):
                h = (h ^ uint64(codes[i + j])) * mix
            k = _put(out, k, _bucket(h, n_features), i, i + g)
    for i in range(n):
        if _cjk(codes[i]):
            h = (uint64(codes[i]) * mix ^ uint64(1)) * mix
            k = _put(out, k, _bucket(h, n_features), i, i + 1)
    for i in range(n - 1):
        if _cjk(codes[i]) and _cjk(codes[i + 1]):
            h = (uint64(codes[i]) ^ (uint64(codes[i + 1]) << uint64(21))) * mix
            k = _put(out, k, _bucket((h ^ uint64(2)) * mix, n_features), i, i + 2)
    return k


@_compiled
def _word_grams(codes: Any, word: Any, n_features: int, out: Any, k: int) -> int:
    """Words (runs of word characters) by a polynomial hash of their characters, then each
    pair of neighbouring words; ids in [n_features, 2 n_features)."""
    mix, base, n = uint64(_MIX), uint64(_BASE), len(codes)
    hashes, at, to = np.empty(n, np.uint64), np.empty(n, np.int64), np.empty(n, np.int64)
    count, i = 0, 0
    while i < n:
        if not word[codes[i]]:
            i += 1
            continue
        h, at[count] = uint64(0), i
        while i < n and word[codes[i]]:
            h = h * base + uint64(codes[i])
            i += 1
        hashes[count], to[count] = h, i
        h = (h ^ uint64(i - at[count])) * mix
        k = _put(out, k, _bucket(h, n_features) + n_features, at[count], i)
        count += 1
    for w in range(count - 1):
        h = ((hashes[w] * mix) ^ hashes[w + 1] ^ uint64(_PAIR)) * mix
        k = _put(out, k, _bucket(h, n_features) + n_features, at[w], to[w + 1])
    return k


@_compiled
def grams(codes: Any, word: Any, n_features: int) -> Any:
    """Every hashed n-gram of a flattened text's code points: a (3, n) array of feature id,
    start, end. `word` says per code point whether it is a word character."""
    out = np.empty((3, 6 * len(codes) + 4), np.int64)  # at most 2 + 2 + 2 per code point
    k = _char_grams(codes, n_features, out, 0)
    k = _word_grams(codes, word, n_features, out, k)
    return out[:, :k]


@_compiled
def flat_positions(codes: Any, space: Any, pos: Any) -> Any:
    """Where each position of a text (its code points) lands in its flattened form (whitespace
    runs as one space, a space at each end): a word character keeps its place among the others,
    whitespace lands on the one space that stands for its run (the padding space at either end
    when no word follows or precedes it)."""
    n = len(codes)
    starts, ends, runs, i = np.empty(n, np.int64), np.empty(n, np.int64), 0, 0
    while i < n:  # the runs of non-space characters
        if space[codes[i]]:
            i += 1
            continue
        starts[runs] = i
        while i < n and not space[codes[i]]:
            i += 1
        ends[runs], runs = i, runs + 1
    out = np.ones(len(pos), np.int64)
    if runs == 0:
        return out
    offset = np.empty(runs, np.int64)  # where each run begins in the flattened text
    offset[0] = 1
    for r in range(1, runs):
        offset[r] = offset[r - 1] + ends[r - 1] - starts[r - 1] + 1
    for q in range(len(pos)):
        p = pos[q]
        if p >= starts[0]:
            r = np.searchsorted(starts[:runs], p, "right") - 1  # the last run starting <= p
            out[q] = offset[r] + min(p, ends[r]) - starts[r]
    return out


@_compiled
def _window_ranges(at: Any, to: Any, lo: Any, hi: Any, n_flat: int) -> Any:
    """Per n-gram, the first window that holds it and how many do (consecutive windows: from the
    first ending at or after its end to the last starting at or before its start)."""
    n_win = len(lo)
    first_at, last_at = np.empty(n_flat + 1, np.int64), np.empty(n_flat + 1, np.int64)
    w = 0
    for p in range(n_flat + 1):
        while w < n_win and hi[w] < p:
            w += 1
        first_at[p] = w
    w = -1
    for p in range(n_flat + 1):
        while w + 1 < n_win and lo[w + 1] <= p:
            w += 1
        last_at[p] = w
    first, count = np.empty(len(at), np.int64), np.empty(len(at), np.int64)
    for g in range(len(at)):
        first[g] = first_at[to[g]]
        count[g] = max(0, last_at[at[g]] - first[g] + 1)
    return first, count


@_compiled
def window_sums(grams: Any, lo: Any, hi: Any, n_flat: int, coef: Any, scratch: Any) -> Any:
    """Per window (flattened-text bounds lo, hi): the sum of its n-grams' weights, and the sum of
    its feature counts squared (its count vector's norm, squared). `scratch` is a table with a
    cell per feature (any contents). The weights are float16 values (the model file's), each a
    multiple of 2**-24, so float64 adds them exactly in any order: four running sums per window
    give the same dot product as one."""
    ids, at, to = grams[0], grams[1], grams[2]
    first, count = _window_ranges(at, to, lo, hi, n_flat)
    n_win, n = len(lo), len(ids)
    for g in range(n):  # number the features without a sort: the last n-gram of each
        scratch[ids[g]] = g
    label, weight = np.empty(n, np.int64), np.empty(n, np.float64)
    for g in range(n):
        label[g], weight[g] = scratch[ids[g]], coef[ids[g]]
    lanes, sizes = np.zeros((4, n_win)), np.zeros(n_win + 1, np.int64)
    for g in range(n):
        for w in range(first[g], first[g] + count[g]):
            lanes[g & 3, w] += weight[g]
            sizes[w + 1] += 1
    dot = lanes[0] + lanes[1] + lanes[2] + lanes[3]
    return dot, _squares(label, first, count, np.cumsum(sizes), n_win)


@_compiled
def _squares(label: Any, first: Any, count: Any, bounds: Any, n_win: int) -> Any:
    """Per window, the sum of its feature counts squared: its n-grams' feature numbers grouped
    by window (a counting sort), then tallied window by window ((c + 1)**2 - c**2 = 2c + 1)."""
    fill, by_window = bounds[:n_win].copy(), np.empty(bounds[n_win], np.int64)
    for g in range(len(label)):
        for w in range(first[g], first[g] + count[g]):
            by_window[fill[w]] = label[g]
            fill[w] += 1
    tally, out = np.zeros(len(label), np.int64), np.zeros(n_win)
    for w in range(n_win):
        s = 0
        for q in range(bounds[w], bounds[w + 1]):
            s += 2 * tally[by_window[q]] + 1
            tally[by_window[q]] += 1
        for q in range(bounds[w], bounds[w + 1]):
            tally[by_window[q]] = 0
        out[w] = s
    return out

"""The learned prompt-injection detector: a logistic regression (trained with scikit-learn;
scoring needs only numpy) over hashed character and word n-grams of the loose view (so
look-alike letters, leetspeak and spaced-out words read as plain words), trained by
`python -m safety.train_injection` from public data; the model file carries its card
(sources, counts, threshold, scores on the held-back fifth).

Long inputs are scored in overlapping windows and the highest window decides, so an
instruction buried in a long document is not diluted by it. A finding covers that window.
Scoring is whole-text: the detector has no partial match, so it can flag streamed output (in
the stream guard's batches) but not hold it; the policy refuses block/redact on output for it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import regex

MODEL = Path(__file__).with_name("models") / "prompt_injection.npz"
WINDOW, STEP = 320, 200  # characters of the view per scored window, and the stride


_WORD = regex.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier


def ngram_counts(text: str, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(feature ids, counts) of one text: hashed character 3- and 4-grams (whitespace runs read
    as one space; for kana and CJK ideographs also single characters and pairs) in
    [0, n_features), hashed words and word pairs in [n_features, 2n). Stable
    across processes (no salted hash) and on every CPU (integer arithmetic), vectorised with
    numpy."""
    flat = " " + " ".join(text.split()) + " "
    codes = np.frombuffer(flat.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    with np.errstate(over="ignore"):  # hashing is arithmetic modulo 2**64 on purpose
        for n in (3, 4):
            if len(codes) >= n:
                h = np.full(len(codes) - n + 1, n, dtype=np.uint64)
                for k in range(n):
                    h = (h ^ codes[k : len(codes) - n + 1 + k]) * _MIX
                parts.append((h >> np.uint64(20)) % np.uint64(n_features))
        cjk = (codes >= 0x3040) & (codes <= 0x9FFF)  # kana and CJK ideographs: no spaces, and
        if cjk.any():  # words of one or two characters, so single characters and pairs too
            one = codes[cjk] * _MIX
            two = ((codes[:-1] ^ (codes[1:] << np.uint64(21))) * _MIX)[cjk[:-1] & cjk[1:]]
            for n, h in ((1, one), (2, two)):
                parts.append(((h ^ np.uint64(n)) * _MIX >> np.uint64(20)) % np.uint64(n_features))
        words = _WORD.findall(flat)
        grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        if grams:
            wh = np.fromiter((zlib.crc32(g.encode()) for g in grams), np.uint64, len(grams))
            parts.append(((wh * _MIX) >> np.uint64(20)) % np.uint64(n_features)
                         + np.uint64(n_features))  # fmt: skip
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids, counts = np.unique(np.concatenate(parts).astype(np.int64), return_counts=True)
    return ids, counts.astype(np.float32)


def features(texts: list[str], n_features: int) -> Any:
    """Rows of L2-normalised counts (a scipy sparse matrix, for training)."""
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for i, t in enumerate(texts):
        ids, counts = ngram_counts(t, n_features)
        rows.append(np.full(len(ids), i))
        cols.append(ids)
        vals.append(counts / max(float(np.sqrt((counts**2).sum())), 1e-9))
    return csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(texts), 2 * n_features),
    )


def windows(text: str) -> list[tuple[int, int]]:
    """Overlapping (start, end) windows covering `text`."""
    if len(text) <= WINDOW:
        return [(0, len(text))]
    starts = list(range(0, len(text) - WINDOW, STEP)) + [len(text) - WINDOW]
    return [(s, s + WINDOW) for s in starts]


@dataclass
class InjectionModel:
    coef: np.ndarray  # (2 * n_features,) float32
    intercept: float
    threshold: float  # probability at or above which a window is an injection
    n_features: int
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL) -> InjectionModel:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                z["coef"].astype(np.float32), float(z["intercept"]), float(meta["threshold"]),
                int(meta["n_features"]), meta,
            )  # fmt: skip

    def save(self, path: Path) -> None:
        meta = {**self.card, "threshold": self.threshold, "n_features": self.n_features}
        np.savez_compressed(
            path, coef=self.coef.astype(np.float16), intercept=np.float32(self.intercept),
            meta=np.array(json.dumps(meta)),
        )  # fmt: skip

    def scores(self, texts: list[str]) -> np.ndarray:
        """Injection probability per text."""
        z = np.empty(len(texts), dtype=np.float64)
        for i, t in enumerate(texts):
            ids, counts = ngram_counts(t, self.n_features)
            norm = float(np.sqrt((counts**2).sum())) or 1.0
            z[i] = float(counts @ self.coef[ids]) / norm + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)


@cache
def default_model() -> InjectionModel:
    return InjectionModel.load()

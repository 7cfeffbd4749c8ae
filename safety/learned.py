"""The learned prompt-injection detector: a logistic regression (trained with scikit-learn;
scoring needs only numpy) over hashed character and word n-grams of the loose view (so
look-alike letters, leetspeak and spaced-out words read as plain words), trained by
`python -m safety.train_injection` from public data; the model file carries its card
(sources, counts, threshold, scores on the held-back fifth).

Long inputs are scored in overlapping windows, and each prose line of theirs alone, and the
highest decides, so an instruction buried in a long document is not diluted by it. A finding
covers that window or line.
Scoring is whole-text: the detector has no partial match, so it can flag streamed output (in
the stream guard's batches) but not hold it; the policy refuses block/redact on output for it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import regex

from safety import ngram_kernel
from safety.normalize import code_points

MODEL = Path(__file__).with_name("models") / "prompt_injection.npz"
WINDOW, STEP = 320, 200  # characters of the view per scored window, and the stride


_WORD = regex.compile(r"\w+")


def ngram_counts(text: str, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(feature ids, counts) of one text: hashed character 3- and 4-grams (whitespace runs read
    as one space; for kana and CJK ideographs also single characters and pairs) in
    [0, n_features), hashed words and word pairs in [n_features, 2n). Stable
    across processes (no salted hash) and on every CPU (integer arithmetic)."""
    ids = grams(flatten(text), n_features)[0]
    if not len(ids):
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids, counts = np.unique(ids, return_counts=True)
    return ids, counts.astype(np.float32)


def flatten(text: str) -> str:
    """`text` with whitespace runs read as one space, padded by a space at each end."""
    return " " + " ".join(text.split()) + " "


def _codes(text: str) -> np.ndarray:
    return code_points(text).astype(np.int64)


@cache
def _word_chars() -> np.ndarray:
    """Per code point: is it a word character (the `regex` module's \\w)? One scan of every
    code point, once per process."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    table = np.zeros(0x110000 - 0x800, dtype=bool)
    for m in _WORD.finditer(every):
        table[m.start() : m.end()] = True
    return np.concatenate((table[:0xD800], np.zeros(0x800, bool), table[0xD800:]))


@cache
def _spaces() -> np.ndarray:
    """Per code point: is it whitespace to str.split?"""
    table = np.zeros(0x110000, dtype=bool)
    table[[c for c in range(0x3000 + 1) if chr(c).isspace()]] = True  # none above U+3000
    return table


def grams(flat: str, n_features: int) -> np.ndarray:
    """Every hashed n-gram of a flattened text: a (3, n) array of feature id, start, end in
    `flat` (compiled: safety/ngram_kernel.py)."""
    found: np.ndarray = ngram_kernel.grams(_codes(flat), _word_chars(), n_features)
    return found


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


LINE_MIN, CODE_SHARE = 60, 0.05  # a prose line's least length, and its most code symbols
# the least score of a prose line read alone: a line has less context than a window, and at the
# model's own threshold (0.61) lines such as "If you have any questions just reply to this
# email." (a BIPIA e-mail footer) were found; chosen on the read held-out sets (stop 42)
LINE_SCORE = 0.7
_CODE = np.zeros(128, bool)
_CODE[[ord(c) for c in "=(){}[]<>$;|"]] = True


def prose_lines(text: str) -> list[tuple[int, int]]:
    """In a text longer than a window, each line of LINE_MIN to WINDOW characters written as
    prose (code symbols at most CODE_SHARE of it): scored alone as well, an instruction on a
    line of its own in a longer document (a note in a ticket, a sentence after a table) is not
    diluted by the lines around it. Code lines are left to the windows: one `create(...,
    messages=[{"role": ...}])` call read alone scores as a prompt."""
    if len(text) <= WINDOW:
        return []
    cp = _codes(text)
    breaks = np.flatnonzero(cp == 10)
    starts, ends = np.concatenate(([0], breaks + 1)), np.append(breaks, len(text))
    code = np.concatenate(([0], np.cumsum(_CODE[cp & 127] & (cp < 128))))
    long = ends - starts >= LINE_MIN
    out = []
    for a, b in zip(starts[long].tolist(), ends[long].tolist(), strict=True):
        line = text[a:b]
        s, e = a + len(line) - len(line.lstrip()), a + len(line.rstrip())
        if LINE_MIN <= e - s <= WINDOW and code[e] - code[s] <= CODE_SHARE * (e - s):
            out.append((s, e))
    return out


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

    def window_scores(self, text: str, spans: list[tuple[int, int]]) -> np.ndarray:
        """Injection probability of each (start, end) window of `text`, from one pass over it:
        the text's n-grams are hashed once, and each window counts those inside it (a window
        that starts or ends inside a word also reads the character beyond it, where scoring the
        window alone would read a padding space). One window over the whole text scores as
        `scores([text])`. The spans come in order, starts and ends each non-decreasing (as
        `windows` and `prose_lines` give them): the kernel walks them once."""
        flat = flatten(text)
        found = grams(flat, self.n_features)
        bounds = ngram_kernel.flat_positions(
            _codes(text), _spaces(), np.array(spans, np.int64).ravel()
        )
        lo, hi = (bounds[0::2] - 1).clip(0, None), bounds[1::2] + 1  # a character beyond each
        dot, squares = ngram_kernel.window_sums(
            found, lo, hi, len(flat), self.coef, _scratch(2 * self.n_features)
        )
        norm = np.sqrt(squares)
        z = dot / np.where(norm > 0, norm, 1.0) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float32)


_LOCAL = threading.local()


def _scratch(size: int) -> np.ndarray:
    """This thread's scratch table of `size` int32 cells (holding what earlier calls left)."""
    table: np.ndarray | None = getattr(_LOCAL, "table", None)
    if table is None or len(table) < size:
        table = _LOCAL.table = np.empty(size, np.int32)
    return table


@cache
def default_model() -> InjectionModel:
    _word_chars(), _spaces()  # one-off tables (0.3 s): built with the model, not on a request
    model = InjectionModel.load()
    model.window_scores("warm up", [(0, 7)])  # the compiled kernels' load (or first compile)
    return model

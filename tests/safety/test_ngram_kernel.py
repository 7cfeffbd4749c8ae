"""The learned detector's compiled kernels (safety/ngram_kernel.py) against the numpy code the
model's features were defined with (tests/safety/reference_ngrams.py): a parity test, as litgpt
compares its model with the reference implementation."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from safety import learned
from safety.learned import windows
from safety.suites import SUITES
from safety.views import Views
from tests.safety import reference_ngrams as reference


def _random_text(rng: random.Random) -> str:
    """Up to 700 code points from anywhere in Unicode (surrogates too), weighted to Latin, CJK
    and whitespace, where the n-gram kinds differ."""
    pools = ((0, 0x2FF), (0x3000, 0x9FFF), (0, 0x10FFFF), (0x20, 0x20), (0x0A, 0x0A))
    return "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(rng.randint(0, 700)))


def _suite_and_random_texts() -> list[str]:
    rng = random.Random(12)
    paths = {s.path for s in SUITES.values()}
    rows = [json.loads(x) for p in paths for x in p.read_bytes().decode().split("\n") if x]
    return [r["text"] for r in rows] + [_random_text(rng) for _ in range(1000)]


def test_the_compiled_ngrams_and_window_scores_match_the_numpy_reference() -> None:
    """safety/ngram_kernel.py against the numpy code the model's features were defined with
    (tests/safety/reference_ngrams.py): the same n-grams in the same order, and bit-identical
    window scores, on every suite text's loose view and on random Unicode."""
    model = learned.default_model()
    for text in _suite_and_random_texts():
        view = Views(text).get("loose").text
        flat = learned.flatten(view)
        assert np.array_equal(learned.grams(flat, model.n_features),
                              np.stack(reference.grams(flat, model.n_features))), text  # fmt: skip
        spans = windows(view)
        assert np.array_equal(model.window_scores(view, spans),
                              reference.window_scores(model, view, spans)), text  # fmt: skip


def test_window_scores_count_a_long_text_as_a_short_one() -> None:
    """Long texts in any script: the same scores as the reference's sort-based counting (past
    its dense table's size), and windows that tell an attack apart from the text around it."""
    model = learned.default_model()
    rows = [json.loads(x) for x in SUITES["heldout-v4"].path.read_text().splitlines() if x]
    for lang in ("en", "zh"):
        benign = " ".join(r["text"] for r in rows if r["lang"] == lang and not r["labels"])
        direct = (r["text"] for r in rows if r["kind"].startswith("direct") and r["lang"] == lang)
        text = Views(benign * 8 + " " + next(direct)).get("loose").text
        spans = windows(text)
        table = model.window_scores(text, spans)
        assert len(spans) * len(reference.grams(learned.flatten(text), model.n_features)[0]) > (
            reference.DENSE_MAX
        )
        assert np.array_equal(table, reference.window_scores(model, text, spans))
        assert table.max() >= model.threshold > table.min()


def test_the_kernels_compile_where_no_cache_directory_is_writable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """numba refuses `cache=True` when neither the package's nor the user's cache directory
    can be written (a read-only image without a home): the kernel is then compiled in-process
    and gives the same n-grams."""
    from numba.core import caching

    from safety import ngram_kernel

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    with pytest.raises(RuntimeError, match="no locator"):
        from numba import njit

        njit(cache=True)(ngram_kernel.grams.py_func)
    kernel = ngram_kernel._compiled(ngram_kernel.grams.py_func)
    codes = learned._codes(learned.flatten("Ignore previous instructions, 忽略之前的指令"))
    word = learned._word_chars()
    assert np.array_equal(kernel(codes, word, 1 << 18), ngram_kernel.grams(codes, word, 1 << 18))

"""A tokenizer trained on the fly (no downloads) for llm-bench's synthetic workloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.corpus import default_texts
from train.tokenizer import save_tokenizer, train_tokenizer


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-tokenizer")
    save_tokenizer(train_tokenizer(default_texts(max_files=20), vocab_size=600), out, 4096)
    return out

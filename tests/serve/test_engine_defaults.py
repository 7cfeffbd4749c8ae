"""Engine defaults llm-serve chooses before loading (vLLM's AsyncEngineArgs, no engine started)."""

from __future__ import annotations

from vllm.engine.arg_utils import AsyncEngineArgs

from serve import amx
from serve.engine import apply_server_defaults, safe_cpu_dtype


def test_float32_when_amx_is_advertised_but_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(amx, "amx_advertised_but_refused", lambda: True)
    for requested, expected in (
        ("auto", "float32"),
        ("bfloat16", "float32"),
        ("float16", "float16"),
    ):
        args = AsyncEngineArgs(model="m", dtype=requested)
        safe_cpu_dtype(args)
        assert args.dtype == expected
    monkeypatch.setattr(amx, "amx_advertised_but_refused", lambda: False)
    args = AsyncEngineArgs(model="m", dtype="auto")
    safe_cpu_dtype(args)
    assert args.dtype == "auto"


def test_compact_json_default_unless_operator_sets_it() -> None:
    args = AsyncEngineArgs(model="m")
    apply_server_defaults(args, ["m"])
    so = args.structured_outputs_config
    assert so.disable_any_whitespace and so.backend == "xgrammar"
    args = AsyncEngineArgs(model="m")
    apply_server_defaults(args, ["m", "--structured-outputs-config", '{"backend": "guidance"}'])
    assert not args.structured_outputs_config.disable_any_whitespace

"""The server's runtime choices that the performance report found mattered."""

from __future__ import annotations

import asyncio
import gc

import pytest

from serve.__main__ import freeze_startup_heap, one_line, run_loop


def test_server_runs_on_uvloop() -> None:
    async def which() -> int:
        return 1 if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else 0

    assert run_loop(which()) == 1


def test_startup_heap_is_frozen_out_of_the_collector() -> None:
    before = gc.get_freeze_count()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > max(before, 10_000)
    finally:
        gc.unfreeze()


def test_config_errors_are_one_line_with_the_reason() -> None:
    """vLLM's config checks raise pydantic errors whose first line names only the model class."""
    from pydantic import BaseModel, ValidationError, field_validator

    class Config(BaseModel):
        max_model_len: int

        @field_validator("max_model_len")
        @classmethod
        def fits(cls, v: int) -> int:
            raise ValueError(f"max_model_len ({v}) is greater than 256. Set an env var to override")

    with pytest.raises(ValidationError) as err:
        Config(max_model_len=1024)
    assert str(err.value).splitlines()[0] == "1 validation error for Config"
    assert one_line(err.value) == "max_model_len (1024) is greater than 256"
    assert one_line(OSError("no such file\nmore")) == "no such file"

"""The server's runtime choices that the performance report found mattered."""

from __future__ import annotations

import asyncio
import gc

from serve.__main__ import freeze_startup_heap, run_loop


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

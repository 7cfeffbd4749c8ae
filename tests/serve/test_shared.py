"""What several API processes share (issue 17, `--api-servers N`): one admission bound, one fair
order, one headroom and one count of each key's running requests, kept by the ledger process;
Prometheus values added up over processes. Two shims over one ledger stand for two processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve.access import keyring
from serve.errors import TooManyRequests
from serve.fair import FairShare
from serve.keys import KeysError
from serve.settings import ServerSettings
from serve.shared import SharedAdmission, SharedFair, SharedHeadroom, SharedRunning, start_ledger


@pytest.fixture(scope="module")
def ledger() -> Iterator[Any]:
    manager, proxy = start_ledger()
    yield proxy
    manager.shutdown()


def test_one_admission_bound_over_two_processes(ledger: Any) -> None:
    first, second = SharedAdmission(ledger, 3), SharedAdmission(ledger, 3)
    held = first.acquire(2)
    with pytest.raises(TooManyRequests, match="2 of 3 sequences admitted"):
        second.acquire(2)  # a per-process count would admit it (0 + 2 <= 3)
    held.release()
    with second.acquire(3):
        with pytest.raises(TooManyRequests):
            first.acquire(1)
    first.acquire(3).release()  # everything given back


def test_the_fair_order_is_one_order(ledger: Any) -> None:
    """Tags handed out by two processes are those one FairShare hands out in the same order."""
    one, a, b = FairShare(), SharedFair(ledger), SharedFair(ledger)
    calls = [("heavy", 1.0, 500), ("heavy", 1.0, 500), ("light", 1.0, 50), ("heavy", 1.0, 500)]
    ours = [(a if i % 2 else b).admit(*c)[1] for i, c in enumerate(calls)]
    assert ours == [one.admit(*c)[1] for c in calls]
    assert ours[2] < ours[1]  # the light key's request goes before the heavy key's backlog


async def test_headroom_waits_for_another_process_to_leave(ledger: Any) -> None:
    first, second = SharedHeadroom(ledger, 2), SharedHeadroom(ledger, 2)
    await first.enter("k", 2)
    waiting = asyncio.create_task(second.enter("k", 1))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the key holds the whole headroom, in the other process
    await second.enter("other", 2)  # another key is not held up
    first.leave("k", 2)
    await asyncio.wait_for(waiting, 2)
    second.leave("k", 1)
    second.leave("other", 2)


def test_running_requests_per_key_are_counted_once(ledger: Any) -> None:
    """The test and the count are one step: two processes racing for a key's last place
    cannot both get it."""
    a, b = SharedRunning(ledger), SharedRunning(ledger)
    assert a.enter("team", 2) and b.enter("team", None)
    assert a.count("team") == b.count("team") == 2
    assert not b.enter("team", 2)  # full, whichever process asks
    a.leave("team")
    assert b.enter("team", 2)
    for _ in range(3):
        a.leave("team")
    assert b.count("team") == 0


def _keys(tmp_path: Path, limits: str) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - name: team\n    sha256: {'a' * 64}\n    {limits}\n")
    return path


def test_per_minute_limits_need_a_shared_store_with_several_processes(tmp_path: Path) -> None:
    path = str(_keys(tmp_path, "rpm: 5"))
    with pytest.raises(KeysError, match="key 'team' has rpm/tpm limits.*redis://"):
        keyring(ServerSettings(keys_file=path, api_servers=2))
    assert not keyring(ServerSettings(keys_file=path, api_servers=1)).open
    shared = ServerSettings(keys_file=path, api_servers=2, limits_store="redis://x:6379")
    assert not keyring(shared).open
    concurrent = str(_keys(tmp_path, "max_concurrent: 2"))  # counted by the ledger: fine
    assert not keyring(ServerSettings(keys_file=concurrent, api_servers=2)).open


def test_metrics_add_up_over_processes(tmp_path: Path) -> None:
    """Two processes count requests and hold one in flight each; /metrics from a third shows
    the sums (prometheus_client's multiprocess mode, as with --api-servers)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = textwrap.dedent("""
        from serve.metrics import ServerMetrics
        m = ServerMetrics()
        m.request_done("/v1/completions", 200, 0.1)
        m.in_flight.inc()
        m.bind_engine(lambda: 3)
        m.refresh()
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True)
    show = textwrap.dedent("""
        from prometheus_client import generate_latest
        from serve.metrics import ServerMetrics
        print(generate_latest(ServerMetrics().exposition()).decode())
    """)
    out = subprocess.run(
        [sys.executable, "-c", show], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'llm_deploy_requests_total{endpoint="/v1/completions",status="200"} 2.0' in out
    assert "llm_deploy_in_flight_requests 2.0" in out  # livesum: one per process
    assert "llm_deploy_engine_unfinished_requests 6.0" in out  # each wrote its own count

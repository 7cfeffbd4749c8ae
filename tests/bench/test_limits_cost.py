"""benchmarks.limits_cost times the server's own limit path: it must really admit, count and
settle (a benchmark of a path that skipped the checks would report a cost of nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from benchmarks import limits_cost
from serve.errors import TooManyRequests
from serve.keys import KeyRing
from serve.metrics import ServerMetrics
from serve.quota import Quotas
from serve.usage import UsageStore


def test_the_timed_path_counts_every_request_and_its_tokens(tmp_path: Path) -> None:
    spec = limits_cost.spec(3)
    ring = KeyRing([], spec)
    usage = UsageStore(tmp_path / "u.db")
    quotas = Quotas("memory://", usage, ServerMetrics(CollectorRegistry()), fair=True)
    out = limits_cost.time_path(ring, quotas, "key-2", 25)
    assert set(out) == {"identify", "admit", "settle", "total"}
    assert out["total"]["p50_ms"] >= out["admit"]["p50_ms"] > 0
    used = usage.summary("team-2")["team-2"]
    assert used["requests"] == 25
    assert (used["prompt_tokens"], used["completion_tokens"]) == (25 * 128, 25 * 64)
    assert quotas.running.count("team-2") == 0  # every grant settled


def test_the_timed_key_is_really_limited(tmp_path: Path) -> None:
    """The same path with a tight rpm refuses: the limits are live, not skipped."""
    spec = limits_cost.spec(1)
    spec.keys[0].rpm = 5
    quotas = Quotas("memory://", UsageStore(tmp_path / "u.db"), fair=True)
    with pytest.raises(TooManyRequests):
        limits_cost.time_path(KeyRing([], spec), quotas, "key-0", 6)


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cost.json"
    assert (
        limits_cost.main(["--requests", "30", "--warmup", "5", "--keys", "4", "--json", str(out)])
        == 0
    )
    doc = json.loads(out.read_text())
    assert set(doc["rows"]) == {"--api-key (no limits)", "keys file, memory://"}
    assert doc["rows"]["--api-key (no limits)"]["admit"]["p50_ms"] < 0.01  # nothing to admit
    assert "| keys file, memory:// |" in capsys.readouterr().out


def test_bad_arguments_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        limits_cost.main(["--requests", "0"])
    assert exc.value.code == 2
    assert "--requests and --keys must be at least 1" in capsys.readouterr().err

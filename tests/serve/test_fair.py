"""Fair order between keys (issue 15, requirement 3): start-time fair queuing tags that become
the engine's scheduling priority."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from serve.fair import FairShare
from tests.fakes import FakeEngine
from tests.serve.conftest import Factory


def test_a_light_key_goes_before_a_heavy_keys_backlog() -> None:
    fair = FairShare()
    heavy = [fair.admit("heavy", 1.0, 100) for _ in range(10)]  # ten queued at once
    _, light = fair.admit("light", 1.0, 100)
    assert light == heavy[0][1] < min(p for _, p in heavy[1:])  # only the oldest is ahead
    for ticket, _ in heavy[:3]:
        fair.done(ticket)
    _, light2 = fair.admit("light", 1.0, 100)
    assert light2 < heavy[5][1]  # still ahead of most of the backlog


def test_while_both_are_busy_shares_follow_the_weights() -> None:
    fair = FairShare()
    order = []
    for _ in range(30):  # both keep requests queued; the engine runs the lowest tag next
        for key, weight in (("a", 1.0), ("b", 2.0)):
            order.append((fair.admit(key, weight, 10)[1], key))
    first = [k for _, k in sorted(order)[:30]]
    assert first.count("b") == 2 * first.count("a")


async def test_with_a_keys_file_the_engine_gets_the_fair_priority(
    tmp_path: Path, make_client: Factory
) -> None:
    keys = tmp_path / "keys.yaml"
    lines = ["keys:"]
    for name in ("heavy", "light"):
        lines += [f"  - name: {name}", f"    sha256: {hashlib.sha256(name.encode()).hexdigest()}"]
    keys.write_text("\n".join(lines) + "\n")
    engine = FakeEngine(delay=0.01, max_model_len=256)
    _, client = make_client(
        engine, keys_file=str(keys), usage_db=str(tmp_path / "u.sqlite3"), max_queued_requests=64
    )

    def post(key: str):  # type: ignore[no-untyped-def]
        body = {"prompt": "abcd", "max_tokens": 8}
        return client.post("/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"})

    backlog = [asyncio.ensure_future(post("heavy")) for _ in range(8)]
    while len(engine.seen) < 8:
        await asyncio.sleep(0.005)
    assert (await post("light")).status_code == 200
    await asyncio.gather(*backlog)
    priorities = [params.priority for _, params in engine.seen]
    assert priorities[8] < sorted(priorities[:8])[1]  # light: ahead of all but the first heavy

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


async def test_with_a_keys_file_a_light_key_starts_beside_a_heavy_backlog(
    tmp_path: Path, make_client: Factory
) -> None:
    """Fair priorities reach the engine, and the heavy key never holds the whole batch (4 here),
    so the light key's request runs while the heavy key's backlog waits."""
    keys = tmp_path / "keys.yaml"
    lines = ["keys:"]
    for name in ("heavy", "light"):
        lines += [f"  - name: {name}", f"    sha256: {hashlib.sha256(name.encode()).hexdigest()}"]
    keys.write_text("\n".join(lines) + "\n")
    engine = FakeEngine(delay=0.01, max_model_len=256, max_num_seqs=4)
    _, client = make_client(
        engine, keys_file=str(keys), usage_db=str(tmp_path / "u.sqlite3"), max_queued_requests=64
    )

    def post(key: str, prompt: str):  # type: ignore[no-untyped-def]
        body = {"prompt": prompt, "max_tokens": 8}
        return client.post("/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"})

    backlog = [asyncio.ensure_future(post("heavy", "hhhh")) for _ in range(8)]
    while len(engine.running) < 3:
        await asyncio.sleep(0.002)
    assert len(engine.running) == 3  # one slot of four stays free for other keys
    light = asyncio.ensure_future(post("light", "llll"))
    while len(engine.running) < 4:
        await asyncio.sleep(0.002)
    assert len(engine.seen) == 4  # the light request went in beside the three heavy ones
    assert (await light).status_code == 200
    assert all(r.status_code == 200 for r in await asyncio.gather(*backlog))
    tags = {tuple(ids): [] for ids, _ in engine.seen}
    for ids, params in engine.seen:
        tags[tuple(ids)].append(params.priority)
    (light_tag,) = tags[tuple(engine.tokenizer.encode("llll"))]
    heavy_tags = tags[tuple(engine.tokenizer.encode("hhhh"))]
    assert light_tag < sorted(heavy_tags)[1]  # ahead of all but the first heavy request

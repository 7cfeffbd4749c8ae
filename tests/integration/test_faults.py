"""Faults, proven on the real engine (issue 13): the engine core killed under 16 streams, SIGTERM
with streams in flight, a client that leaves mid-stream, and overload. Tests that stop a server
use their own (the kill ends this module's 80M server, last in the file); the session's shared
one keeps serving."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from tests.integration.conftest import MODEL_NAME, SERVER_FLAGS

pytestmark = pytest.mark.integration
LONG = {"model": MODEL_NAME, "prompt": "x", "max_tokens": 400, "ignore_eos": True, "stream": True}


@contextmanager
def own_server(model: Path, log: Path, *flags: str) -> Iterator[ServerProcess]:
    port = free_port()
    argv = llm_serve_argv(str(model), port, *SERVER_FLAGS, *flags)
    proc = ServerProcess(argv, port, log).start()
    try:
        yield proc
    finally:
        proc.stop()


class Streams:
    """n streaming requests in threads; each keeps its SSE data lines."""

    def __init__(self, base_url: str, n: int, body: dict[str, object] = LONG) -> None:
        self.lines: list[list[str]] = [[] for _ in range(n)]
        self.status: list[int | None] = [None] * n
        self.threads = [
            threading.Thread(target=self._run, args=(base_url, i, body), daemon=True)
            for i in range(n)
        ]
        for t in self.threads:
            t.start()

    def _run(self, base_url: str, i: int, body: dict[str, object]) -> None:
        try:
            with httpx.stream("POST", base_url + "/v1/completions", json=body, timeout=120) as r:
                self.status[i] = r.status_code
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        self.lines[i].append(line[6:])
        except httpx.HTTPError as exc:  # recorded: the assertions say what was expected
            self.lines[i].append(f"transport error: {exc!r}")

    def wait_started(self, streams: int | None = None, deadline_s: float = 60) -> None:
        """Until `streams` of them (default: all) have received tokens."""
        want = len(self.lines) if streams is None else streams
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and self.started() < want:
            time.sleep(0.01)
        assert self.started() >= want, [len(x) for x in self.lines]

    def wait_answered(self, deadline_s: float = 30) -> None:
        """Until every request has its status line."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and None in self.status:
            time.sleep(0.01)

    def started(self) -> int:
        return sum(len(x) >= 2 for x in self.lines)

    def join(self, timeout: float = 120) -> None:
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads)


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ~80M benchmark Llama (random weights, built in seconds): slow enough on any CPU that
    a generation is still running when its first chunk arrives, which the tiny model is not."""
    from benchmarks.bench_model import build_bench_model

    return Path(build_bench_model(tmp_path_factory.mktemp("models") / "m80"))


@pytest.fixture(scope="module")
def slow_server(
    slow_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server on the 80M model for the client that leaves, then for the kill (which ends
    it: the tests run in this file's order)."""
    log = tmp_path_factory.mktemp("slow") / "slow.log"
    with own_server(slow_model, log, "--max-num-seqs", "16") as srv:
        yield srv


def test_sigterm_lets_streams_finish(tiny_model: Path, tmp_path: Path) -> None:
    """Streams in flight finish with [DONE], new requests are refused, exit 0."""
    body = {**LONG, "max_tokens": 120}
    # a grace far above the streams' time: under the other worker's load on a slow 2-core CPU,
    # the default 30 s once ran out before the four streams' 120 tokens did (AVX2-only EPYC)
    with own_server(tiny_model, tmp_path / "term.log", "--shutdown-grace", "120") as srv:
        streams = Streams(srv.base_url, 4, body)
        streams.wait_started()
        srv.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if httpx.get(srv.base_url + "/ready", timeout=5).status_code == 503:
                break
            time.sleep(0.05)
        refused = httpx.post(srv.base_url + "/v1/completions", json={"prompt": "x"}, timeout=5)
        assert refused.status_code == 503 and refused.headers.get("retry-after")
        streams.join()
        for lines in streams.lines:
            # parsed: a chunk whose generated text is the word "error" reads '"text":"error"'
            events = [json.loads(x) for x in lines[:-1]]
            assert lines[-1] == "[DONE]" and not any("error" in e for e in events), lines[-3:]
            assert json.loads(lines[-2])["choices"][0]["finish_reason"] == "length"
        assert srv.wait(60) == 0


def unfinished(base_url: str) -> float:
    for line in httpx.get(base_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("llm_deploy_engine_unfinished_requests "):
            return float(line.split()[1])
    raise AssertionError("no llm_deploy_engine_unfinished_requests on /metrics")


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def server_log_tail(srv: ServerProcess) -> str:
    return srv.log_path.read_text(errors="replace")[-3000:]


def test_a_client_that_leaves_mid_stream_frees_the_engine(slow_server: ServerProcess) -> None:
    """Leaving mid-stream aborts every sequence of the request in the engine."""
    body = {**LONG, "n": 8, "max_tokens": 300}
    srv = slow_server
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", srv.base_url + "/v1/completions", json=body) as r:
            assert r.status_code == 200, r.read()
            # held in a name: a dropped line iterator is closed, and closes the connection
            lines = r.iter_lines()
            first = json.loads(next(x for x in lines if x.startswith("data: "))[6:])
            choices = first.get("choices")
            # generation is under way (not an error event, nothing finished or blocked yet)
            assert choices and all(c["finish_reason"] is None for c in choices), first
            assert wait_for(lambda: unfinished(srv.base_url) >= 1, 10), server_log_tail(srv)
        # leaving the block dropped the connection
        assert wait_for(lambda: unfinished(srv.base_url) == 0, 15), server_log_tail(srv)


def test_engine_killed_under_16_streams(slow_server: ServerProcess) -> None:
    """Every stream ends with an error event and [DONE], /ready stops answering 200, the server
    exits 1 and leaves no process behind. On the 80M model, so all 16 are mid-generation."""
    srv = slow_server
    assert srv.proc is not None
    streams = Streams(srv.base_url, 16)
    streams.wait_started()
    family = psutil.Process(srv.proc.pid).children(recursive=True)
    assert family, "the engine core runs in a child process"
    for child in family:
        os.kill(child.pid, signal.SIGKILL)
    streams.join()
    broken = 0
    for lines in streams.lines:
        assert lines[-1] == "[DONE]", lines[-3:]
        last = json.loads(lines[-2])
        # a stream still generating ends in an error event; one that had already received
        # its 400 tokens ends normally (seen on a faster CPU, where the first of 16 threads'
        # streams can finish before the sixteenth has its first token)
        if "error" in last:
            broken += 1
        else:  # the whole answer (400 tokens come in far more than 50 chunks)
            assert last["choices"][0]["finish_reason"] == "length", lines[-3:]
            assert len(lines) > 50, lines[-3:]
    assert broken >= 8, f"only {broken} of 16 streams were still running at the kill"
    try:
        assert httpx.get(srv.base_url + "/ready", timeout=5).status_code != 200
    except httpx.TransportError:
        pass  # already gone
    assert srv.wait(60) == 1
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

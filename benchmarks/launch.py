"""Start a server process, wait for readiness with a deadline, stop it cleanly.

Used by the integration tests and the benchmarks, for our server and for vLLM's own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A server subprocess; `ready_path` answers 200 once it can serve."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        log_path: Path,
        ready_path: str = "/ready",
        env: dict[str, str] | None = None,
        startup_timeout: float = 300.0,
    ) -> None:
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.ready_path = ready_path
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"server not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:  # engine processes left behind by a crash
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def llm_serve_argv(model: str, port: int, *extra: str) -> list[str]:
    """Our server, run with this interpreter."""
    return [
        sys.executable,
        "-m",
        "serve",
        model,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        *extra,
    ]


def vllm_serve_argv(model: str, port: int, *extra: str) -> list[str]:
    """vLLM's own OpenAI server (the `vllm` console script fails under vllm-cpu)."""
    return [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        *extra,
    ]


@contextmanager
def both_servers(
    model: str, flags: list[str], raw: Path, tag: str
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """llm-serve and vLLM's own server on the same checkpoint and engine flags, up at once
    (logs: raw/{tag}-llm-serve.log, raw/{tag}-vllm.log); stopped on exit."""
    p1, p2 = free_port(), free_port()
    with (
        ServerProcess(llm_serve_argv(model, p1, *flags), p1, raw / f"{tag}-llm-serve.log") as a,
        ServerProcess(
            vllm_serve_argv(model, p2, *flags), p2, raw / f"{tag}-vllm.log", ready_path="/health"
        ) as b,
    ):
        yield a, b

"""llm-serve: parse vLLM's engine flags + ours -> settings -> engine -> app -> uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, MutableSequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from vllm.entrypoints.launchers.launcher import NoSignalServer

from serve import logs
from serve.settings import ServerSettings, add_arguments, from_namespace

if TYPE_CHECKING:
    from fastapi import FastAPI
    from vllm.engine.arg_utils import AsyncEngineArgs

    from safety.guard import Guard
    from serve.engine import VLLMEngine

log = logging.getLogger("serve.main")


def build_parser() -> argparse.ArgumentParser:
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(
        prog="llm-serve", description="OpenAI-compatible server over the vLLM engine."
    )
    parser.add_argument("model_tag", nargs="?", help="model directory (same as --model)")
    AsyncEngineArgs.add_cli_args(parser)
    add_arguments(parser)
    return parser


class DrainingServer(NoSignalServer):
    """On SIGTERM/SIGINT: /ready turns 503 and new requests are refused at once; the listener
    closes after `drain_delay`; in-flight requests then get `shutdown_grace` seconds.

    vLLM's uvicorn server underneath, for its accept loop: with `peer_loads` (several API
    processes on one socket) a pending connection goes to the process with the fewest open
    connections, not to whichever wakes first. Its signal handling is replaced by ours."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_drain: Callable[[], None],
        drain_delay: float,
        peer_loads: tuple[MutableSequence[int], int] | None = None,
    ) -> None:
        super().__init__(config, peer_loads=peer_loads)
        self._on_drain = on_drain
        self._drain_delay = drain_delay
        self.exit_code = 0

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, minus re-raising the signal afterwards: that would kill the process
        before the engine is shut down."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in original.items():
                signal.signal(s, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_drain()
        if self._drain_delay > 0 and not self.should_exit:
            threading.Timer(self._drain_delay, super().handle_exit, (sig, frame)).start()
        else:
            super().handle_exit(sig, frame)


def freeze_startup_heap() -> None:
    """Take what is alive after startup (torch, transformers, vLLM, the tokenizer: hundreds of
    thousands of objects) out of the collector's reach, as vLLM's own server does. Otherwise
    every oldest-generation collection walks all of it: a pause in the middle of streaming, and
    on a small machine CPU taken from the engine."""
    gc.collect()
    gc.freeze()


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run the server on uvloop, as vLLM's own server does: the default asyncio loop cost this
    frontend twice vLLM's CPU per streamed token (py-spy: half of it in the loop's own code),
    and on a small machine every frontend cycle is taken from the engine."""
    try:
        import uvloop
    except ImportError:  # not on every platform; the stdlib loop works, only slower
        return asyncio.run(main)
    return uvloop.run(main)


async def _watch_engine(engine: object, server: DrainingServer, tick: Callable[[], None]) -> None:
    """A dead engine is not a healthy server: report it and exit non-zero so it is restarted.
    `tick` runs each second (the metrics other API processes cannot read at a scrape)."""
    while not server.should_exit:
        if getattr(engine, "dead", False):
            log.error("engine died; shutting down so the supervisor restarts the server")
            server.exit_code = 1
            server.should_exit = True
            return
        tick()
        await asyncio.sleep(1.0)


async def _start_engine(engine_args: AsyncEngineArgs) -> VLLMEngine:
    from serve.engine import VLLMEngine, is_cpu, self_test

    engine = VLLMEngine.start(engine_args)
    try:
        await self_test(engine)
        return engine
    except BaseException as exc:
        engine.shutdown()
        if not isinstance(exc, Exception):  # SIGTERM (SystemExit) or cancelled: no retry
            raise
        if not is_cpu() or engine.dtype == "float32":
            raise RuntimeError(f"the engine cannot serve short prompts: {exc}") from None
        log.warning(
            "short-prompt self-test killed the engine; restarting in float32",
            extra={"dtype": engine.dtype},
        )
    engine_args.dtype = "float32"
    engine = VLLMEngine.start(engine_args)
    await self_test(engine)
    return engine


async def serve(settings: ServerSettings, engine_args: AsyncEngineArgs, guard: Guard | None) -> int:
    """Start the engine, then serve until told to stop; the engine is shut down on every way
    out, a SIGTERM during start-up included."""
    engine = await _start_engine(engine_args)
    try:
        return await _serve_with(engine, settings, guard)
    finally:
        engine.shutdown()
        log.info("engine shut down")


async def _serve_with(
    engine: VLLMEngine,
    settings: ServerSettings,
    guard: Guard | None,
    sock: socket.socket | None = None,
    ledger: Any = None,
    peer_loads: tuple[MutableSequence[int], int] | None = None,
) -> int:
    """Serve the app over `engine` until told to stop: on host:port, or on `sock` with the
    counters of `ledger` and the accept balance of `peer_loads` (one of several API processes,
    serve.scaleout)."""
    app = _app(engine, settings, guard, ledger)
    service = app.state.service

    def on_drain() -> None:
        service.core.draining = True

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        access_log=False,
    )
    server = DrainingServer(config, on_drain, settings.drain_delay, peer_loads)
    watcher = asyncio.create_task(_watch_engine(engine, server, app.state.metrics.refresh))
    freeze_startup_heap()
    log.info(
        "serving",
        extra={
            "host": settings.host,
            "port": settings.port,
            "model": service.core.model_name,
            "dtype": engine.dtype,
        },
    )
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    finally:
        watcher.cancel()
    return server.exit_code


def _app(engine: VLLMEngine, settings: ServerSettings, guard: Guard | None, ledger: Any) -> FastAPI:
    """The app, on the ledger's counters when there is one, reloading on SIGHUP."""
    from serve.access import reload_keys
    from serve.app import build_app, reload_policy

    app = build_app(settings, engine, guard=guard)
    if ledger is not None:
        from serve.shared import attach

        attach(app.state.service, ledger)
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGHUP, lambda: (reload_policy(app), reload_keys(app))
    )
    return app


def _exit_on_sigterm() -> None:
    """Until uvicorn takes SIGTERM over: leave by SystemExit, so that `finally` blocks and exit
    handlers shut down engine processes already started. The default action kills this process
    at once, and its engine-core children outlive it, holding memory and cores."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def main(argv: list[str] | None = None) -> None:
    _exit_on_sigterm()
    logs.configure()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.model_tag:
            args.model = args.model_tag
        settings = from_namespace(args)
        from serve.access import keyring

        keyring(settings)  # read the key files now: a bad one is a start-up error
        logs.configure(settings.log_level)
        from serve.app import load_guard

        guard = load_guard(settings.safety_policy)  # a bad policy fails before the engine loads
        from vllm.engine.arg_utils import AsyncEngineArgs

        from serve.engine import (
            apply_server_defaults,
            check_cpu_support,
            check_quantization,
            cpu_defaults,
            is_cpu,
            safe_cpu_dtype,
        )

        check_quantization(args.model)
        if is_cpu():
            check_cpu_support(args.model)
            cpu_defaults()
        engine_args = AsyncEngineArgs.from_cli_args(args)
        fair = bool(settings.keys_file)
        apply_server_defaults(engine_args, sys.argv[1:] if argv is None else argv, fair)
        if is_cpu():
            safe_cpu_dtype(engine_args)
        if settings.api_servers < 1:
            raise ValueError(f"--api-servers must be 1 or more, not {settings.api_servers}")
        if settings.api_servers > 1:
            from serve.scaleout import run_api_servers

            code = run_api_servers(settings, engine_args)
        else:
            code = run_loop(serve(settings, engine_args, guard))
    except KeyboardInterrupt:
        code = 130
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"llm-serve: error: {one_line(exc)}", file=sys.stderr)
        code = 1
    sys.exit(code)


def one_line(exc: BaseException) -> str:
    """The reason, in one line. vLLM's config checks raise pydantic ValidationErrors whose first
    line is only "1 validation error for ModelConfig": the reason is in the first error's
    message (its first sentence; the rest is advice for GPUs)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
        except (IndexError, TypeError, KeyError):
            first = None
        if isinstance(first, dict) and first.get("msg"):
            msg = str(first["msg"]).removeprefix("Value error, ")
            return msg.split(". ", 1)[0].splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()

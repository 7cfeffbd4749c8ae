"""`llm-serve --api-servers N`: N API processes in front of one engine, with vLLM's own machinery
(what `vllm serve --api-server-count N` runs).

This process binds the port (SO_REUSEPORT) and the engine's ZMQ sockets, starts the engine core
(`launch_core_engines`) and spawns the API processes (`APIServerProcessManager`). Each is an
AsyncLLM client of the engine serving the same app on the shared socket, with the counters
that must be the server's, not a process's, kept once (serve.shared), and Prometheus in
multiprocess mode (serve.metrics). SIGTERM reaches every API process, each drains as one server
does; SIGHUP is passed on to each (policy and keys reload).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from serve import logs
from serve.settings import ServerSettings

if TYPE_CHECKING:
    from vllm.engine.arg_utils import AsyncEngineArgs

log = logging.getLogger("serve.scaleout")


@dataclass
class Job:
    """What each API process is handed (it stands in for vLLM's argparse namespace)."""

    settings: ServerSettings
    engine_args: AsyncEngineArgs
    ledger: Any  # serve.shared.Ledger proxy
    max_num_queued_reqs: None = None  # vLLM's own admission counters: not used, ours are shared


@dataclass
class Ending:
    """How the wait for the processes ended: a signal (a normal stop), the counters' process
    lost, or the launcher already closing down."""

    signalled: bool = False
    lost: bool = False
    closing: bool = False

    def exit_code(self) -> int:
        return 0 if self.signalled and not self.lost else 1


def run_api_servers(settings: ServerSettings, engine_args: AsyncEngineArgs) -> int:
    """Start the engine and the API processes; wait until one fails or a signal ends them."""
    from vllm.entrypoints.launchers.launcher import create_server_socket
    from vllm.usage.usage_lib import UsageContext
    from vllm.v1.engine.utils import bind_engine_zmq_listeners, launch_core_engines
    from vllm.v1.executor import Executor
    from vllm.v1.metrics.prometheus import setup_multiprocess_prometheus
    from vllm.v1.utils import wait_for_completion_or_failure

    from serve.shared import start_ledger

    n = settings.api_servers
    setup_multiprocess_prometheus()  # type: ignore[no-untyped-call]  # before API processes start
    sock = create_server_socket((settings.host, settings.port), reuse_port=True)
    engine_args._api_process_count, engine_args._api_process_rank = n, -1
    config = engine_args.create_engine_config(usage_context=UsageContext.OPENAI_API_SERVER)
    ledger_manager, ledger = start_ledger()
    ending = Ending()
    _stop_on_signals(ending)
    _watch_ledger(ledger_manager, ending)
    listeners = bind_engine_zmq_listeners(config, n)
    servers: Any = None
    launch: Any = None
    try:
        log_stats = not engine_args.disable_log_stats
        with launch_core_engines(
            config, Executor.get_class(config), log_stats, listeners.addresses
        ) as launch:
            servers = _spawn(launch, listeners, sock, Job(settings, engine_args, ledger), n)
        log.info("serving", extra={"port": settings.port, "api_servers": n})
        wait_for_completion_or_failure(
            api_server_manager=servers,
            engine_manager=launch.engine_manager,
            coordinator=launch.coordinator,
        )
    except SystemExit:
        pass
    except Exception as exc:  # an API process or the engine failed: vLLM says which
        if not ending.signalled:
            log.error("stopping: %s", exc)
    finally:
        ending.closing = True
        _stop(servers, launch, settings)
        ledger_manager.shutdown()
        sock.close()
    return ending.exit_code()


def _spawn(launch: Any, listeners: Any, sock: socket.socket, job: Job, n: int) -> Any:
    """The API processes, through vLLM's APIServerProcessManager with our process function."""
    from vllm.v1.utils import APIServerProcessManager

    coordinator = launch.coordinator
    servers = APIServerProcessManager(
        listen_address=f"http://{job.settings.host}:{job.settings.port}",
        sock=sock,
        args=job,  # type: ignore[arg-type]
        num_servers=n,
        input_listeners=listeners.inputs,
        output_listeners=listeners.outputs,
        target_server_fn=api_process,
        stats_update_address=coordinator.get_stats_publish_address() if coordinator else None,
        tensor_queue=launch.tensor_queue,
    )
    launch.watched_frontend_processes = servers.processes
    _pass_on_sighup(servers.processes)
    return servers


def _stop(servers: Any, launch: Any, settings: ServerSettings) -> None:
    """API processes first (each drains: SIGTERM, then its grace), then the engine."""
    if servers is not None:
        servers.shutdown(timeout=settings.drain_delay + settings.shutdown_grace + 5)
    if launch is not None and launch.engine_manager is not None:
        launch.engine_manager.shutdown()
    if launch is not None and launch.coordinator is not None:
        launch.coordinator.shutdown()


def _watch_ledger(manager: Any, ending: Ending) -> None:
    """The counters' process is part of the server: without it no request is admitted. If it
    dies while serving, stop with a non-zero code (the supervisor restarts the server), as when
    an API process or the engine dies."""
    process = manager._process

    def watch() -> None:
        process.join()
        if not ending.closing and not ending.signalled:
            log.error("the shared-counter process exited (code %s); stopping", process.exitcode)
            ending.lost = True
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="ledger-watch", daemon=True).start()


def _stop_on_signals(ending: Ending) -> None:
    """SIGTERM/SIGINT end the wait (as in `vllm serve`), once."""

    def stop(_signum: int, _frame: object) -> None:
        if not ending.signalled:
            ending.signalled = True
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _pass_on_sighup(processes: list[Any]) -> None:
    def hup(_signum: int, _frame: object) -> None:
        for p in processes:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGHUP)

    signal.signal(signal.SIGHUP, hup)


def api_process(listen_address: str, sock: socket.socket, job: Job, client: dict[str, Any]) -> None:
    """One API process (spawned by APIServerProcessManager): the app on the shared socket."""
    from vllm.utils.system_utils import set_process_title

    from serve.__main__ import run_loop

    set_process_title("APIServer", str(client["client_index"]))  # as vLLM's: VLLM::APIServer_i
    logs.configure(job.settings.log_level)
    sys.exit(run_loop(_serve(sock, job, client)))


async def _serve(sock: socket.socket, job: Job, client: dict[str, Any]) -> int:
    from serve.__main__ import _serve_with
    from serve.app import load_guard
    from serve.engine import VLLMEngine, self_test

    guard = load_guard(job.settings.safety_policy)
    loads = client.get("api_server_loads")  # each process's open connections (accept balance)
    peer_loads = (loads, int(client["client_index"])) if loads is not None else None
    engine = VLLMEngine.attach(job.engine_args, client)
    try:
        await self_test(engine)
        return await _serve_with(
            engine, job.settings, guard, sock=sock, ledger=job.ledger, peer_loads=peer_loads
        )
    finally:
        engine.shutdown()

"""`make test` runs the suite on two pytest-xdist workers. The tests that share a session's vLLM
server or its quantized checkpoints keep to one worker per directory, in their usual order
(tests/integration stops its shared server last), and the integration files that start only
their own servers to one worker per file; every other test goes to whichever worker is free."""

from __future__ import annotations

import os
from typing import Any

# the directories whose session fixtures are costly to build twice (an engine, nine quantizations)
ONE_WORKER = ("integration", "quantize")
# integration tests that start only servers of their own: each file is a unit of its own
OWN_SERVERS = ("integration/test_api_servers.py", "integration/test_faults.py")


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config: Any) -> None:
    """With a worker per core, each worker's BLAS and torch (and the processes it starts) use
    one thread: two threads per worker on two cores thrashed (the injection model's retraining
    took 175 s instead of 47). Set before any of them is imported; a variable already set wins."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers >= (os.cpu_count() or 1):
        for var in THREAD_VARS:
            os.environ.setdefault(var, "1")


def unit_of_work(nodeid: str) -> str:
    """The scheduling unit of a test: its file if in OWN_SERVERS, its directory if that is in
    ONE_WORKER, else itself."""
    path = nodeid.split("::")[0]
    if path.removeprefix("tests/") in OWN_SERVERS:
        return path
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in ONE_WORKER else nodeid


def numbered(collection: list[str]) -> list[str]:
    """Node ids made unique: schemathesis gives each operation's test the same id, and the
    scope scheduler, which keys its work by id, would run only the first of them."""
    seen: dict[str, int] = {}
    out = []
    for nodeid in collection:
        k = seen[nodeid] = seen.get(nodeid, -1) + 1
        out.append(f"{nodeid}#{k}" if k else nodeid)
    return out


def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
    """xdist's own `--dist loadgroup` marks groups by rewriting node ids, which pytest 9 no
    longer lets a plugin do; its scope scheduler with our units does the same."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):  # type: ignore[misc]
        def add_node_collection(self, node: Any, collection: list[str]) -> None:
            super().add_node_collection(node, numbered(list(collection)))

        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    return ByUnit(config, log)

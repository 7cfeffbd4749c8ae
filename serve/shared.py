"""What the API processes of one server share (`llm-serve --api-servers N`): the admission bound,
each key's running requests, the fair order's tags and the fair headroom. One process keeps them
(a multiprocessing manager started before the API processes), so they are counted once, as one
process counts them; each API process swaps its own counters for proxies (`attach`). A call is
a round trip over a local socket, a few times per request and never per token.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.managers import BaseManager
from typing import TYPE_CHECKING, Any

from serve.core import Admission, Slot
from serve.errors import TooManyRequests
from serve.fair import FairShare
from serve.quota import Running

if TYPE_CHECKING:
    from serve.service import Service

HEADROOM_POLL_S = 0.005  # how often a request waiting for its key's headroom asks again


class Ledger:
    """The shared counters themselves, living in the manager's process."""

    def __init__(self) -> None:
        self.admitted = 0
        self.fair = FairShare()
        self.held: dict[str, int] = {}  # sequences each key holds (fair headroom)
        self.running = Running()  # requests each limited key has running

    def admit(self, seqs: int, limit: int) -> int | None:
        """Admit `seqs` sequences under `limit`: None when admitted, else the count held."""
        if self.admitted + seqs > limit:
            return self.admitted
        self.admitted += seqs
        return None

    def release(self, seqs: int) -> None:
        self.admitted = max(0, self.admitted - seqs)

    def fair_admit(self, key: str, weight: float, cost: int) -> tuple[int, int]:
        return self.fair.admit(key, weight, cost)

    def fair_done(self, ticket: int) -> None:
        self.fair.done(ticket)

    def hold(self, key: str, seqs: int, cap: int) -> bool:
        """Headroom.enter's test and take in one step: False while the key would fill the batch."""
        held = self.held.get(key, 0)
        if held and held + seqs > cap:
            return False
        self.held[key] = held + seqs
        return True

    def unhold(self, key: str, seqs: int) -> None:
        self.held[key] = max(0, self.held.get(key, 0) - seqs)

    def count(self, key: str) -> int:
        return self.running.count(key)

    def enter(self, key: str, limit: int | None) -> bool:
        return self.running.enter(key, limit)

    def leave(self, key: str) -> None:
        self.running.leave(key)


class LedgerManager(BaseManager):
    pass


LedgerManager.register("Ledger", Ledger)


def start_ledger() -> tuple[LedgerManager, Any]:
    """The manager process (spawned: the parent holds torch and threads) and the proxy to hand
    to the API processes."""
    manager = LedgerManager(ctx=multiprocessing.get_context("spawn"))
    manager.start()
    return manager, manager.Ledger()  # type: ignore[attr-defined]


class SharedAdmission(Admission):
    """Admission over the ledger: the bound holds across all API processes."""

    def __init__(self, ledger: Any, limit: int) -> None:
        super().__init__(limit)
        self._ledger = ledger

    def acquire(self, seqs: int) -> Slot:
        held = self._ledger.admit(seqs, self.limit)
        if held is not None:
            raise TooManyRequests(
                f"server is at capacity ({held} of {self.limit} sequences admitted); retry later",
                headers={"Retry-After": "1"},
            )
        return Slot(self, seqs)

    def release(self, seqs: int) -> None:
        self._ledger.release(seqs)


class SharedFair:
    """FairShare's two calls, answered by the ledger's one FairShare."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def admit(self, key: str, weight: float, cost: int) -> tuple[int, int]:
        ticket, priority = self._ledger.fair_admit(key, weight, cost)
        return int(ticket), int(priority)

    def done(self, ticket: int) -> None:
        self._ledger.fair_done(ticket)


class SharedHeadroom:
    """Headroom over the ledger; a waiting request asks again every few milliseconds (the
    ledger cannot wake another process's event loop)."""

    def __init__(self, ledger: Any, cap: int) -> None:
        self._ledger = ledger
        self.cap = cap

    async def enter(self, key: str, seqs: int) -> None:
        while not self._ledger.hold(key, seqs, self.cap):
            await asyncio.sleep(HEADROOM_POLL_S)

    def leave(self, key: str, seqs: int) -> None:
        self._ledger.unhold(key, seqs)


class SharedRunning:
    """Quotas' per-key running requests over the ledger."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def count(self, key: str) -> int:
        return int(self._ledger.count(key))

    def enter(self, key: str, limit: int | None) -> bool:
        return bool(self._ledger.enter(key, limit))

    def leave(self, key: str) -> None:
        self._ledger.leave(key)


def attach(service: Service, ledger: Any) -> None:
    """Swap the service's own counters for the ledger's."""
    core = service.core
    core.admission = SharedAdmission(ledger, core.admission.limit)
    if core.headroom is not None:
        core.headroom = SharedHeadroom(ledger, core.headroom.cap)  # type: ignore[assignment]
    quotas = core.quotas
    if quotas.fair is not None:
        quotas.fair = SharedFair(ledger)  # type: ignore[assignment]
    quotas.running = SharedRunning(ledger)  # type: ignore[assignment]

"""Weighted fair order between keys: start-time fair queuing over the engine's priority queue.

Each admitted request gets a start tag S = max(V, F[key]) and moves its key's finish tag to
F[key] = S + cost / weight, where cost is the tokens it may use (prompt + max_tokens for every
sequence) and V is the smallest start tag still in flight. The tag is the request's priority in
vLLM's priority scheduler (lower runs first). A key that sends ten times the traffic builds up
finish tags far ahead of V, so a light key's next request starts at about V and goes before the
heavy key's backlog; keys with equal weights get equal token shares while both are busy.
"""

from __future__ import annotations

import asyncio
import itertools


class FairShare:
    def __init__(self) -> None:
        self.finish: dict[str, float] = {}
        self.in_flight: dict[int, float] = {}  # ticket -> start tag
        self.floor = 0.0  # V when nothing is in flight: the last start tag seen
        self._tickets = itertools.count()

    def admit(self, key: str, weight: float, cost: int) -> tuple[int, int]:
        """(ticket, priority) for a request of `key` that may use `cost` tokens."""
        virtual = min(self.in_flight.values(), default=self.floor)
        start = max(virtual, self.finish.get(key, 0.0))
        self.finish[key] = start + max(cost, 1) / weight
        ticket = next(self._tickets)
        self.in_flight[ticket] = start
        return ticket, int(start)

    def done(self, ticket: int) -> None:
        start = self.in_flight.pop(ticket, None)
        if start is not None:
            self.floor = max(self.floor, start)


class Headroom:
    """No key fills the engine's whole running batch: a key holding `cap` sequences (the batch
    size less one) waits here for one of its own to finish, so another key's request always
    finds a free slot and starts at once instead of waiting behind the heavy key's batch (vLLM's
    priority scheduler reorders its queue but never preempts a running request for a waiting
    one while memory lasts). A request larger than the cap still runs when its key holds
    nothing."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held: dict[str, int] = {}
        self.waiting: dict[str, list[asyncio.Future[None]]] = {}

    async def enter(self, key: str, seqs: int) -> None:
        while self.held.get(key, 0) and self.held[key] + seqs > self.cap:
            turn = asyncio.get_running_loop().create_future()
            queue = self.waiting.setdefault(key, [])
            queue.append(turn)
            try:
                await turn
            finally:
                if turn in queue:
                    queue.remove(turn)
        self.held[key] = self.held.get(key, 0) + seqs

    def leave(self, key: str, seqs: int) -> None:
        self.held[key] = max(0, self.held.get(key, 0) - seqs)
        for turn in self.waiting.get(key, []):
            if not turn.done():
                turn.set_result(None)
                break

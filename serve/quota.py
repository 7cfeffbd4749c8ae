"""Per-key limits, checked before the engine: requests and tokens per minute, requests in
flight, and a token budget per day or month.

The per-minute counters are the `limits` library's fixed windows, in memory by default or in
Redis (`--limits-store redis://...`) so replicas share them. Tokens count the prompt at
admission and the completion when the request ends (streamed or not, aborted included), so a
key over its tokens per minute is refused from its next request on. The budget reads the usage
database (`serve.usage`), which survives restarts.

Every response to a limited key carries OpenAI's headers (`x-ratelimit-limit-requests`,
`-remaining-`, `-reset-`, and the same for tokens); a refusal is a 429 with them and
`Retry-After`.
"""

from __future__ import annotations

import calendar
import logging
import math
import time
from dataclasses import dataclass, field
from typing import NoReturn

import limits
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from serve.errors import ServiceUnavailable, TooManyRequests
from serve.fair import FairShare
from serve.keys import ANONYMOUS, Caller, KeySpec
from serve.metrics import ServerMetrics
from serve.usage import UsageStore

log = logging.getLogger("serve")
# what a shared store raises when it is unreachable (redis-py's errors are OSError subclasses
# or its own; limits wraps some in its ConfigurationError)
STORE_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)
try:
    import redis.exceptions

    STORE_ERRORS += (redis.exceptions.RedisError,)
except ImportError:  # no redis client: only memory:// stores
    pass


def duration(seconds: float) -> str:
    """OpenAI's reset format: 1s, 6m0s, 1h2m3s."""
    s = max(0, math.ceil(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


def period_start(per: str) -> str:
    """The first UTC day of the current budget period."""
    now = time.gmtime()
    return time.strftime("%Y-%m-01" if per == "month" else "%Y-%m-%d", now)


def period_left(per: str) -> float:
    """Seconds until the current budget period ends."""
    now = time.gmtime()
    if per == "day":
        return 86400 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
    days = calendar.monthrange(now.tm_year, now.tm_mon)[1] - now.tm_mday
    return days * 86400 + 86400 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)


@dataclass
class Grant:
    """An admitted request of a limited key: its headers, and the settlement at its end."""

    quotas: Quotas
    caller: Caller
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False
    priority: int = 0  # the engine's scheduling order (fair share between keys)
    ticket: int | None = None

    def settle(self, prompt_tokens: int, completion_tokens: int) -> None:
        """The request ended: count its completion, free its place, record its usage."""
        if self.settled:
            return
        self.settled = True
        if self.ticket is not None and self.quotas.fair is not None:
            self.quotas.fair.done(self.ticket)
        self.quotas.finish(self.caller, prompt_tokens, completion_tokens)


class Running:
    """Requests each limited key has running (serve.shared.SharedRunning is the same over
    several API processes)."""

    def __init__(self) -> None:
        self._n: dict[str, int] = {}

    def count(self, key: str) -> int:
        return self._n.get(key, 0)

    def enter(self, key: str, limit: int | None) -> bool:
        """Count one more request of `key`, unless it already has `limit` running (the test
        and the count in one step: with several API processes they must not be two)."""
        if limit and self._n.get(key, 0) >= limit:
            return False
        self._n[key] = self._n.get(key, 0) + 1
        return True

    def leave(self, key: str) -> None:
        self._n[key] = max(0, self._n.get(key, 0) - 1)


def _concurrency_error(name: str, spec: KeySpec) -> TooManyRequests:
    return TooManyRequests(
        f"key '{name}' already has {spec.max_concurrent} requests in flight "
        "(max_concurrent); retry when one finishes",
        headers=retry_after(1),
        code="concurrency_limit",
    )


class Quotas:
    """The limits of every keys-file key, and where usage is kept."""

    def __init__(
        self,
        store: str = "memory://",
        usage: UsageStore | None = None,
        metrics: ServerMetrics | None = None,
        fail_open: bool = False,
        fair: bool = False,
    ) -> None:
        self.limiter = FixedWindowRateLimiter(storage_from_string(store))
        self.shared = not store.startswith("memory://")  # replicas count together
        self.usage = usage
        self.metrics = metrics
        self.fail_open = fail_open
        self.store_down = False
        self.running: Running = Running()  # per replica (shared by its API processes)
        self.fair = FairShare() if fair else None

    def admit(self, caller: Caller, prompt_tokens: int, may_use: int = 0) -> Grant:
        """Count the request and its prompt, or raise 429 naming the limit (503 when a shared
        store is unreachable and the server fails closed). `may_use`: the tokens it may use in
        all (prompt + max_tokens per sequence), its cost in the fair order."""
        grant = Grant(self, caller)
        if caller.spec is None:
            return self._in_order(grant, may_use)
        try:
            grant.headers = self._take(caller.name, caller.spec, prompt_tokens)
            self._store_is("up")
        except TooManyRequests as exc:
            self._refuse(caller.name, exc)
        except STORE_ERRORS as exc:
            self._store_is("down", exc)
            if not self.fail_open:
                raise ServiceUnavailable(
                    "the rate-limit store is unreachable; retry later", headers=retry_after(5)
                ) from None
        if not self.running.enter(caller.name, caller.spec.max_concurrent):
            # the place was free at the check above, but another API process has taken it
            self._refuse(caller.name, _concurrency_error(caller.name, caller.spec))
        return self._in_order(grant, may_use)

    def _refuse(self, name: str, exc: TooManyRequests) -> NoReturn:
        if self.metrics is not None:
            self.metrics.key_rejected.labels(name, exc.code).inc()
        raise exc

    def _in_order(self, grant: Grant, may_use: int) -> Grant:
        """The admitted request's place in the fair order between keys."""
        if self.fair is not None:
            spec = grant.caller.spec
            weight = spec.weight if spec else 1.0
            grant.ticket, grant.priority = self.fair.admit(grant.caller.name, weight, may_use)
        return grant

    def finish(self, caller: Caller, prompt_tokens: int, completion_tokens: int) -> None:
        name, spec = caller.name, caller.spec
        if spec is not None:
            self.running.leave(name)
            try:
                self._settle(name, spec, prompt_tokens, completion_tokens)
            except STORE_ERRORS as exc:
                self._store_is("down", exc)
        if self.usage is not None:
            self.usage.record(name, prompt_tokens, completion_tokens)
        if self.metrics is not None and caller is not ANONYMOUS:  # no keys: nothing per key
            self.metrics.key_done(name, prompt_tokens, completion_tokens)

    # ---- the checks ----------------------------------------------------------------------------
    def _take(self, name: str, spec: KeySpec, prompt_tokens: int) -> dict[str, str]:
        self._check_concurrency(name, spec)
        self._check_budget(name, spec, prompt_tokens)
        requests = self._window(name, "requests", spec.rpm, 1)
        return requests | self._window(name, "tokens", spec.tpm, prompt_tokens)

    def _settle(self, name: str, spec: KeySpec, prompt_tokens: int, completion: int) -> None:
        if spec.tpm and completion:
            self.limiter.hit(self._item(spec.tpm), name, "tokens", cost=completion)
        if spec.budget and self.shared:
            per = spec.budget.per
            cost = prompt_tokens + completion
            if cost:
                self.limiter.hit(_budget_item(spec), name, "budget", period_start(per), cost=cost)

    def _store_is(self, state: str, exc: BaseException | None = None) -> None:
        """One log line when the shared store goes away or comes back."""
        down = state == "down"
        if down != self.store_down:
            self.store_down = down
            if down:
                how = "open (no limits)" if self.fail_open else "closed (503)"
                log.error("rate-limit store unreachable, failing %s: %s", how, exc)
            else:
                log.warning("rate-limit store reachable again")

    @staticmethod
    def _item(per_minute: int) -> limits.RateLimitItem:
        return limits.RateLimitItemPerMinute(per_minute)

    def _window(self, name: str, kind: str, per_minute: int | None, cost: int) -> dict[str, str]:
        """Take `cost` from the key's per-minute window of `kind`; its three headers."""
        if per_minute is None:
            return {}
        item = self._item(per_minute)
        if cost > per_minute or not self.limiter.test(item, name, kind, cost=max(cost, 1)):
            reset, _ = self.limiter.get_window_stats(item, name, kind)
            wait = reset - time.time() if cost <= per_minute else 60.0
            raise TooManyRequests(
                f"rate limit reached for key '{name}': {per_minute} {kind} per minute"
                + (f" (this request needs {cost})" if kind == "tokens" else ""),
                headers=self._headers(kind, per_minute, 0, wait) | retry_after(wait),
                code=f"rate_limit_{kind}",
            )
        if cost:
            self.limiter.hit(item, name, kind, cost=cost)
        reset, remaining = self.limiter.get_window_stats(item, name, kind)
        return self._headers(kind, per_minute, remaining, reset - time.time())

    @staticmethod
    def _headers(kind: str, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, remaining)),
            f"x-ratelimit-reset-{kind}": duration(reset),
        }

    def _check_concurrency(self, name: str, spec: KeySpec) -> None:
        """Before the windows are charged; `Running.enter` makes the count itself."""
        if spec.max_concurrent and self.running.count(name) >= spec.max_concurrent:
            raise _concurrency_error(name, spec)

    def _budget_used(self, name: str, spec: KeySpec) -> int | None:
        """Tokens used this period: from the shared store across replicas, else from the
        usage database (None: nothing keeps budgets)."""
        assert spec.budget is not None
        start = period_start(spec.budget.per)
        if self.shared:
            item = _budget_item(spec)
            _, remaining = self.limiter.get_window_stats(item, name, "budget", start)
            return spec.budget.tokens - remaining
        return None if self.usage is None else self.usage.tokens_since(name, start)

    def _check_budget(self, name: str, spec: KeySpec, prompt_tokens: int) -> None:
        if spec.budget is None:
            return
        used = self._budget_used(name, spec)
        if used is not None and used + prompt_tokens > spec.budget.tokens:
            raise TooManyRequests(
                f"key '{name}' has used {used} of its {spec.budget.tokens} tokens this "
                f"{spec.budget.per}",
                headers=retry_after(period_left(spec.budget.per)),
                code="budget_exceeded",
            )


def _budget_item(spec: KeySpec) -> limits.RateLimitItem:
    """The budget as a counter keyed by the period's first day, kept for longer than the
    period, so each UTC day or month starts a new one."""
    assert spec.budget is not None
    days = 2 if spec.budget.per == "day" else 32
    return limits.RateLimitItemPerDay(spec.budget.tokens, days)


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}

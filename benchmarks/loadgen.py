"""Load patterns: closed loop (at most C requests in flight) and open loop (arrivals at a rate).

Open-loop gaps are gamma-distributed with shape `burstiness` and mean 1/rate: burstiness 1 is a
Poisson process, below 1 burstier, above 1 more regular (vLLM's `--burstiness`). Both can be
combined: arrivals at a rate, capped at C in flight. Warm-up requests run first, closed loop, and
are not counted (their outputs are capped at 16 tokens); the measured run's clock starts after
them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from dataclasses import dataclass

import httpx
import numpy as np
from tqdm import tqdm

from benchmarks.client import RequestResult, Target, send
from benchmarks.workload import BenchRequest, Tokenizer

WARMUP_TOKENS = 16


@dataclass(frozen=True)
class Load:
    """One sweep point: concurrency cap (None = unbounded), arrival rate (inf = all at once)."""

    concurrency: int | None = None
    rate: float = math.inf
    burstiness: float = 1.0

    @property
    def label(self) -> str:
        parts = []
        if self.concurrency is not None:
            parts.append(f"concurrency={self.concurrency}")
        if math.isfinite(self.rate):
            kind = "poisson" if self.burstiness == 1.0 else f"gamma(k={self.burstiness:g})"
            parts.append(f"rate={self.rate:g}/s {kind}")
        return " ".join(parts) or "all at once"


def arrival_gaps(n: int, rate: float, burstiness: float, seed: int) -> list[float]:
    """Seconds to wait before each of n requests (the first leaves at once)."""
    if not math.isfinite(rate):
        return [0.0] * n
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=n)
    gaps[0] = 0.0
    return [float(g) for g in gaps]


async def _run(
    client: httpx.AsyncClient,
    target: Target,
    reqs: list[BenchRequest],
    load: Load,
    tok: Tokenizer | None,
    seed: int,
    bar: tqdm | None,
) -> tuple[list[RequestResult], float]:
    sem = asyncio.Semaphore(load.concurrency) if load.concurrency else None

    async def one(req: BenchRequest) -> RequestResult:
        if sem is None:
            res = await send(client, target, req, tok)
        else:
            async with sem:
                res = await send(client, target, req, tok)
        if bar is not None:
            bar.update(1)
        return res

    tasks = []
    t0 = time.perf_counter()
    for req, gap in zip(
        reqs, arrival_gaps(len(reqs), load.rate, load.burstiness, seed), strict=True
    ):
        if gap:
            await asyncio.sleep(gap)
        tasks.append(asyncio.create_task(one(req)))
    results = list(await asyncio.gather(*tasks))
    return results, time.perf_counter() - t0


async def run_load(
    target: Target,
    reqs: list[BenchRequest],
    load: Load,
    *,
    tok: Tokenizer | None = None,
    warmup: int = 0,
    seed: int = 0,
    timeout: float = 600.0,
    progress: bool = True,
    desc: str = "",
) -> tuple[list[RequestResult], float]:
    """Send `reqs` under `load`; returns per-request results and the measured wall time (s)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits) as client:
        if warmup:
            # short outputs: warm-up exercises the prefill and batch shapes, not the clock
            warm = [
                dataclasses.replace(r, max_tokens=min(r.max_tokens, WARMUP_TOKENS))
                for r in (reqs[i % len(reqs)] for i in range(warmup))
            ]
            await _run(
                client, target, warm, Load(concurrency=load.concurrency or warmup), tok, seed, None
            )
        bar = tqdm(total=len(reqs), desc=desc or load.label, disable=not progress, leave=False)
        try:
            return await _run(client, target, reqs, load, tok, seed, bar)
        finally:
            bar.close()

"""The server's own Prometheus metrics, in the same registry vLLM's engine metrics use.

vLLM registers its `vllm:` metrics (TTFT, inter-token latency, e2e latency, queue time,
running/waiting, KV-cache usage) in prometheus_client's default registry; /metrics exposes both.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from safety.guard import Recorder


class ServerMetrics:
    """Requests by endpoint and status, 429s, tokens, latency, in-flight requests."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._requests(registry)
        self._safety(registry)
        self._keys(registry)

    def _requests(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "llm_deploy_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=registry,
        )
        self.rejected = Counter(
            "llm_deploy_rejected_requests",
            "Requests refused by admission control (429)",
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "llm_deploy_prompt_tokens", "Prompt tokens of served requests", registry=registry
        )
        self.generation_tokens = Counter(
            "llm_deploy_generation_tokens",
            "Generated tokens of served requests",
            registry=registry,
        )
        self.latency = Histogram(
            "llm_deploy_request_latency_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.in_flight = Gauge(
            "llm_deploy_in_flight_requests",
            "Requests being served now",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.engine_unfinished = Gauge(
            "llm_deploy_engine_unfinished_requests",
            "Requests the engine holds (running + waiting); returns to 0 after aborts",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def _safety(self, registry: CollectorRegistry) -> None:
        self.safety_decisions = Counter(
            "llm_deploy_safety_decisions",
            "Safety policy decisions by category, action and direction",
            ["category", "action", "direction"],
            registry=registry,
        )
        self.safety_latency = Histogram(
            "llm_deploy_safety_filter_seconds",
            "CPU time of the safety filter's own checks (the thread that ran them, so not time "
            "the thread was preempted) per input check or per choice (output: all its chunks; "
            "llm_deploy_safety_output_chunks_total counts them)",
            ["direction"],
            buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3),
            registry=registry,
        )
        self.safety_model_latency = Histogram(
            "llm_deploy_safety_guard_model_seconds",
            "Wall time of each call to the guard model, by direction",
            ["direction"],
            buckets=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
            registry=registry,
        )
        # per choice, not per chunk: one update per choice keeps the metrics off the per-token
        # path (the stream guard adds up its chunks and reports when the choice ends)
        self.safety_held = Histogram(
            "llm_deploy_safety_held_chars",
            "The most output characters the stream guard held back at once, per choice "
            "(bounded by the policy's hold_back_chars)",
            buckets=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=registry,
        )
        self.safety_chunks = Counter(
            "llm_deploy_safety_output_chunks",
            "Output chunks the stream guard filtered",
            registry=registry,
        )
        self.safety_held_sum = Counter(
            "llm_deploy_safety_held_char_chunks",
            "Characters held back, summed over chunks (divided by output_chunks_total: the "
            "mean held after a chunk)",
            registry=registry,
        )
        self.safety_reloads = Counter(
            "llm_deploy_safety_policy_reloads",
            "Safety policy reloads (SIGHUP) by result",
            ["result"],
            registry=registry,
        )

    def _keys(self, registry: CollectorRegistry) -> None:
        self.key_requests = Counter(
            "llm_deploy_key_requests", "Finished requests by API key name", ["key"],
            registry=registry,
        )  # fmt: skip
        self.key_tokens = Counter(
            "llm_deploy_key_tokens", "Tokens by API key name and kind (prompt, completion)",
            ["key", "kind"], registry=registry,
        )  # fmt: skip
        self.key_rejected = Counter(
            "llm_deploy_key_rejected_requests", "Requests refused by a key's limits (429)",
            ["key", "limit"], registry=registry,
        )  # fmt: skip

    def key_done(self, key: str, prompt: int, completion: int) -> None:
        self.key_requests.labels(key).inc()
        self.key_tokens.labels(key, "prompt").inc(prompt)
        self.key_tokens.labels(key, "completion").inc(completion)

    def bind_engine(self, unfinished: Callable[[], int]) -> None:
        """Export the engine's own count of unfinished requests, read at scrape time (in
        multiprocess mode, each process's own count, written by `refresh`)."""
        self._unfinished = unfinished
        if not multiprocess_mode():
            self.engine_unfinished.set_function(lambda: float(unfinished()))

    def refresh(self) -> None:
        """Write the values read at scrape time (multiprocess mode: no scrape reaches the
        other processes, so each writes its own now and then)."""
        if multiprocess_mode() and getattr(self, "_unfinished", None) is not None:
            self.engine_unfinished.set(float(self._unfinished()))

    def exposition(self) -> CollectorRegistry:
        """The registry /metrics renders: this one, or every process's files in multiprocess
        mode."""
        if not multiprocess_mode():
            return self.registry
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return merged

    def request_done(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if status == 429:
            self.rejected.inc()

    def tokens(self, prompt: int, generated: int) -> None:
        self.prompt_tokens.inc(prompt)
        self.generation_tokens.inc(generated)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class SafetyMetrics(Recorder):
    """The guard's Recorder: its decisions and costs as this server's Prometheus metrics."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics
        # bound once: labels() takes a lock and a lookup
        self._latency = {d: metrics.safety_latency.labels(d) for d in ("input", "output")}

    def decision(self, direction: str, category: str, action: str) -> None:
        self.metrics.safety_decisions.labels(category, action, direction).inc()

    def latency(self, direction: str, seconds: float) -> None:
        self._latency[direction].observe(seconds)

    def model_latency(self, direction: str, seconds: float) -> None:
        self.metrics.safety_model_latency.labels(direction).observe(seconds)

    def stream(self, seconds: float, chunks: int, held: int, held_max: int) -> None:
        self._latency["output"].observe(seconds)
        self.metrics.safety_chunks.inc(chunks)
        self.metrics.safety_held_sum.inc(held)
        self.metrics.safety_held.observe(held_max)

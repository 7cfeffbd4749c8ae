"""Where the frontend's time goes: py-spy samples the API-server process of each server (the
engine core is a separate process) while llm-bench drives the same load, and the samples are
sorted by the innermost frame's owner: our code (serve/, safety/), vLLM's frontend (output
processing, detokenization, its HTTP handlers), the HTTP stack, pydantic, asyncio, other.

Figures: frontend CPU seconds per 1000 output tokens, and its share by owner. On a 2-core
machine every frontend CPU second is taken from the engine, so this is the cost that matters.

    python -m benchmarks.perf_report --profile-only   (also part of make bench)
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import cli
from benchmarks.launch import ServerProcess
from benchmarks.results import OURS, REF, RESULTS

OWNERS = (
    ("vllm", re.compile(r"(^|/)vllm/")),
    ("ours", re.compile(r"(^|/)(serve|safety)/")),
    ("http", re.compile(r"(^|/)(uvicorn|starlette|fastapi|h11|httptools|anyio)/")),
    ("pydantic", re.compile(r"(^|/)pydantic(_core)?/")),
    ("tokenizers", re.compile(r"(^|/)(tokenizers|transformers)/")),
    ("asyncio", re.compile(r"(^|/)asyncio/|selectors\.py|uvloop")),
    ("json", re.compile(r"(^|/)json/|orjson|msgspec")),
    ("zmq", re.compile(r"(^|/)zmq/")),
)
_FRAME = re.compile(r"\(([^()]*?):\d+\)$")


def owner(stack: str) -> str:
    """The owner of the innermost frame with a file path."""
    for frame in reversed(stack.split(";")):
        m = _FRAME.search(frame.strip())
        if not m:
            continue
        path = m.group(1)
        for name, pattern in OWNERS:
            if pattern.search(path):
                return name
        return "other"
    return "other"


def parse_raw(text: str) -> Counter[str]:
    """py-spy --format raw: `frame;frame;... count` per line -> samples by owner."""
    by_owner: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            by_owner[owner(stack)] += int(count)
    return by_owner


def profile(
    url: str, pid: int, model: str, rate: int, bench_args: list[str], out: Path
) -> dict[str, Any]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = out.with_suffix(".txt")
    proc = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
         "--nonblocking", "--output", str(raw), "--duration", "3600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        result = cli.run_json(
            ["--base-url", url, "--model", model, "--tokenizer", model, *bench_args,
             "--output", str(out)]
        )  # fmt: skip
    finally:
        proc.send_signal(2)  # py-spy writes its file on SIGINT
    proc.wait(60)
    samples = parse_raw(raw.read_text())
    busy = sum(samples.values()) / rate  # seconds of CPU the frontend's threads used
    tokens = result["total_output_tokens"]
    return {
        "output_throughput": result["output_throughput"],
        "duration_s": result["duration"],
        "frontend_cpu_s": round(busy, 2),
        "frontend_cpu_share_of_one_core": round(busy / result["duration"], 3),
        "frontend_cpu_ms_per_1k_tokens": round(1e6 * busy / tokens, 1) if tokens else None,
        "by_owner": {k: round(v / sum(samples.values()), 3) for k, v in samples.most_common()},
    }


def compare(
    servers: dict[str, tuple[str, int]],
    model: str,
    bench_args: list[str],
    raw: Path = RESULTS / "raw",
    rate: int = 200,
) -> dict[str, dict[str, Any]]:
    """Profile each server's frontend under the same load (one after the other)."""
    report = {}
    raw.mkdir(parents=True, exist_ok=True)  # the py-spy samples stay there for a closer look
    with tempfile.TemporaryDirectory() as tmp:
        for name, (url, pid) in servers.items():
            report[name] = profile(url, pid, model, rate, bench_args, Path(tmp) / f"{name}.json")
            shutil.copy(Path(tmp) / f"{name}.txt", raw / f"profile-{name}.txt")
            print(f"frontend profile {name}: {report[name]}", flush=True)
    return report


def request_overhead(ours: str, ref: str, model: str, labels: tuple[str, str]) -> dict[str, Any]:
    """Per-request cost of each frontend: one-token requests on a one-token prompt ("Hi"), one
    at a time, so the engine's part is a few ms and the difference is the frontend's."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "hi.jsonl"
        prompts.write_text(json.dumps({"prompt": "Hi", "max_tokens": 1}) + "\n")
        doc = cli.run_json([
            "--base-url", ours, "--compare-url", ref, "--labels", ",".join(labels),
            "--model", model, "--tokenizer", model, "--prompts", str(prompts),
            "--num-requests", "40", "--concurrency", "1", "--rounds", "2", "--warmup", "4",
            "--output", str(Path(tmp) / "overhead.json"),
        ])  # fmt: skip
    out: dict[str, Any] = {}
    for name in labels:
        e2e = [r["median_e2el_ms"] for r in doc["runs"] if r["server"] == name]
        out[f"{name}_median_e2el_ms"] = round(statistics.median(e2e), 2)
    out["difference_ms"] = round(
        out[f"{labels[0]}_median_e2el_ms"] - out[f"{labels[1]}_median_e2el_ms"], 2
    )
    print(f"per-request overhead: {out}", flush=True)
    return out


BENCH_ARGS = ["--input-len", "128", "--output-len", "64", "--num-requests", "32",
              "--concurrency", "16", "--warmup", "2"]  # fmt: skip


def compare_servers(
    ours: ServerProcess, ref: ServerProcess, model: str, raw: Path
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The frontend profile of both running servers, and the per-request overhead."""
    assert ours.proc is not None and ref.proc is not None
    servers = {OURS: (ours.base_url, ours.proc.pid), REF: (ref.base_url, ref.proc.pid)}
    return compare(servers, model, BENCH_ARGS, raw), request_overhead(
        ours.base_url, ref.base_url, model, (OURS, REF)
    )

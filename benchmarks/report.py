"""Result files: JSON (vLLM's field names), CSV (one row per run), PNG plots.

A run is a flat dict like the file `vllm bench serve --save-result` writes, plus `server` and
`load`; per-request arrays (`ttfts`, `itls`, ...) are kept in the JSON for distributions and left
out of the CSV. Files are written to a temporary name and renamed, so an interrupted run never
replaces a good result.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.client import RequestResult

ARRAYS = ("input_lens", "output_lens", "ttfts", "tpots", "itls", "e2els", "errors")
CSV_SKIP = set(ARRAYS) | {"failures", "slo"}


def per_request(results: list[RequestResult]) -> dict[str, list[Any]]:
    """vLLM's per-request arrays (seconds), in request order; failed requests keep their slot."""
    return {
        "input_lens": [r.input_len for r in results],
        "output_lens": [r.output_len for r in results],
        "ttfts": [r.ttft if r.ok else None for r in results],
        "tpots": [r.tpot if r.ok else None for r in results],
        "itls": [r.itl if r.ok else [] for r in results],
        "e2els": [r.latency if r.ok else None for r in results],
        "errors": [r.error or "" for r in results],
    }


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    _atomic_write(path, json.dumps(doc, indent=2).encode())


def write_csv(path: Path, runs: Iterable[dict[str, Any]]) -> None:
    runs = list(runs)
    rows = [{k: v for k, v in run.items() if k not in CSV_SKIP} for run in runs]
    for row, run in zip(rows, runs, strict=True):
        for kind, n in (run.get("failures") or {}).items():
            row[f"failed_{kind}"] = n
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    _atomic_write(path, buf.getvalue().encode())


def plot(path_stem: Path, runs: list[dict[str, Any]]) -> list[Path]:
    """Throughput against latency over the sweep, and TTFT / ITL distributions (CDFs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = [
        path_stem.with_name(path_stem.name + "-latency.png"),
        path_stem.with_name(path_stem.name + "-dist.png"),
    ]
    _save(_latency_figure(runs), written[0])
    _save(_distribution_figure(runs), written[1])
    plt.close("all")
    return written


def _plain(axis: Any) -> None:  # log axes without 10^x minor labels
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def _latency_figure(runs: list[dict[str, Any]]) -> Any:
    import matplotlib.pyplot as plt

    servers = list(dict.fromkeys(run.get("server", "server") for run in runs))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for n, server in enumerate(servers):
        color = f"C{n}"
        for open_loop, style in ((False, "-"), (True, "--")):
            points = _points(runs, server, open_loop)
            if not points:
                continue
            kind = "open loop" if open_loop else "closed loop"
            x = [p["output_throughput"] for p in points]
            for ax, key in zip(axes, ("median_ttft_ms", "median_tpot_ms"), strict=True):
                ax.plot(x, [p[key] for p in points], style, marker="o", color=color,
                        label=f"{server} ({kind})")  # fmt: skip
                for p, xi in zip(points, x, strict=True):
                    ax.annotate(p["load_short"], (xi, p[key]), fontsize=7)
    for ax, title in zip(axes, ("median TTFT (ms)", "median TPOT (ms)"), strict=True):
        ax.set_xlabel("output throughput (tok/s)")
        ax.set_ylabel(title)
        ax.set_yscale("log")
        _plain(ax.yaxis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("throughput against latency over the sweep")
    fig.tight_layout()
    return fig


def _distribution_figure(runs: list[dict[str, Any]]) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in runs:
        label = f"{r.get('server', '')} {r.get('load_short', '')}".strip()
        ttft = np.sort([t for t in r.get("ttfts", []) if t is not None]) * 1000
        itl = np.sort([g for gaps in r.get("itls", []) for g in gaps]) * 1000
        for ax, data in zip(axes, (ttft, itl), strict=True):
            if len(data):
                ax.plot(data, np.arange(1, len(data) + 1) / len(data), label=label)
    for ax, title in zip(axes, ("TTFT (ms)", "inter-token latency (ms)"), strict=True):
        ax.set_xlabel(title)
        ax.set_ylabel("fraction of requests" if "TTFT" in title else "fraction of gaps")
        ax.set_xscale("log")
        _plain(ax.xaxis)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("latency distributions")
    fig.tight_layout()
    return fig


def _points(runs: list[dict[str, Any]], server: str, open_loop: bool) -> list[dict[str, Any]]:
    """One point per load (the median over rounds), in sweep order."""
    import statistics

    mine = [
        r
        for r in runs
        if r.get("server", "server") == server and (r.get("request_rate") != "inf") == open_loop
    ]
    points = []
    for load in dict.fromkeys(r["load"] for r in mine):
        same = [r for r in mine if r["load"] == load]
        point = {"load_short": same[0].get("load_short", "")}
        for key in ("output_throughput", "median_ttft_ms", "median_tpot_ms"):
            point[key] = statistics.median(r[key] for r in same)
        points.append(point)
    return points


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _atomic_write(path, buf.getvalue())

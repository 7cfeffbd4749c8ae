"""Fair admission between keys, measured: a light key's TTFT while a heavy key saturates.

One llm-serve with a keys file (keys `heavy` and `light`, weight 1 each; fair order on) and,
for comparison, one with the same two keys as plain `--api-key` flags (no fair order: vLLM's
first-come-first-served queue). On each, in turn:

- solo: the light key alone, closed loop at concurrency 1;
- mixed: the heavy key at concurrency `--heavy-concurrency` (several times --max-num-seqs, so
  the engine's batch and queue stay full) while the light key runs the solo load again.

The light key's median and p99 TTFT in the mixed run over its solo values is the figure (target:
<= 1.5 on the fair server). Then llm-bench's multi-key mode on the fair server with both keys
saturating (--key-mix 1,1) gives per-key throughput and Jain's index.

    python -m benchmarks.fairness [--model DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import cli
from benchmarks.bench_model import DEFAULT_MODEL, ROOT, ensure_bench_model
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.results import update_readme

KEYS = {"heavy": "heavy-key-for-the-benchmark", "light": "light-key-for-the-benchmark"}


def keys_file(path: Path) -> Path:
    lines = ["keys:"]
    for name, key in KEYS.items():
        lines += [f"  - name: {name}", f"    sha256: {hashlib.sha256(key.encode()).hexdigest()}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def bench(
    url: str, model: str, key: str, n: int, conc: int, out: Path, args: Any
) -> dict[str, Any]:
    return cli.run_json([
        "--base-url", url, "--model", model, "--tokenizer", model, "--api-key", key,
        "--input-len", str(args.input_len), "--output-len", str(args.output_len),
        "--num-requests", str(n), "--concurrency", str(conc), "--warmup", "0",
        "--output", str(out),
    ])  # fmt: skip


def light_under_load(url: str, model: str, raw: Path, tag: str, args: Any) -> dict[str, Any]:
    """The light key's run, solo and then beside a heavy key that saturates the server from
    before the light run starts until after it ends (an llm-bench process, stopped then)."""
    solo = bench(url, model, KEYS["light"], args.light_requests, 1, raw / f"{tag}_solo.json", args)
    log = (raw / f"{tag}_heavy.log").open("w")
    # the heavy load generator (32 streams parsed as they arrive) runs at the lowest CPU
    # priority: on a 2-core machine it otherwise takes the CPU the server and the light client
    # need, and the light key's TTFT measures that contention instead of the server's queue
    # (clients of a real server run on other machines)
    heavy = subprocess.Popen(
        ["nice", "-n", "19", sys.executable, "-m", "benchmarks.cli", "--base-url", url,
         "--model", model, "--tokenizer", model, "--api-key", KEYS["heavy"],
         "--input-len", str(args.input_len), "--output-len", str(args.output_len),
         "--num-requests", str(args.heavy_requests), "--concurrency",
         str(args.heavy_concurrency), "--warmup", "0", "--no-progress"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(args.saturate_seconds)  # the engine's batch and queue fill first
        mixed = bench(url, model, KEYS["light"], args.light_requests, 1,
                      raw / f"{tag}_mixed.json", args)  # fmt: skip
        still_running = heavy.poll() is None
    finally:
        heavy.terminate()
        heavy.wait(30)
        log.close()
    if not still_running:
        raise SystemExit(f"the heavy load ended before the light run did; see {log.name}")
    row: dict[str, Any] = {
        "light_solo_ttft_ms": [solo["median_ttft_ms"], solo["p99_ttft_ms"]],
        "light_mixed_ttft_ms": [mixed["median_ttft_ms"], mixed["p99_ttft_ms"]],
    }
    row["median_ratio"] = round(mixed["median_ttft_ms"] / solo["median_ttft_ms"], 3)
    row["p99_ratio"] = round(mixed["p99_ttft_ms"] / solo["p99_ttft_ms"], 3)
    return row


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--light-requests", type=int, default=16)
    p.add_argument("--heavy-concurrency", type=int, default=32)
    p.add_argument("--heavy-requests", type=int, default=2000, help="more than it can finish")
    p.add_argument("--saturate-seconds", type=float, default=15.0)
    p.add_argument("--server-args", default="--dtype bfloat16 --max-model-len 1024 --enforce-eager "
                   "--max-num-seqs 8")  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fairness.json")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    p.add_argument("--only-fair", action="store_true", help="skip the FCFS comparison server")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    model = ensure_bench_model(args.model)
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    flags = args.server_args.split()
    access = {
        "fair": ["--keys-file", str(keys_file(raw / "fairness_keys.yaml")),
                 "--usage-db", str(raw / "fairness_usage.sqlite3")],
        "fcfs": [a for key in KEYS.values() for a in ("--api-key", key)],
    }  # fmt: skip
    report: dict[str, Any] = {"model": model, "server_args": args.server_args, "rows": {}}
    for tag, extra in access.items():
        if tag == "fcfs" and args.only_fair:
            continue
        port = free_port()
        with ServerProcess(llm_serve_argv(model, port, *flags, *extra), port,
                           raw / f"fairness_{tag}.log") as srv:  # fmt: skip
            report["rows"][tag] = light_under_load(srv.base_url, model, raw, tag, args)
            if tag == "fair":
                report["multi_key"] = multi_key(srv.base_url, model, raw, args)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    table = render(report)
    print(table)
    if not args.no_readme:
        update_readme(table, "fairness-table")
    return 0


def render(report: dict[str, Any]) -> str:
    """The README table: the light key's TTFT, solo and beside the saturating heavy key."""
    lines = [
        f"Server flags `{report['server_args']}`; light key: concurrency 1; heavy key: "
        "saturating. TTFT in ms (median / p99).",
        "",
        "| server | light solo | light beside heavy | ratio median / p99 |",
        "|---|---|---|---|",
    ]
    names = {"fair": "keys file (fair order)", "fcfs": "same keys as --api-key (vLLM FCFS)"}
    for tag, row in report["rows"].items():
        solo, mixed = row["light_solo_ttft_ms"], row["light_mixed_ttft_ms"]
        lines.append(
            f"| {names[tag]} | {solo[0]:.0f} / {solo[1]:.0f} | {mixed[0]:.0f} / {mixed[1]:.0f} "
            f"| {row['median_ratio']:.2f} / {row['p99_ratio']:.2f} |"
        )
    mk = report["multi_key"]
    rates = ", ".join(f"{k} {v} tok/s" for k, v in mk["output_tok_s"].items())
    lines += ["", f"Both keys saturating, equal weights (llm-bench `--key-mix 1,1`): {rates}; "
              f"Jain's fairness index {mk['jain_fairness']:.3f}."]  # fmt: skip
    return "\n".join(lines)


def multi_key(url: str, model: str, raw: Path, args: Any) -> dict[str, Any]:
    """Both keys saturating, equal shares: per-key throughput and Jain's index."""
    doc = cli.run_json([
        "--base-url", url, "--model", model, "--tokenizer", model,
        "--api-key", KEYS["heavy"], "--api-key", KEYS["light"], "--key-mix", "1,1",
        "--input-len", str(args.input_len), "--output-len", str(args.output_len),
        "--num-requests", str(args.heavy_concurrency * 4),
        "--concurrency", str(args.heavy_concurrency), "--warmup", "0",
        "--output", str(raw / "fairness_multikey.json"),
    ])  # fmt: skip
    return {
        "jain_fairness": round(doc["jain_fairness"], 4),
        "output_tok_s": {k: round(v["output_throughput"], 1) for k, v in doc["keys"].items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())

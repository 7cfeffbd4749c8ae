"""Measured serving defaults for this machine (`make tune`): the engine settings that matter,
tried one axis at a time from the current best, each on a fresh llm-serve over the model that
`make serve` serves, and the best written where `make serve` reads it.

Axes, in order: eager vs compiled (torch.compile with vLLM's persistent compile cache; its cold
and warm start-up are both measured), OpenMP thread binding (vLLM's default on CPU: the engine's
threads on all cores but one, that one left to the frontend; against every core for the engine,
and no binding), the KV-cache size, `--max-num-batched-tokens`, `--max-num-seqs`, and the dtype
where the CPU has bf16 instructions. Per setting: start-up time, then llm-bench at concurrency 1
(latency: TTFT, ITL) and at `--concurrency` (throughput). The score is the geometric mean of the
two runs' output throughput; a setting replaces the best only when it scores `--min-gain` higher
(noise on a shared machine is a few percent), so a tie keeps the simpler setting.

    python -m benchmarks.tune [--model DIR] [--quick]

Writes benchmarks/results/tune.json, .md, the README's table, and `.cache/tuned.mk` (flags and
environment for `make serve`; delete it to go back to the built-in defaults).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import cli
from benchmarks.bench_model import ROOT
from benchmarks.launch import ServerProcess, free_port, llm_serve_argv
from benchmarks.results import update_readme

RESULTS = ROOT / "benchmarks" / "results"
TUNED_MK = ROOT / ".cache" / "tuned.mk"
DEFAULT_MODEL = ROOT / "models" / "default"


@dataclass(frozen=True)
class Setting:
    """One engine configuration: llm-serve flags and environment."""

    flags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    def with_(self, axis: str, value: Setting) -> Setting:
        """This setting with `axis` replaced by `value`'s flags and environment."""
        keep_flags = _drop(self.flags, AXIS_FLAGS[axis])
        keep_env = tuple((k, v) for k, v in self.env if k not in AXIS_ENV[axis])
        return Setting(keep_flags + value.flags, keep_env + value.env)

    def label(self) -> str:
        parts = [*self.flags, *(f"{k}={v}" for k, v in self.env)]
        return " ".join(parts) or "(vLLM defaults)"


def _drop(flags: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for f in flags:
        if skip:
            skip = False
            continue
        if f in names:
            skip = f != "--enforce-eager"  # the only switch without a value
            continue
        out.append(f)
    return tuple(out)


AXIS_FLAGS = {
    "mode": ("--enforce-eager",),
    "threads": (),
    "kv_cache": (),
    "batched_tokens": ("--max-num-batched-tokens",),
    "max_seqs": ("--max-num-seqs",),
    "dtype": ("--dtype",),
}
AXIS_ENV = {
    "mode": (),
    "threads": ("VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU"),
    "kv_cache": ("VLLM_CPU_KVCACHE_SPACE",),
    "batched_tokens": (),
    "max_seqs": (),
    "dtype": (),
}


def axes(cores: int, bf16: bool) -> dict[str, dict[str, Setting]]:
    """The values tried per axis; the first of each is the starting point."""
    out: dict[str, dict[str, Setting]] = {
        "mode": {"compiled": Setting(), "eager": Setting(("--enforce-eager",))},
        "threads": {
            "vLLM auto (one core left to the frontend)": Setting(),
            "all cores to the engine": Setting(
                env=(
                    ("VLLM_CPU_OMP_THREADS_BIND", f"0-{cores - 1}"),
                    ("VLLM_CPU_NUM_OF_RESERVED_CPU", "0"),
                )
            ),  # fmt: skip
            "no binding": Setting(env=(("VLLM_CPU_OMP_THREADS_BIND", "nobind"),)),
        },
        "kv_cache": {
            "1 GiB": Setting(env=(("VLLM_CPU_KVCACHE_SPACE", "1"),)),
            "4 GiB": Setting(env=(("VLLM_CPU_KVCACHE_SPACE", "4"),)),
        },
        "batched_tokens": {
            "vLLM default": Setting(),
            "512": Setting(("--max-num-batched-tokens", "512")),
            "4096": Setting(("--max-num-batched-tokens", "4096")),
        },
        "max_seqs": {
            "vLLM default": Setting(),
            "16": Setting(("--max-num-seqs", "16")),
        },
    }
    if bf16:  # without bf16 instructions llm-serve serves float32 whatever is asked
        out["dtype"] = {"bfloat16": Setting(("--dtype", "bfloat16")),
                        "float32": Setting(("--dtype", "float32"))}  # fmt: skip
    return out


@dataclass
class Trial:
    axis: str
    value: str
    setting: Setting
    startup_s: float = 0.0
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""

    @property
    def score(self) -> float:
        if self.error or len(self.runs) < 2:
            return 0.0
        return math.sqrt(math.prod(r["output_throughput"] for r in self.runs.values()))

    def row(self) -> dict[str, Any]:
        return {
            "axis": self.axis, "value": self.value, "setting": self.setting.label(),
            "startup_s": round(self.startup_s, 1), "score_tok_s": round(self.score, 1),
            "error": self.error,
            **{f"{load}_{k}": round(r[k], 2) for load, r in self.runs.items()
               for k in ("output_throughput", "median_ttft_ms", "median_itl_ms")},
        }  # fmt: skip


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def measure(args: argparse.Namespace, model: str, trial: Trial, cache: Path, raw: Path) -> Trial:
    """Start llm-serve in `trial`'s setting (timed), then the two benchmark runs."""
    port = free_port()
    env = {"VLLM_CACHE_ROOT": str(cache), **dict(trial.setting.env)}
    tag = f"tune_{trial.axis}_{len(list(raw.glob(f'tune_{trial.axis}_*.log')))}"
    server = ServerProcess(
        llm_serve_argv(model, port, *trial.setting.flags),
        port,
        raw / f"{tag}.log",
        env=env,
        startup_timeout=900,
    )
    t0 = time.monotonic()
    try:
        with server:
            trial.startup_s = time.monotonic() - t0
            loads = [("c1", 1, args.latency_requests)]
            loads.append((f"c{args.concurrency}", args.concurrency, 8 * args.concurrency))
            for load, conc, n in loads:
                trial.runs[load] = cli.run_json([
                    "--base-url", server.base_url, "--model", model, "--tokenizer", model,
                    "--input-len", str(args.input_len), "--output-len", str(args.output_len),
                    "--num-requests", str(n), "--concurrency", str(conc),
                    "--warmup", str(min(conc, 4)), "--output", str(raw / f"{tag}_{load}.json"),
                ])  # fmt: skip
    except (RuntimeError, SystemExit) as exc:  # a setting the engine refuses is a table row
        trial.error = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "failed"
    print(f"  {trial.axis}={trial.value}: start {trial.startup_s:.0f} s, "
          f"score {trial.score:.1f} tok/s {trial.error}", flush=True)  # fmt: skip
    return trial


def startup_times(model: str, raw: Path) -> dict[str, float]:
    """Seconds to /ready: eager, and compiled with an empty compile cache, then with it filled."""
    cache = Path(tempfile.mkdtemp(prefix="vllm-cache-"))
    runs = (("eager", ("--enforce-eager",)), ("compiled_cold", ()), ("compiled_warm", ()))
    out = {}
    try:
        for name, flags in runs:
            port = free_port()
            argv = llm_serve_argv(model, port, *flags)
            env = {"VLLM_CACHE_ROOT": str(cache)}
            srv = ServerProcess(
                argv, port, raw / f"tune_start_{name}.log", env=env, startup_timeout=900
            )
            t0 = time.monotonic()
            with srv:
                out[f"{name}_start_s"] = round(time.monotonic() - t0, 1)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


def tune(args: argparse.Namespace, model: str, raw: Path) -> tuple[Setting, list[Trial]]:
    """One axis at a time: every value of the axis on top of the best so far; keep a value only
    when it beats the best by --min-gain."""
    flags = cpu_flags()
    space = axes(os.cpu_count() or 1, "avx512_bf16" in flags or "amx_bf16" in flags)
    if args.quick:
        space = {k: space[k] for k in ("mode",)}
    cache = ROOT / ".cache" / "vllm-compile"  # persistent: the second compiled start is warm
    best_setting = Setting()
    best: Trial | None = None
    trials: list[Trial] = []
    for axis, values in space.items():
        print(f"axis {axis}", flush=True)
        for i, (value, setting) in enumerate(values.items()):
            candidate = best_setting.with_(axis, setting)
            if best is not None and i == 0 and candidate == best.setting:
                continue  # the starting value is the best so far: already measured
            t = measure(args, model, Trial(axis, value, candidate), cache, raw)
            trials.append(t)
            if best is None or t.score > best.score * (1 + args.min_gain):
                best, best_setting = t, candidate
    return best_setting, trials


def read_tuned(path: Path) -> tuple[list[str], dict[str, str]]:
    """(flags, environment) from the fragment `write_tuned` wrote; none when there is none."""
    flags: list[str] = []
    env: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":=")
            if name.strip() == "TUNED_ARGS":
                flags = value.split()
            elif name.strip() == "TUNED_ENV":
                env = dict(kv.split("=", 1) for kv in value.split())
    return flags, env


def write_tuned(setting: Setting, path: Path) -> None:
    """The Makefile fragment `make serve` includes."""
    env = " ".join(f"{k}={v}" for k, v in setting.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# written by `make tune` (benchmarks/tune.py) on this machine; delete to use defaults\n"
        f"TUNED_ARGS := {' '.join(setting.flags)}\nTUNED_ENV := {env}\n"
    )


def render(report: dict[str, Any]) -> str:
    conc = report["concurrency"]
    lines = [
        f"Model `{report['model']}`, {report['input_len']}-token prompts, "
        f"{report['output_len']}-token outputs; score = geometric mean of output tok/s at "
        f"concurrency 1 and {conc}. "
        f"Start-up to ready: eager {report['startup']['eager_start_s']} s, compiled "
        f"{report['startup']['compiled_cold_start_s']} s with an empty compile cache, "
        f"{report['startup']['compiled_warm_start_s']} s with it filled.",
        "",
        f"| axis | value | start-up s | c1 tok/s | c1 TTFT ms | c1 ITL ms | c{conc} tok/s "
        f"| c{conc} TTFT ms | c{conc} ITL ms | score |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in report["trials"]:
        cells = [r.get(f"{load}_{k}", "-") for load in ("c1", f"c{conc}")
                 for k in ("output_throughput", "median_ttft_ms", "median_itl_ms")]  # fmt: skip
        score = r["score_tok_s"] if not r["error"] else f"failed: {r['error']}"
        lines.append(f"| {r['axis']} | {r['value']} | {r['startup_s']} | "
                     + " | ".join(map(str, cells)) + f" | {score} |")  # fmt: skip
    lines += ["", f"Chosen: `{report['chosen']}`."]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--latency-requests", type=int, default=16)
    p.add_argument("--input-len", type=int, default=96)  # the default model has 256 positions
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--min-gain", type=float, default=0.03, help="to replace the best (0.03: 3%%)")
    p.add_argument("--quick", action="store_true", help="the eager/compiled axis only")
    p.add_argument("--out", type=Path, default=RESULTS / "tune.json")
    p.add_argument("--tuned-mk", type=Path, default=TUNED_MK)
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README table")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not (args.model / "config.json").is_file():
        print(f"tune: no model at {args.model} (make default-model builds it)", file=sys.stderr)
        return 2
    raw = args.out.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    model = str(args.model)
    startup = startup_times(model, raw)
    chosen, trials = tune(args, model, raw)
    report = {
        "model": model, "cpu_flags": sorted(cpu_flags() & {"avx512f", "avx512_bf16", "amx_bf16"}),
        "cores": os.cpu_count(), "concurrency": args.concurrency, "input_len": args.input_len,
        "output_len": args.output_len, "startup": startup,
        "trials": [t.row() for t in trials], "chosen": chosen.label(),
        "chosen_flags": list(chosen.flags), "chosen_env": dict(chosen.env),
    }  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    table = render(report)
    args.out.with_suffix(".md").write_text(table + "\n")
    write_tuned(chosen, args.tuned_mk)
    if not args.no_readme:
        update_readme(table, "tune-table")
    print(table)
    print(f"wrote {args.out}, {args.tuned_mk}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

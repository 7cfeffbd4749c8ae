"""fit(): resume equals an uninterrupted run, atomic outputs, bad input, DDP equals one process."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from train.config import tiny
from train.errors import TrainError
from train.loop import fit

ROOT = Path(__file__).resolve().parents[2]


def corpus(tmp: Path) -> Path:
    d = tmp / "corpus"
    d.mkdir()
    import sysconfig

    std = Path(sysconfig.get_paths()["stdlib"])
    for name in ("textwrap.py", "string.py", "shlex.py", "glob.py", "fnmatch.py", "bisect.py"):
        (d / name).write_text((std / name).read_text())
    return d


def small(tmp: Path, **kw: object):  # type: ignore[no-untyped-def]
    base = {"val_fraction": 0.34, "vocab_size": 400, "steps": 8, "eval_every": 4, "save_every": 4}
    return dataclasses.replace(tiny(), data=[str(corpus(tmp))], **{**base, **kw})


def losses(out: Path) -> list[float]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(m)["loss"] for m in lines if '"loss"' in m]


def test_resume_matches_uninterrupted(tmp_path: Path) -> None:
    cfg = small(tmp_path)
    full = fit(cfg, tmp_path / "full", quiet=True)
    assert (full.out / "config.json").exists() and (full.out / "model.safetensors").exists()
    assert (full.out / "generation_config.json").exists() and (full.out / "loss.png").exists()
    # stop at step 3 (between checkpoints), then resume to the end
    fit(cfg, tmp_path / "part", quiet=True, stop_after=3)
    assert not (tmp_path / "part" / "config.json").exists()  # no half-finished export
    fit(cfg, tmp_path / "part", quiet=True, resume=True)
    a, b = losses(tmp_path / "full"), losses(tmp_path / "part")
    assert len(a) == len(b) == 8
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


def test_refuses_to_overwrite_a_model(tmp_path: Path) -> None:
    cfg = small(tmp_path)
    fit(cfg, tmp_path / "m", quiet=True)
    with pytest.raises(TrainError, match="holds another model"):
        fit(cfg, tmp_path / "m", quiet=True)
    fit(cfg, tmp_path / "m", quiet=True, overwrite=True)


def test_bad_corpora(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.txt").write_text("")
    with pytest.raises(TrainError, match="empty"):
        fit(dataclasses.replace(tiny(), data=[str(empty)]), tmp_path / "o1", quiet=True)
    binary = tmp_path / "bin"
    binary.mkdir()
    (binary / "a.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TrainError, match="1 unreadable"):
        fit(dataclasses.replace(tiny(), data=[str(binary)]), tmp_path / "o2", quiet=True)
    big = tmp_path / "big"
    big.mkdir()
    with pytest.raises(TrainError, match="supports only"):
        fit(small(big, vocab_size=50000), tmp_path / "o3", quiet=True)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "train", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = run_cli(
        "fit", "--preset", "tiny", "--out", str(tmp_path / "o"), "--data", str(tmp_path / "missing")
    )
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    r = run_cli("eval", str(tmp_path), "--text", str(tmp_path / "none.txt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("parallel,port", [("ddp", "29517"), ("fsdp", "29518")])
def test_two_processes_match_one(tmp_path: Path, parallel: str, port: str) -> None:
    """Two gloo processes with batch B equal one process with batch 2B (same global batch)."""
    data = corpus(tmp_path)
    common = [
        "fit",
        "--preset",
        "tiny",
        "--data",
        str(data),
        "--val-fraction",
        "0.34",
        "--vocab-size",
        "400",
        "--steps",
        "4",
        "--eval-every",
        "4",
        "--save-every",
        "4",
        "--precision",
        "fp32",
        "--quiet",
    ]
    one = run_cli(*common, "--out", str(tmp_path / "one"), "--batch-size", "4")
    assert one.returncode == 0, one.stderr
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            port,
            "-m",
            "train",
            *common,
            "--out",
            str(tmp_path / "two"),
            "--batch-size",
            "2",
            "--parallel",
            parallel,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert two.returncode == 0, two.stderr[-2000:]
    assert losses(tmp_path / "one") == pytest.approx(losses(tmp_path / "two"), rel=1e-4)
    assert (tmp_path / "two" / "model.safetensors").exists()


def test_grad_accumulation_and_checkpointing_do_not_change_the_math(tmp_path: Path) -> None:
    """2 micro-batches of 2 == 1 batch of 4; recomputing activations changes nothing."""
    cfg = small(tmp_path, steps=4, precision="fp32", eval_every=100, save_every=100)
    base = fit(dataclasses.replace(cfg, batch_size=4), tmp_path / "b4", quiet=True)
    accum = fit(dataclasses.replace(cfg, batch_size=2, grad_accum=2), tmp_path / "a2", quiet=True)
    recomputed = fit(
        dataclasses.replace(cfg, batch_size=4, grad_checkpointing=True), tmp_path / "gc", quiet=True
    )
    assert base.steps == accum.steps == recomputed.steps == 4
    assert losses(tmp_path / "a2") == pytest.approx(losses(tmp_path / "b4"), rel=1e-5)
    assert losses(tmp_path / "gc") == pytest.approx(losses(tmp_path / "b4"), rel=1e-5)


def test_export_is_readable_by_others(tmp_path: Path) -> None:
    import stat

    old = os.umask(0o022)
    try:
        res = fit(small(tmp_path, steps=2), tmp_path / "m", quiet=True)
    finally:
        os.umask(old)
    for p in (res.out, res.out / "model.safetensors", res.out / "config.json"):
        assert p.stat().st_mode & stat.S_IROTH, p

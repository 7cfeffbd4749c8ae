"""Read the Dockerfile's stages: enough to run a target's entrypoint and healthcheck outside
Docker (Docker cannot run on these machines)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    run: list[str] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def stages(path: Path = DOCKERFILE) -> dict[str, Stage]:
    result: dict[str, Stage] = {}
    current: Stage | None = None
    for word, rest in instructions(path.read_text()):
        if word == "FROM":
            m = re.match(r"(\S+)\s+AS\s+(\S+)", rest, re.IGNORECASE)
            assert m, f"every stage is named: FROM {rest}"
            current = result[m.group(2)] = Stage(m.group(2), m.group(1))
        elif current is None:
            continue
        elif word == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", rest):
                current.env[key] = value
        elif word == "USER":
            current.user = rest
        elif word == "ENTRYPOINT":
            current.entrypoint = json.loads(rest)
        elif word == "CMD":
            current.cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            current.healthcheck = json.loads(rest[rest.index("CMD ") + 4 :])
        elif word == "RUN":
            current.run.append(rest)
    return result

"""Who is calling: API keys, from the --api-key flags (unlimited) and the --keys-file (per-key
models and limits).

The keys file holds each key's SHA-256, never the key. A presented key is hashed and compared
with every known hash in constant time (`hmac.compare_digest`, no early exit), so neither the
match nor its position leaks through timing. Logs and metrics carry the key's name only.

```yaml
keys:
  - name: team-a
    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    models: [default]
    rpm: 60
    tpm: 100000
    max_concurrent: 4
    budget: {tokens: 1000000, per: day}
    weight: 1
```
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from llm_deploy import yamlfile

Positive = Annotated[int, Field(gt=0)]


class KeysError(yamlfile.FileError):
    """A keys file that cannot be used: `FILE:LINE: reason`."""


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: Positive
    """Prompt + completion tokens allowed per period."""
    per: Literal["day", "month"]
    """The period (UTC calendar day or month)."""


class KeySpec(BaseModel):
    """One key: its name, its hash, what it may use and how much."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$", to_lower=True)]
    models: list[str] | None = None
    """Served model names this key may use (default: all)."""
    rpm: Positive | None = None
    """Requests per minute."""
    tpm: Positive | None = None
    """Prompt + completion tokens per minute."""
    max_concurrent: Positive | None = None
    """Requests in flight at once."""
    budget: Budget | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    """Share under saturation, relative to other keys."""
    admin: bool = False
    """May read every key's usage (GET /v1/usage)."""


class KeysSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeySpec]

    @model_validator(mode="after")
    def _unique(self) -> KeysSpec:
        for field in ("name", "sha256"):
            seen: set[str] = set()
            for k in self.keys:
                value = getattr(k, field)
                if value in seen:
                    raise ValueError(f"two keys share the {field} {value!r}")
                seen.add(value)
        return self


def load_keys(path: Path) -> KeysSpec:
    """Parse and check a keys file; raise KeysError('FILE:LINE: reason')."""
    return yamlfile.load(
        path, KeysSpec, KeysError, not_mapping="the keys file must be a mapping with 'keys'"
    )


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The identified key: its name and, for keys-file keys, its models and limits."""

    name: str
    spec: KeySpec | None = None  # None: a --api-key flag key (unlimited, admin)

    @property
    def admin(self) -> bool:
        return self.spec is None or self.spec.admin

    def may_use(self, model: str) -> bool:
        return self.spec is None or self.spec.models is None or model in self.spec.models


ANONYMOUS = Caller("anonymous")  # no keys configured: the server is open


class KeyRing:
    """Every accepted key's hash, with the caller it identifies."""

    def __init__(self, flag_keys: list[str], spec: KeysSpec | None = None) -> None:
        self.entries: list[tuple[bytes, Caller]] = [
            (digest(k).encode(), Caller(f"key-{i + 1}")) for i, k in enumerate(flag_keys)
        ]
        for k in spec.keys if spec else []:
            self.entries.append((k.sha256.encode(), Caller(k.name, k)))

    @property
    def open(self) -> bool:
        return not self.entries

    def identify(self, key: str) -> Caller | None:
        """The caller whose hash matches; every hash is compared, whatever matches first."""
        given = digest(key).encode()
        found = None
        for known, caller in self.entries:
            if hmac.compare_digest(given, known):
                found = caller
        return found

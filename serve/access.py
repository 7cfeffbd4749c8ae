"""Access: the API-key dependency every /v1 route runs, the per-key limits behind it, and the
keys file's reload on SIGHUP.

    Authorization: Bearer KEY -> KeyRing.identify -> ctx.caller -> (admission) Quotas.admit
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request

from serve.errors import Unauthorized
from serve.keys import ANONYMOUS, KeyRing, KeysError, load_keys
from serve.metrics import ServerMetrics
from serve.quota import Quotas
from serve.settings import ServerSettings
from serve.usage import UsageStore

log = logging.getLogger("serve")


def keyring(settings: ServerSettings) -> KeyRing:
    """The flag keys (unlimited) and the keys file's keys; KeysError names a bad file's line."""
    spec = load_keys(Path(settings.keys_file)) if settings.keys_file else None
    if spec is not None and settings.api_servers > 1 and settings.limits_store == "memory://":
        counted = [k.name for k in spec.keys if k.rpm or k.tpm]
        if counted:  # memory:// is one process's memory: each API process would count apart
            raise KeysError(
                f"{settings.keys_file}: key '{counted[0]}' has rpm/tpm limits, which "
                f"--api-servers {settings.api_servers} processes can only count together in "
                "a shared --limits-store (redis://HOST:PORT)"
            )
    return KeyRing(settings.keys(), spec)


def quotas(settings: ServerSettings, metrics: ServerMetrics) -> Quotas:
    """Per-key limits; usage is persisted when a keys file names the keys."""
    usage = UsageStore(Path(settings.usage_db).expanduser()) if settings.keys_file else None
    fair = bool(settings.keys_file)  # keys to be fair between (the engine runs priority order)
    return Quotas(settings.limits_store, usage, metrics, settings.limits_fail_open, fair)


async def identify(request: Request) -> None:
    """The caller of this request, from its bearer key (compared in constant time)."""
    ring: KeyRing = request.app.state.keyring
    if ring.open:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    caller = ring.identify(token.strip()) if scheme.lower() == "bearer" else None
    if caller is None:
        raise Unauthorized("missing or invalid API key; send 'Authorization: Bearer KEY'")
    request.scope["state"]["ctx"].caller = caller


def reload_keys(app: FastAPI) -> bool:
    """SIGHUP: the keys file's current contents; an invalid file is refused and the running
    keys stay. Counters and usage are kept (they are by key name)."""
    settings: ServerSettings = app.state.settings
    if not settings.keys_file:
        return False
    try:
        app.state.keyring = keyring(settings)
    except (KeysError, OSError) as exc:
        log.error("keys file reload refused; keeping the running keys: %s", exc)
        return False
    log.info("keys file reloaded", extra={"keys_file": settings.keys_file})
    return True


__all__ = ["ANONYMOUS", "identify", "keyring", "quotas", "reload_keys"]

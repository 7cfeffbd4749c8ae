"""Server settings (ours, not vLLM's): every field has a default and a doc line that is its --help.

vLLM's own engine flags (--dtype, --max-model-len, --served-model-name, ...) are parsed by vLLM's
parser in `__main__`; these are added beside them, one flag per field.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from llm_deploy import flags

API_KEYS_ENV = "LLM_DEPLOY_API_KEYS"


@dataclass
class ServerSettings:
    """How the HTTP server behaves in front of the engine."""

    host: str = "0.0.0.0"
    """Address to bind."""
    port: int = 8000
    """Port to bind."""
    api_key: list[str] = field(default_factory=list)
    """API key clients must send as 'Authorization: Bearer KEY' (repeatable; also the
    LLM_DEPLOY_API_KEYS env var, comma-separated, and --api-key-file)."""
    api_key_file: str | None = None
    """File with one API key per line."""
    keys_file: str | None = None
    """YAML file of named keys (their SHA-256, never the key) with allowed models and limits:
    rpm, tpm, max_concurrent, budget per day or month. SIGHUP reloads it; an invalid file is
    refused and the running one kept."""
    usage_db: str = "~/.local/state/llm-deploy/usage.sqlite3"
    """SQLite file where per-key usage is kept across restarts (with --keys-file)."""
    limits_store: str = "memory://"
    """Where the per-minute counters and budgets live: memory:// (this process) or
    redis://HOST:PORT to share them between replicas."""
    limits_fail_open: bool = False
    """When a redis:// store is unreachable, serve without limits instead of answering 503."""
    served_model_name: str | None = None
    """Name clients use in 'model' (defaults to the model path)."""
    max_queued_requests: int = 256
    """Sequences that may wait beyond the engine's running batch (--max-num-seqs) before new
    requests get 429."""
    request_timeout: float = 600.0
    """Seconds a request may take before it is aborted in the engine (0 = no limit)."""
    max_tokens_limit: int | None = None
    """Largest max_tokens a request may ask for (default: the model's context length)."""
    cors_origin: list[str] = field(default_factory=list)
    """Allowed CORS origin (repeatable); CORS stays closed when none is given."""
    log_prompts: bool = False
    """Log prompt text with each request (off: only ids, sizes and timings are logged)."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest request body accepted; larger bodies get 413."""
    shutdown_grace: float = 30.0
    """Seconds in-flight requests get to finish after SIGTERM before the engine stops."""
    drain_delay: float = 0.0
    """Seconds /ready reports 503 after SIGTERM before the listener closes (lets load balancers
    notice)."""
    api_servers: int = 1
    """API-server processes in front of the one engine, sharing the port (vLLM's
    --api-server-count mechanism): admission, per-key limits, the fair order and /metrics stay
    those of one server."""
    log_level: str = "info"
    """Log level for the server's JSON logs."""
    safety_policy: str = "default"
    """Safety policy: a YAML file, 'default' (the shipped policy) or 'none' (no filtering).
    SIGHUP reloads the file; an invalid file is refused and the running policy kept."""

    def keys(self) -> list[str]:
        """All configured API keys from the flag, the env var and the key file."""
        keys = list(self.api_key)
        keys += [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
        if self.api_key_file:
            lines = Path(self.api_key_file).read_text(encoding="utf-8").splitlines()
            keys += [k.strip() for k in lines if k.strip() and not k.startswith("#")]
        return keys


_SHARED_WITH_VLLM = ("served_model_name", "log_level")  # vLLM's parser owns these flags
_DEST = "srv_"  # our flags' namespace prefix, apart from vLLM's


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per ServerSettings field (help text from the field docs)."""
    group = parser.add_argument_group("llm-serve")
    flags.add_flags(
        group,
        ServerSettings,
        dest_prefix=_DEST,
        defaults=ServerSettings(),
        skip=_SHARED_WITH_VLLM,
        one_value_per_flag=True,
    )


def from_namespace(ns: argparse.Namespace) -> ServerSettings:
    """Build settings from parsed args: ours, plus the two read from vLLM's flags."""
    settings = flags.apply(ServerSettings(), ns, dest_prefix=_DEST)
    served = getattr(ns, "served_model_name", None)
    if served:
        settings.served_model_name = served[0] if isinstance(served, list) else served
    if getattr(ns, "log_level", None):
        settings.log_level = str(ns.log_level).lower()
    return settings

"""Server settings (ours, not vLLM's): every field has a default and a doc line that is its --help.

vLLM's own engine flags (--dtype, --max-model-len, --served-model-name, ...) are parsed by vLLM's
parser in `__main__`; these are added beside them, one flag per field.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


_OURS = {f.name for f in dataclasses.fields(ServerSettings)}
_SHARED_WITH_VLLM = {"served_model_name", "log_level"}  # vLLM's parser owns these flags


def _field_docs() -> dict[str, str]:
    """Attribute docstrings of ServerSettings, read from the source so help never drifts."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(ServerSettings)))
    docs: dict[str, str] = {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr):
            name = node.target.id  # type: ignore[union-attr]
            docs[name] = " ".join(str(nxt.value.value).split())  # type: ignore[attr-defined]
    return docs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per ServerSettings field (help text from the field docs)."""
    group = parser.add_argument_group("llm-serve")
    docs = _field_docs()
    for f in dataclasses.fields(ServerSettings):
        if f.name in _SHARED_WITH_VLLM:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        kwargs: dict[str, Any] = {
            "dest": f"srv_{f.name}",
            "default": default,
            "metavar": f.name.upper(),
            "help": docs.get(f.name),
        }
        if isinstance(default, bool):
            kwargs.pop("metavar")
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, list):
            kwargs["action"] = "append"
            kwargs["default"] = None
        elif f.name == "max_tokens_limit":
            kwargs["type"] = int
        elif f.name == "api_key_file":
            kwargs["type"] = str
        else:
            kwargs["type"] = type(default)
        group.add_argument(flag, **kwargs)


def from_namespace(ns: argparse.Namespace) -> ServerSettings:
    """Build settings from parsed args (ours are prefixed `srv_`)."""
    values: dict[str, Any] = {}
    for name in _OURS - _SHARED_WITH_VLLM:
        v = getattr(ns, f"srv_{name}", None)
        if v is not None:
            values[name] = v
    served = getattr(ns, "served_model_name", None)
    if served:
        values["served_model_name"] = served[0] if isinstance(served, list) else served
    if getattr(ns, "log_level", None):
        values["log_level"] = str(ns.log_level).lower()
    return ServerSettings(**values)

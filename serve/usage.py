"""Per-key usage that survives restarts: an embedded SQLite database in WAL mode.

One row per key and UTC day (requests, prompt tokens, completion tokens), updated in one
statement per finished request. WAL with synchronous=NORMAL keeps every committed update through
a crash of the process (kill -9); only requests still in flight are lost.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    key TEXT NOT NULL,
    day TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, day)
)
"""

_RECORD = """
INSERT INTO usage (key, day, requests, prompt_tokens, completion_tokens) VALUES (?, ?, 1, ?, ?)
ON CONFLICT (key, day) DO UPDATE SET
    requests = requests + 1,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens
"""


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


class UsageStore:
    """Token and request counts per key and day."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_SCHEMA)

    def record(self, key: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.db.execute(_RECORD, (key, today(), prompt_tokens, completion_tokens))

    def tokens_since(self, key: str, first_day: str) -> int:
        """Prompt + completion tokens of `key` from `first_day` (YYYY-MM-DD) on."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage "
            "WHERE key = ? AND day >= ?",
            (key, first_day),
        ).fetchone()
        return int(row[0])

    def summary(self, key: str | None = None) -> dict[str, Any]:
        """Totals per key, and per key and day (all keys, or one)."""
        where, args = ("WHERE key = ?", (key,)) if key else ("", ())
        rows = self.db.execute(
            f"SELECT key, day, requests, prompt_tokens, completion_tokens FROM usage {where} "
            "ORDER BY key, day",
            args,
        ).fetchall()
        out: dict[str, Any] = {}
        for name, day, req, p, c in rows:
            k = out.setdefault(
                name, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "days": {}}
            )
            k["requests"] += req
            k["prompt_tokens"] += p
            k["completion_tokens"] += c
            k["days"][day] = {"requests": req, "prompt_tokens": p, "completion_tokens": c}
        return out

    def close(self) -> None:
        self.db.close()

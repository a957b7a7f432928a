"""Persistent response cache: SQLite in WAL mode, one row per answered request.

The key is a sha256 over everything that changes an answer (model, api_base, messages
including the system prompt, temperature, top_p, max_tokens, seed, logprob settings).
Each response is committed as soon as it arrives, so a crash loses nothing that finished;
errors are never stored. WAL mode plus a busy timeout make two runs sharing one cache safe.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..secrets import redact_data

__all__ = ["ResponseCache", "CachedResponse", "request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(request: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a request description."""
    blob = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class CachedResponse:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    extra: dict[str, Any]


class ResponseCache:
    """A response cache file. ``mode``: "use" (read and write), "refresh" (write only:
    every request is sent again and overwrites), "off" (neither)."""

    def __init__(self, path: str | Path, *, mode: str = "use") -> None:
        if mode not in ("use", "refresh", "off"):
            raise ValueError(f"The 'mode' parameter must be one of 'use', 'refresh', 'off'. Got {mode!r} instead.")
        self.path = Path(path)
        self.mode = mode
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute(_SCHEMA)
            self._local.conn = conn
        return conn

    def get(self, key: str) -> CachedResponse | None:
        if self.mode != "use":
            return None
        row = self._conn().execute(
            "SELECT response, prompt_tokens, completion_tokens, cost_usd, latency_s FROM responses WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        payload = json.loads(row[0])
        return CachedResponse(
            text=payload["text"], prompt_tokens=row[1], completion_tokens=row[2], cost_usd=row[3], latency_s=row[4],
            extra=payload.get("extra", {}),
        )

    def put(self, key: str, *, model: str, request: dict[str, Any], text: str, prompt_tokens: int,
            completion_tokens: int, cost_usd: float, latency_s: float, extra: dict[str, Any] | None = None) -> None:
        if self.mode == "off":
            return
        # known credentials (xai_bench.secrets) never reach the file; the key was computed before
        payload = json.dumps(redact_data({"text": text, "extra": extra or {}}, secret_keys=False), ensure_ascii=False)
        self._conn().execute(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, model, json.dumps(redact_data(request, secret_keys=False), sort_keys=True, ensure_ascii=False), payload,
             prompt_tokens,
             completion_tokens, cost_usd, latency_s, time.time()),
        )

    def stats(self) -> dict[str, Any]:
        """``file``, ``entries``, ``size_bytes`` (the file and its WAL) and ``models`` ({model: entries},
        most entries first). A cache file that does not exist is reported empty and not created."""
        models: dict[str, int] = {}
        if self.path.exists():
            rows = self._conn().execute(
                "SELECT model, COUNT(*) FROM responses GROUP BY model ORDER BY COUNT(*) DESC, model").fetchall()
            models = {str(m): int(n) for m, n in rows}
        return {"file": str(self.path), "exists": self.path.exists(), "entries": sum(models.values()),
                "size_bytes": self.size_bytes(), "models": models}

    def size_bytes(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log, if present."""
        return sum(f.stat().st_size for f in (self.path, self.path.with_name(self.path.name + "-wal")) if f.exists())

    def clear(self, model: str | None = None) -> int:
        """Delete every entry, or only ``model``'s; then VACUUM and truncate the WAL so the file
        shrinks. Returns the number of entries deleted (0, and nothing created, without a file)."""
        if not self.path.exists():
            return 0
        conn = self._conn()
        if model is None:
            n = conn.execute("DELETE FROM responses").rowcount
        else:
            n = conn.execute("DELETE FROM responses WHERE model = ?", (model,)).rowcount
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(n)

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

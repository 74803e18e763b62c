"""The LINE channel's small persistent state, in one SQLite file under the data dir.

Three tables, three reasons: ``seen_events`` (webhook event ids, so a redelivered event is
processed once even across a restart — see ``dedupe.py``), ``users`` (each user's language,
from the profile API or their choice, so answers come in it), and ``failures`` (events whose
answer could not be delivered after every retry, so none is lost silently; an operator reads
them with ``sqlite3`` or ``FailureLog.entries()``).

SQLite is enough: each write is one row, a few per message; WAL mode lets the CLI read while
the gateway writes. Calls are synchronous (microseconds) behind a lock, so they are safe from
the event loop and from worker threads alike. Microseconds because of ``synchronous=NORMAL``:
with SQLite's default (FULL) every commit waits for an fsync, 5-10 ms on these disks, and
that wait blocked the gateway's event loop on every LINE event (the load bench found it).
In WAL mode NORMAL never corrupts the file; a power cut (not a crash of the gateway) may
lose the last commits — a seen event id (a redelivery of that event would then be answered
a second time) or a language (read from the profile again). A failure record is rare and
must not be lost: ``FailureLog.add`` syncs it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.privacy import mask_pii

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS seen_events_at ON seen_events (seen_at);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, lang TEXT NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, event_id TEXT, target TEXT,
    reason TEXT NOT NULL, event TEXT NOT NULL, messages TEXT NOT NULL
);
"""


class LineStore:
    """One SQLite connection shared by the channel's tables."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._db.cursor()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class UserLanguages:
    """Which language each LINE user is answered in."""

    def __init__(self, store: LineStore) -> None:
        self.store = store

    def get(self, user_id: str) -> str | None:
        with self.store.cursor() as cur:
            row = cur.execute("SELECT lang FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return str(row[0]) if row else None

    def set(self, user_id: str, lang: str) -> None:
        with self.store.cursor() as cur:
            cur.execute(
                "INSERT INTO users (user_id, lang, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET "
                "lang = excluded.lang, updated_at = excluded.updated_at",
                (user_id, lang, time.time()),
            )


@dataclass(frozen=True)
class Failure:
    """An answer that never reached its user, and why."""

    at: float
    event_id: str | None
    target: str | None
    reason: str
    event: dict[str, Any]
    messages: list[dict[str, Any]]


# What a resident wrote in a webhook event: message text, a location's title and address.
_FREE_TEXT = frozenset({"text", "title", "address"})


def _masked(value: Any) -> Any:
    """``value`` with personal data masked in the free-text fields of a webhook event (ids,
    tokens and timestamps are kept as they are: masking would mangle them)."""
    if isinstance(value, dict):
        return {
            k: mask_pii(v) if k in _FREE_TEXT and isinstance(v, str) else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


class FailureLog:
    """Events whose answer could not be delivered: kept, never dropped. What the resident
    wrote is stored masked (``adapters/privacy.py``), like every other store."""

    def __init__(self, store: LineStore) -> None:
        self.store = store

    def add(self, failure: Failure) -> None:
        with self.store.cursor() as cur:
            cur.execute(
                "INSERT INTO failures (at, event_id, target, reason, event, messages) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    failure.at,
                    failure.event_id,
                    failure.target,
                    failure.reason,
                    json.dumps(_masked(failure.event), ensure_ascii=False),
                    json.dumps(failure.messages, ensure_ascii=False),
                ),
            )
            # Synced to the database file now, not at the next automatic checkpoint.
            cur.execute("PRAGMA wal_checkpoint(FULL)")

    def entries(self) -> list[Failure]:
        with self.store.cursor() as cur:
            rows = cur.execute(
                "SELECT at, event_id, target, reason, event, messages FROM failures ORDER BY id"
            ).fetchall()
        return [Failure(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows]

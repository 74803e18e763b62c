"""Residents' feedback (👍/👎) and staff handover tickets, kept in SQLite.

Both are written by the Rasa action server through the gateway's API and read by staff.
SQLite under ``settings.storage.data_dir`` keeps the default installation to one directory;
each write opens its own connection, so the stores are safe from the gateway's thread pool.
Every text passes through ``mask_pii`` before it is written: a ticket tells staff what was
asked, not the resident's phone number or My Number.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adapters.privacy import mask_pii

Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    entry_id TEXT,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    lang TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS handover (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket TEXT UNIQUE,
    conversation_id TEXT NOT NULL,
    lang TEXT,
    reason TEXT NOT NULL DEFAULT '',
    transcript TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Feedback:
    """One rating of one answer."""

    conversation_id: str
    entry_id: str | None
    rating: Rating
    comment: str
    lang: str | None
    created_at: str


@dataclass(frozen=True)
class Ticket:
    """A conversation handed to staff."""

    ticket: str
    conversation_id: str
    lang: str | None
    reason: str
    transcript: list[dict[str, str]]
    status: str
    created_at: str


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class DialogueStore:
    """Feedback and tickets in one SQLite file (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add_feedback(self, conversation_id: str, entry_id: str | None, rating: Rating,
                     comment: str = "", lang: str | None = None) -> Feedback:
        """Store one rating; the comment is masked."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', got {rating!r}")
        item = Feedback(conversation_id, entry_id, rating, mask_pii(comment), lang, _now())
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO feedback (conversation_id, entry_id, rating, comment, lang, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (item.conversation_id, item.entry_id, item.rating, item.comment, item.lang,
                 item.created_at),
            )
        return item

    def feedback(self, entry_id: str | None = None) -> list[Feedback]:
        """Stored ratings, oldest first (all, or one entry's)."""
        query = "SELECT conversation_id, entry_id, rating, comment, lang, created_at FROM feedback"
        args: tuple[str, ...] = ()
        if entry_id:
            query, args = query + " WHERE entry_id = ?", (entry_id,)
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [Feedback(*row) for row in rows]

    def open_ticket(self, conversation_id: str, transcript: list[dict[str, str]],
                    lang: str | None = None, reason: str = "") -> Ticket:
        """Store a masked copy of the conversation; the ticket number is ``H-<year>-<id>``."""
        masked = [{"role": t.get("role", ""), "text": mask_pii(t.get("text", ""))} for t in transcript]
        created = _now()
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "INSERT INTO handover (conversation_id, lang, reason, transcript, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, lang, reason, json.dumps(masked, ensure_ascii=False), created),
            )
            number = f"H-{created[:4]}-{cursor.lastrowid:05d}"
            db.execute("UPDATE handover SET ticket = ? WHERE id = ?", (number, cursor.lastrowid))
        return Ticket(number, conversation_id, lang, reason, masked, "open", created)

    def ticket(self, number: str) -> Ticket | None:
        """The ticket with this number, or None."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT ticket, conversation_id, lang, reason, transcript, status, created_at"
                " FROM handover WHERE ticket = ?", (number,),
            ).fetchone()
        if row is None:
            return None
        return Ticket(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6])

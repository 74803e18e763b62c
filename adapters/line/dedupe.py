"""Process each webhook event once, however often LINE delivers it.

LINE redelivers an event (same ``webhookEventId``, ``deliveryContext.isRedelivery: true``)
when our 200 did not reach it in time; the first delivery may well have been processed
already. Ids are remembered in SQLite (``store.LineStore``) so the guarantee holds across a
gateway restart, and forgotten after ``ttl_s`` so the table stays small.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.line.store import LineStore

# Purge expired ids at most this often (seconds); a purge is one indexed DELETE.
_PURGE_EVERY_S = 60.0


class SeenEvents:
    """A set of webhook event ids with expiry, persisted in SQLite."""

    def __init__(
        self, store: LineStore, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be greater than 0. Currently, ttl_s is {ttl_s}")
        self.store = store
        self.ttl_s = ttl_s
        self.clock = clock
        self._last_purge = 0.0

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; True if it was not seen within the expiry window.

        Atomic (one INSERT OR IGNORE), so two concurrent deliveries cannot both win.
        """
        now = self.clock()
        self._purge(now)
        with self.store.cursor() as cur:
            cur.execute(
                "DELETE FROM seen_events WHERE event_id = ? AND seen_at < ?",
                (event_id, now - self.ttl_s),
            )
            cur.execute(
                "INSERT OR IGNORE INTO seen_events (event_id, seen_at) VALUES (?, ?)",
                (event_id, now),
            )
            return cur.rowcount == 1

    def _purge(self, now: float) -> None:
        if now - self._last_purge < _PURGE_EVERY_S:
            return
        self._last_purge = now
        with self.store.cursor() as cur:
            cur.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - self.ttl_s,))

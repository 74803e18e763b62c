"""Rasa's SQL tracker store with personal data masked, on SQLite or PostgreSQL.

Why a tracker-store subclass: the tracker store is where Rasa keeps conversations for good
(and what analytics read), while NLU and the actions must still see the resident's real text
during the turn. Masking as events are *written* gives both: the turn runs on the real text,
the database only ever holds ``[PHONE]``, ``[MYNUMBER]``, ``[EMAIL]``, ``[ADDRESS]``. A custom
NLU component could not do this (it would hide the text from the NLU itself), and an event
broker would leave the tracker store unmasked. No event broker is configured; one added later
receives unmasked events and needs the same treatment.

Masked: user texts (message and parse data) and string slot values (a form's ``from_text``
slot briefly holds the raw answer). Bot texts are the city's own words (its phone numbers
are public) and are kept.

The rules are the app's own ``adapters/privacy.py``, loaded by file path: that module is
stdlib-only for this reason, so the two sides cannot drift apart and the Rasa environment
does not import the app's packages.

Database: ``MADOGUCHI_TRACKER_URL`` (an SQLAlchemy URL such as
``postgresql://madoguchi:secret@db.internal:5432/madoguchi``) wins when set; otherwise SQLite
at ``MADOGUCHI_TRACKER_DB`` (the endpoints.yml ``db``). PostgreSQL needs ``psycopg2-binary``,
which the Rasa lock already pins.
"""

import importlib.util
import itertools
import json
import logging
import os
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

import rasa_speedups

log = logging.getLogger(__name__)
# Only the Rasa server loads this module (endpoints.yml): the place to fix its hot paths.
rasa_speedups.install()
_ONE_DUMP = rasa_speedups.enabled() and "one_dump" not in rasa_speedups.skipped()
PRIVACY_FILE = Path(__file__).resolve().parent.parent / "adapters" / "privacy.py"


def _load_privacy(path: Path = PRIVACY_FILE) -> ModuleType:
    spec = importlib.util.spec_from_file_location("madoguchi_privacy", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the PII rules from {path} (needed to mask the tracker store)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mask_pii: Callable[[str], str] = _load_privacy().mask_pii


def mask_event(data: Dict[Text, Any]) -> Dict[Text, Any]:
    """A copy of a serialised event with user text and string slot values masked."""
    data = json.loads(json.dumps(data))
    _mask_copy(data)
    return data


def _mask_copy(data: Dict[Text, Any]) -> bool:
    """Mask a serialised event's copy in place (what ``mask_event`` does to its copy);
    True when a value changed, False when the event held nothing to mask."""
    changed = False
    if data.get("event") == "user":
        if isinstance(data.get("text"), str):
            masked = mask_pii(data["text"])
            changed |= masked != data["text"]
            data["text"] = masked
        parse = data.get("parse_data") or {}
        if isinstance(parse.get("text"), str):
            masked = mask_pii(parse["text"])
            changed |= masked != parse["text"]
            parse["text"] = masked
        for entity in parse.get("entities") or []:
            if isinstance(entity.get("value"), str):
                masked = mask_pii(entity["value"])
                changed |= masked != entity["value"]
                entity["value"] = masked
    elif data.get("event") == "slot" and isinstance(data.get("value"), str):
        masked = mask_pii(data["value"])
        changed |= masked != data["value"]
        data["value"] = masked
    return changed


def _url_kwargs(url: Text) -> Dict[Text, Any]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return {"dialect": parsed.drivername, "host": parsed.host, "port": parsed.port,
            "db": parsed.database, "username": parsed.username, "password": parsed.password}


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that masks personal data in what it writes.

    On SQLite (with ``rasa_speedups`` on) a turn's read and write go through plain SQL on a
    pooled connection instead of the ORM: Rasa builds three ORM queries a turn (events of
    the latest session, their count, the inserts) and SQLAlchemy spent more on compiling
    and cache keys than SQLite on running them (py-spy under ``bench.load``: the store was
    ~24 % of the Rasa server's CPU). Retrieve + save of a 41-event tracker: 9.4-10.1 →
    3.4-4.0 ms CPU, same trackers and rows (tests/bot/test_rasa_speedups.py). PostgreSQL
    keeps Rasa's own path.
    """

    def __init__(self, domain: Optional[Any] = None, **kwargs: Any) -> None:
        url = os.environ.get("MADOGUCHI_TRACKER_URL", "").strip()
        if url:
            kwargs.update(_url_kwargs(url))
            log.info("tracker store: %s on %s", kwargs["dialect"], kwargs["host"])
        super().__init__(domain=domain, **kwargs)
        # SQLite: turns read and write the events in plain SQL (``_retrieve``/``save``)
        # instead of through the ORM; same statements' meaning, same rows.
        self._direct_sql = False
        if self.engine.dialect.name == "sqlite":
            if rasa_speedups.enabled():
                self._pool_sqlite_connections()
                self._direct_sql = True
            self._sqlite_anchor = _fast_sqlite(self.engine)

    def _pool_sqlite_connections(self) -> None:
        """Keep SQLite connections open between sessions instead of one per session.

        SQLAlchemy 1.4 gives a SQLite file a ``NullPool``: every ``session_scope`` (two or
        three a turn) opened a connection, ran the WAL pragmas of ``_fast_sqlite`` and closed
        it again, ~4 % of the Rasa server's CPU under ``bench.load``. A ``QueuePool`` keeps
        them (at most 4 idle). Rasa calls the store from its event loop thread;
        ``check_same_thread=False`` only lets a pooled connection be used from another thread
        should Rasa ever do so (Python's sqlite3 module is built thread-safe).
        """
        import sqlalchemy as sa
        from sqlalchemy.pool import QueuePool

        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=8,
                                       connect_args={"check_same_thread": False})
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's new events, masked (same rows as SQLTrackerStore.save)."""
        await self.stream_events(tracker)
        if self._direct_sql:
            self._save_direct(tracker)
            return
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                session.add(self.SQLEvent(**_row(tracker.sender_id, event)))
            session.commit()

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if not self._direct_sql:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        connection = self.engine.raw_connection()
        try:
            sql = _EVENTS_ALL if fetch_events_from_all_sessions else _EVENTS_SESSION
            rows = connection.cursor().execute(sql, {"sender": sender_id}).fetchall()
        finally:
            connection.close()
        if not (self.domain and rows):
            return None
        return DialogueStateTracker.from_dict(
            sender_id, [json.loads(data) for (data,) in rows], self.domain.slots
        )

    def _save_direct(self, tracker: DialogueStateTracker) -> None:
        """``save`` in plain SQL on a pooled connection: one count, one ``executemany``,
        one commit, the same rows as Rasa's ORM path."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            (stored,) = cursor.execute(_COUNT_SESSION, {"sender": tracker.sender_id}).fetchone()
            rows = [_row(tracker.sender_id, e)
                    for e in itertools.islice(tracker.events, stored, len(tracker.events))]
            if rows:
                cursor.executemany(_INSERT, rows)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()


def _row(sender_id: Text, event: Any) -> Dict[Text, Any]:
    """The ``events`` row of one event, its data masked.

    The masked copy is ``json.loads(json.dumps(event.as_dict()))``, masked, and the stored
    text its ``json.dumps``. When masking changed nothing (most events: no personal data,
    and only user texts and string slot values are looked at), that text is the first
    ``json.dumps`` already: dumping what was loaded from a dump gives the same string (same
    key order, floats round-trip by ``repr``, string keys; Rasa's event dicts have no
    others), so it is not dumped a second time (``one_dump`` in
    ``MADOGUCHI_RASA_SPEEDUPS_SKIP``: dumped again as before). Measured: the second dump was
    ~12 µs of ~38 per event of a ``bench.load`` conversation (~12 events written a message);
    13.6 → 10.6 µs a row on ``tests/bot/test_tracker_rows.py``'s events.
    """
    text = json.dumps(event.as_dict())
    data = json.loads(text)
    if _mask_copy(data) or not _ONE_DUMP:
        text = json.dumps(data)
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": (data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": text,
    }


# SQLTrackerStore._event_query's filter written out: the events of the latest session (from
# its last ``session_started`` on, or all when there is none), in insertion order.
_SESSION_START = (
    "(SELECT max(timestamp) FROM events WHERE sender_id = :sender AND type_name = '"
    + SessionStarted.type_name + "')"
)
_IN_SESSION = f"(timestamp >= {_SESSION_START} OR {_SESSION_START} IS NULL)"
_EVENTS_SESSION = f"SELECT data FROM events WHERE sender_id = :sender AND {_IN_SESSION} ORDER BY id"
_EVENTS_ALL = "SELECT data FROM events WHERE sender_id = :sender ORDER BY id"
_COUNT_SESSION = f"SELECT count(*) FROM events WHERE sender_id = :sender AND {_IN_SESSION}"
_INSERT = (
    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
    "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
)


def _fast_sqlite(engine: Any) -> Any:
    """WAL with ``synchronous=NORMAL`` on every connection to the SQLite tracker store, and
    one connection kept open (returned: keep a reference) for the store's lifetime.

    Rasa calls the store synchronously from its event loop, so each turn waited for the
    fsyncs of SQLite's default rollback journal (about 100 ms a turn, get and save, on the
    shared machine's disk: found with ``bench.load``) and every other conversation waited
    with it. SQLAlchemy 1.4 opens a new connection per session for a SQLite file; when the
    last one closes, SQLite checkpoints and deletes the WAL (an fsync again), hence the
    connection kept open. WAL with NORMAL never corrupts the database; a power cut may lose
    the last turns, the price of a single-file store (use PostgreSQL,
    ``MADOGUCHI_TRACKER_URL``, where that matters).
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    anchor = sqlite3.connect(engine.url.database, check_same_thread=False)
    anchor.execute("PRAGMA journal_mode=WAL")
    # A read maps the WAL index: from then on the other connections know they are not the
    # last one and leave the WAL in place when they close.
    anchor.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return anchor

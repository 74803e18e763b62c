"""Retention: delete conversations older than ``settings.storage.retention_days``.

Under the APPI a municipality keeps residents' conversations only as long as it needs them.
What is deleted, per store, when older than the cut-off:

- Rasa's tracker store (``events``, SQLite at ``<data_dir>/tracker.db`` or
  ``settings.rasa.tracker_url`` on PostgreSQL): every event older than the cut-off, so a
  conversation idle for N days disappears whole and a long-running one loses its old turns.
  The SQL runs in Rasa's environment (``bot/purge_tracker.py``), which has SQLAlchemy and the
  PostgreSQL driver; the app's environment has neither.
- ``dialogue.db``: feedback (👍/👎 with comments) and handover tickets, by ``created_at``.
- ``line.sqlite3``: each LINE user's remembered language (by last change) and the log of
  undelivered answers (by ``at``). Seen webhook ids expire on their own (``line/dedupe.py``).

``retention_days = 0`` keeps everything forever. Log files are not rewritten: every line is
masked before it is written (``adapters/privacy.py``); rotate them with the system's tools.
Council minutes (the clerk app) are public records, not conversations, and are not touched.

SQLite rows are deleted with ``secure_delete`` on, so their bytes do not linger in free pages.
``purge`` is run by ``madoguchi retention purge [--dry-run]`` and, every
``retention_interval_s``, by the gateway (``purge_forever`` in its lifespan).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from adapters.errors import AdapterError
from adapters.settings import Settings

log = logging.getLogger(__name__)
DAY_S = 86400.0
PURGE_SCRIPT = Path(__file__).resolve().parent.parent / "bot" / "purge_tracker.py"
# The first run comes this soon after the gateway starts (or one interval, if shorter), so a
# gateway restarted more often than every interval still purges.
FIRST_RUN_AFTER_S = 60.0


class RetentionError(AdapterError):
    """A store could not be purged (the message names it and why)."""


@dataclass(frozen=True)
class Target:
    """One table of one SQLite file, and the column that dates its rows."""

    file: str
    table: str
    column: str
    # "iso": ISO-8601 UTC text (tickets.py); "epoch": Unix seconds (line/store.py).
    kind: str


TARGETS = (
    Target("dialogue.db", "feedback", "created_at", "iso"),
    Target("dialogue.db", "handover", "created_at", "iso"),
    Target("line.sqlite3", "users", "updated_at", "epoch"),
    Target("line.sqlite3", "failures", "at", "epoch"),
)


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or, when ``dry_run``, would delete), per store."""

    retention_days: int
    cutoff: float  # Unix time; rows older than this go
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)  # "file:table" → rows
    conversations: int = 0  # tracker conversations deleted whole

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def tracker_db(settings: Settings) -> Path:
    """Where `madoguchi serve` keeps the SQLite tracker store."""
    return Path(settings.storage.data_dir) / "tracker.db"


def purge(
    settings: Settings,
    dry_run: bool = False,
    now: float | None = None,
    tracker: Path | None = None,
) -> PurgeReport:
    """Delete every conversation record older than ``settings.storage.retention_days``.

    Args:
        settings: the storage group gives the data dir and the retention; the rasa group the
            tracker URL (PostgreSQL) and the Rasa environment.
        dry_run: count only.
        now: the current Unix time (tests pass a fixed one).
        tracker: the SQLite tracker file when ``rasa.tracker_url`` is empty (default
            ``<data_dir>/tracker.db``).

    Raises:
        RetentionError: a database could not be read or written.
    """
    days = settings.storage.retention_days
    now = time.time() if now is None else now
    cutoff = now - days * DAY_S
    if days == 0:
        return PurgeReport(0, 0.0, dry_run)
    deleted: dict[str, int] = {}
    data_dir = Path(settings.storage.data_dir)
    for target in TARGETS:
        path = data_dir / target.file
        if path.is_file():
            deleted[f"{target.file}:{target.table}"] = _purge_sqlite(path, target, cutoff, dry_run)
    events, conversations = _purge_tracker(settings, tracker or tracker_db(settings), cutoff, dry_run)
    if events is not None:
        deleted["tracker:events"] = events
    return PurgeReport(days, cutoff, dry_run, deleted, conversations)


def _purge_sqlite(path: Path, target: Target, cutoff: float, dry_run: bool) -> int:
    bound: float | str = cutoff
    if target.kind == "iso":
        bound = dt.datetime.fromtimestamp(cutoff, dt.timezone.utc).isoformat(timespec="seconds")
    where = f"FROM {target.table} WHERE {target.column} < ?"
    try:
        with closing(sqlite3.connect(path, timeout=10)) as db:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (target.table,)
            ).fetchone():
                return 0
            count = int(db.execute(f"SELECT COUNT(*) {where}", (bound,)).fetchone()[0])
            if count and not dry_run:
                db.execute("PRAGMA secure_delete = ON")
                with db:
                    db.execute(f"DELETE {where}", (bound,))
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise RetentionError(f"cannot purge {target.table} in {path}: {exc}") from exc
    return count


def _purge_tracker(
    settings: Settings, sqlite_path: Path, cutoff: float, dry_run: bool
) -> tuple[int | None, int]:
    url = settings.rasa.tracker_url.get_secret_value().strip()
    if not url:
        if not sqlite_path.is_file():
            return None, 0
        url = f"sqlite:///{sqlite_path.resolve()}"
    python = Path(settings.rasa.env_dir).resolve() / "bin" / "python"
    if not python.exists():
        raise RetentionError(
            f"the Rasa environment ({settings.rasa.env_dir}) is needed to purge the tracker "
            "store and was not found; run `make run` once, or set MADOGUCHI_RASA__ENV_DIR"
        )
    cmd = [str(python), str(PURGE_SCRIPT), "--before", repr(cutoff)]
    if dry_run:
        cmd.append("--dry-run")
    done = subprocess.run(
        cmd, env={**os.environ, "MADOGUCHI_TRACKER_URL": url}, capture_output=True, text=True,
        timeout=300, check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RetentionError(f"purging the tracker store failed (exit {done.returncode}): {last}")
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
        return int(result["events"]), int(result["conversations"])
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise RetentionError(f"the tracker purge printed no report ({exc}): {done.stdout[-300:]!r}") from exc


async def purge_forever(settings: Settings) -> None:
    """Purge now and then every ``retention_interval_s`` (the gateway runs this as a task).

    A failed purge is logged and retried at the next interval; it never stops the gateway.
    """
    if settings.storage.retention_days == 0:
        log.info("retention: conversations are kept forever (retention_days = 0)")
        return
    interval = settings.storage.retention_interval_s
    await asyncio.sleep(min(FIRST_RUN_AFTER_S, interval))
    while True:
        try:
            report = await run_in_threadpool(purge, settings)
        except (RetentionError, OSError, subprocess.SubprocessError, ValueError) as exc:
            log.error("retention purge failed: %s", exc)
        else:
            if report.total:
                log.info(
                    "retention: deleted %d rows older than %d days (%s)",
                    report.total, report.retention_days,
                    ", ".join(f"{k} {v}" for k, v in report.deleted.items() if v),
                )
        await asyncio.sleep(interval)

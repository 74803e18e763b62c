"""Retention on the PostgreSQL tracker store (issue 8): ``madoguchi retention purge`` deletes
events older than the retention there exactly as on SQLite (``tests/privacy/test_retention.py``),
through the same SQL (``bot/purge_tracker.py``), with rows written by Rasa's own store."""

from __future__ import annotations

import copy
import subprocess
import time

from pydantic import SecretStr

from adapters.retention import DAY_S, purge
from tests.privacy.trackers import EVENTS_PER_TURN, write_conversations


def test_retention_purges_old_conversations_on_postgres(postgres, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    postgres.query("CREATE DATABASE retention")  # its own: the scaled stack's rows stay apart
    url = postgres.url.rsplit("/", 1)[0] + "/retention"
    now = time.time()
    old, recent = now - 100 * DAY_S, now - 10 * DAY_S
    write_conversations(settings, url, {
        "old": [("ごみの日", old), ("保育園", old + 60)],
        "recent": [("転入", recent)],
        "long": [("粗大ごみ", old), ("児童手当", recent)],
    })
    s = copy.deepcopy(settings)
    s.storage.data_dir = tmp_path
    s.rasa.tracker_url = SecretStr(url)
    dry = purge(s, dry_run=True, now=now)
    assert dry.deleted == {"tracker:events": 3 * EVENTS_PER_TURN} and dry.conversations == 1
    done = purge(s, now=now)
    assert done.deleted == dry.deleted
    left = subprocess.run(
        [str(postgres.psql), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "madoguchi",
         "-d", "retention", "-At", "-c",
         "SELECT sender_id || ':' || COUNT(*) FROM events GROUP BY sender_id ORDER BY 1"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()
    assert left == ["long:3", "recent:3"]
    assert purge(s, now=now).total == 0

"""Retention: conversations older than ``storage.retention_days`` are deleted from every store
— the Rasa tracker (written by Rasa's own SQLTrackerStore in Rasa's environment), feedback,
handover tickets and the LINE channel's state — by ``madoguchi retention purge`` and by the
gateway on its own; newer ones are kept, ``--dry-run`` deletes nothing, 0 keeps everything.

Rows are backdated: 100 days old (must go) and 10 days old (must stay) at 90 days' retention.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.gateway import create_app
from adapters.line.store import Failure, FailureLog, LineStore, UserLanguages
from adapters.retention import DAY_S, purge
from adapters.tickets import DialogueStore
from tests.privacy.trackers import write_conversations

NOW = time.time()
OLD, RECENT = NOW - 100 * DAY_S, NOW - 10 * DAY_S
OLD_MARK = "old-conversation-marker-7f3a"  # text only the old rows hold

PLAN = {
    "old-resident": [(f"{OLD_MARK} ごみの日", OLD), (f"{OLD_MARK} 保育園", OLD + 60)],
    "recent-resident": [("転入の手続き", RECENT)],
    "long-resident": [(f"{OLD_MARK} 粗大ごみ", OLD), ("児童手当", RECENT)],
}  # one conversation old, one recent, one spanning both: 3 old turns, 9 old events


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def _populate(data_dir: Path) -> None:
    store = DialogueStore(data_dir / "dialogue.db")
    for when, mark in ((OLD, OLD_MARK), (RECENT, "recent")):
        store.add_feedback(f"c-{mark}", "faq.x", "down", f"{mark} comment")
        store.open_ticket(f"c-{mark}", [{"role": "user", "text": f"{mark} 相談"}])
        with closing(sqlite3.connect(data_dir / "dialogue.db")) as db, db:  # backdate it
            db.execute("UPDATE feedback SET created_at = ? WHERE conversation_id = ?", (_iso(when), f"c-{mark}"))
            db.execute("UPDATE handover SET created_at = ? WHERE conversation_id = ?", (_iso(when), f"c-{mark}"))
    line = LineStore(data_dir / "line.sqlite3")
    users, failures = UserLanguages(line), FailureLog(line)
    for when, mark in ((OLD, OLD_MARK), (RECENT, "recent")):
        users.set(f"U-{mark}", "en")
        failures.add(Failure(when, f"E-{mark}", f"U-{mark}", "HTTP 500",
                             {"message": {"text": f"{mark} text"}}, []))
        with line.cursor() as cur:
            cur.execute("UPDATE users SET updated_at = ? WHERE user_id = ?", (when, f"U-{mark}"))
    line.close()


@pytest.fixture(scope="module")
def tracker_file(settings, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """Written once (Rasa takes seconds to import); each test gets a copy."""
    path = tmp_path_factory.mktemp("tracker") / "tracker.db"
    write_conversations(settings, path, PLAN)
    return path


@pytest.fixture
def populated(gateway_settings, tracker_file: Path) -> Any:  # type: ignore[no-untyped-def]
    data = Path(gateway_settings.storage.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    _populate(data)
    shutil.copyfile(tracker_file, data / "tracker.db")
    return gateway_settings


def _counts(data: Path) -> dict[str, int]:
    out = {}
    for file, table in (("dialogue.db", "feedback"), ("dialogue.db", "handover"),
                        ("line.sqlite3", "users"), ("line.sqlite3", "failures"),
                        ("tracker.db", "events")):
        with closing(sqlite3.connect(data / file)) as db:
            out[f"{file}:{table}"] = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return out


def _senders(data: Path) -> set[str]:
    with closing(sqlite3.connect(data / "tracker.db")) as db:
        return {r[0] for r in db.execute("SELECT DISTINCT sender_id FROM events")}


def _old_bytes_left(data: Path) -> list[str]:
    return [p.name for p in data.iterdir() if p.is_file() and OLD_MARK.encode() in p.read_bytes()]


def test_purge_deletes_what_is_older_than_the_retention_and_keeps_the_rest(populated) -> None:  # type: ignore[no-untyped-def]
    data = Path(populated.storage.data_dir)
    before = _counts(data)
    assert _old_bytes_left(data)  # the marker is there to be found
    dry = purge(populated, dry_run=True, now=NOW)
    assert _counts(data) == before, "--dry-run deleted something"
    assert dry.deleted == {"dialogue.db:feedback": 1, "dialogue.db:handover": 1,
                           "line.sqlite3:users": 1, "line.sqlite3:failures": 1,
                           "tracker:events": 9}  # 3 events per old turn
    assert dry.conversations == 1
    done = purge(populated, now=NOW)
    assert done.deleted == dry.deleted
    after = _counts(data)
    assert {k: before[k] - after[k] for k in before} == {
        "dialogue.db:feedback": 1, "dialogue.db:handover": 1, "line.sqlite3:users": 1,
        "line.sqlite3:failures": 1, "tracker.db:events": 9,
    }
    assert _senders(data) == {"recent-resident", "long-resident"}
    # Deleted means gone from the files too (secure_delete), not just unlinked from the table.
    assert not _old_bytes_left(data)
    assert purge(populated, now=NOW).total == 0  # idempotent


def test_zero_keeps_everything(populated) -> None:  # type: ignore[no-untyped-def]
    populated.storage.retention_days = 0
    data = Path(populated.storage.data_dir)
    before = _counts(data)
    assert purge(populated, now=NOW + 10_000 * DAY_S).total == 0
    assert _counts(data) == before


def test_tracker_by_url_takes_the_sqlalchemy_path(populated) -> None:  # type: ignore[no-untyped-def]
    # The path PostgreSQL takes (MADOGUCHI_RASA__TRACKER_URL), here with an SQLite URL; the
    # tracker file is moved away from the default place so only the URL can find it.
    data = Path(populated.storage.data_dir)
    moved = data / "elsewhere.db"
    (data / "tracker.db").rename(moved)
    populated.rasa.tracker_url = SecretStr(f"sqlite:///{moved}")
    report = purge(populated, now=NOW)
    assert report.deleted["tracker:events"] == 9 and report.conversations == 1


def test_cli_purge_and_dry_run(populated, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    data = Path(populated.storage.data_dir)
    monkeypatch.setenv("MADOGUCHI_STORAGE__DATA_DIR", str(data))
    monkeypatch.setenv("MADOGUCHI_STORAGE__RETENTION_DAYS", "30")
    before = _counts(data)
    runner = CliRunner()
    dry = runner.invoke(cli, ["retention", "purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "older than 30 days" in dry.output and "would delete" in dry.output
    assert "dialogue.db:feedback: 1 rows" in dry.output
    assert _counts(data) == before
    done = runner.invoke(cli, ["retention", "purge", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["retention_days"] == 30 and report["dry_run"] is False
    assert report["deleted"]["tracker:events"] == 9 and report["total"] == 13
    assert _senders(data) == {"recent-resident", "long-resident"}


def test_the_gateway_purges_on_its_own(populated) -> None:  # type: ignore[no-untyped-def]
    populated.storage.retention_interval_s = 0.5
    data = Path(populated.storage.data_dir)
    with TestClient(create_app(populated)):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "old-resident" in _senders(data):
            time.sleep(0.2)
    assert _senders(data) == {"recent-resident", "long-resident"}
    assert _counts(data)["dialogue.db:handover"] == 1

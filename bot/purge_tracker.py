"""Delete Rasa tracker events older than a cut-off, on any SQLAlchemy database (retention).

Run in Rasa's environment, which has SQLAlchemy and psycopg2 (the app's environment has
neither): ``adapters/retention.py`` starts it as ``<rasa env>/bin/python bot/purge_tracker.py
--before EPOCH [--dry-run]`` with the database URL in ``MADOGUCHI_TRACKER_URL`` (never on the
command line, where ``ps`` shows passwords). Prints one JSON line:
``{"events": n, "conversations": m}`` (events deleted or, with ``--dry-run``, that would be;
conversations whose every event would go).

One code path for SQLite (``sqlite:////abs/path/tracker.db``) and PostgreSQL: plain SQL that
both accept; Rasa's ``events`` table keeps ``timestamp`` as a float of Unix seconds on both. On
SQLite, ``secure_delete`` overwrites the deleted rows in the file (otherwise their bytes stay
in free pages until a VACUUM) and the WAL is checkpointed; PostgreSQL reclaims dead rows at
its next (auto)vacuum.
"""

import argparse
import json
import os
import sys

from sqlalchemy import create_engine, text

COUNT = (
    "SELECT COUNT(*) FROM events WHERE timestamp < :cutoff",
    "SELECT COUNT(*) FROM (SELECT sender_id FROM events GROUP BY sender_id"
    " HAVING MAX(timestamp) < :cutoff) AS gone",
)
DELETE = "DELETE FROM events WHERE timestamp < :cutoff"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=float, required=True, help="Unix time cut-off")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("MADOGUCHI_TRACKER_URL", "").strip()
    if not url:
        print("error: MADOGUCHI_TRACKER_URL is not set", file=sys.stderr)
        return 2
    engine = create_engine(url)
    with engine.begin() as db:
        has_table = engine.dialect.has_table(db, "events")
        if not has_table:
            print(json.dumps({"events": 0, "conversations": 0}))
            return 0
        events, conversations = (db.execute(text(q), {"cutoff": args.before}).scalar() for q in COUNT)
        if not args.dry_run:
            if engine.dialect.name == "sqlite":
                db.execute(text("PRAGMA secure_delete = ON"))
            db.execute(text(DELETE), {"cutoff": args.before})
    if engine.dialect.name == "sqlite" and not args.dry_run:
        with engine.connect() as db:
            db.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    print(json.dumps({"events": int(events or 0), "conversations": int(conversations or 0)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

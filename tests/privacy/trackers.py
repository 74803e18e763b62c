"""Conversations written by Rasa's own ``SQLTrackerStore`` (in Rasa's environment), with
chosen timestamps, for the retention tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

_WRITE = textwrap.dedent("""
    import asyncio, json, sys
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy.engine import make_url

    target, plan = sys.argv[1], json.loads(sys.argv[2])
    if "://" in target:
        url = make_url(target)
        store = SQLTrackerStore(dialect=url.drivername, host=url.host, port=url.port,
                                db=url.database, username=url.username, password=url.password)
    else:
        store = SQLTrackerStore(dialect="sqlite", db=target)
    for sender, turns in plan.items():
        events = []
        for text, ts in turns:
            events += [ActionExecuted("action_listen", timestamp=ts),
                       UserUttered(text, timestamp=ts), BotUttered("ok", timestamp=ts)]
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
""")

EVENTS_PER_TURN = 3


def write_conversations(settings: Any, target: str | Path, plan: dict[str, list[tuple[str, float]]]) -> None:
    """Save one tracker per sender: for each (text, Unix time) an action_listen, the user's
    text and a bot answer, all at that time. ``target``: an SQLite path or an SQLAlchemy URL."""
    python = Path(settings.rasa.env_dir).resolve() / "bin" / "python"
    done = subprocess.run([str(python), "-c", _WRITE, str(target), json.dumps(plan)],
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"writing trackers failed: {done.stderr[-2000:]}")

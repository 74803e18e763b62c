"""The lock store chosen by the environment: Redis when ``MADOGUCHI_LOCK_URL`` is set.

Rasa holds a per-conversation lock while it handles a message, so two messages of one resident
are processed in order. The default lock store lives in the Rasa process's memory, which is
right for one Rasa server and wrong for several: replicas sharing a tracker store must share
the locks too, or two replicas can handle one resident's messages at once and write
interleaved events. ``madoguchi`` passes ``rasa.lock_url`` (``MADOGUCHI_RASA__LOCK_URL``) to
Rasa as ``MADOGUCHI_LOCK_URL``, e.g. ``redis://:secret@redis.internal:6379/1``; endpoints.yml
names this class, so switching needs no file edits (Rasa refuses an unset ``${VAR}`` in
endpoints.yml, hence a class that reads an optional variable instead).
"""

import logging
import os
from typing import Any, Optional
from urllib.parse import unquote, urlparse

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore

log = logging.getLogger(__name__)


def redis_kwargs(url: str) -> dict:
    """``RedisLockStore`` arguments from a ``redis://[user:password@]host[:port][/db]`` URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError(
            f"lock store URL must look like redis://host:6379/1, got scheme {parsed.scheme!r}"
        )
    path = parsed.path.strip("/")
    return {
        "host": parsed.hostname,
        "port": parsed.port or 6379,
        "db": int(path) if path else 1,
        "username": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
        "use_ssl": parsed.scheme == "rediss",
        "key_prefix": "madoguchi",
    }


class EnvLockStore(LockStore):
    """A factory in class form: Rasa instantiates it; it returns Rasa's own lock store."""

    def __new__(cls, endpoint_config: Optional[Any] = None, **_: Any) -> LockStore:  # type: ignore[misc]
        url = os.environ.get("MADOGUCHI_LOCK_URL", "").strip()
        if not url:
            return InMemoryLockStore()
        kwargs = redis_kwargs(url)
        log.info("lock store: redis on %s:%s db %s", kwargs["host"], kwargs["port"], kwargs["db"])
        return RedisLockStore(**kwargs)

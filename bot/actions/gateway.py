"""The action server's client for the gateway's internal HTTP API.

The action server runs in the Rasa environment (Python 3.10), which cannot import the app's
retrieval code (Python 3.11); the gateway holds the one FAISS index, the KB and the
feedback/ticket stores, and the actions ask it over loopback (``MADOGUCHI_GATEWAY_URL``).
Every call returns None when the gateway cannot answer, and each caller says what it does
then: the resident always gets a reply.

One aiohttp session per event loop is kept for all calls (issue 8): a new ``ClientSession``
per call meant a new connector and TCP connection each time — connect, the gateway's
accept and a new uvicorn protocol per FAQ answer (aiohttp's connection set-up was ~6 % of the
action server's CPU under ``bench.load``). The kept session sends no cookies (a fresh one
never sent any back), has no connection limit (fresh sessions had none between them) and drops
idle connections after 2 s, before uvicorn's 5 s keep-alive closes them under a request.
``MADOGUCHI_RASA_SPEEDUPS_SKIP=gateway_session`` makes a session per call again, for A/B.
"""

import asyncio
import atexit
import logging
import os
from typing import Any, Dict, Optional, Text

import aiohttp

log = logging.getLogger(__name__)
GATEWAY_URL = os.environ.get("MADOGUCHI_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
TIMEOUT = aiohttp.ClientTimeout(total=float(os.environ.get("MADOGUCHI_ACTION_TIMEOUT", "8")))
KEEP_SESSION = "gateway_session" not in {
    name.strip().lower() for name in os.environ.get("MADOGUCHI_RASA_SPEEDUPS_SKIP", "").split(",")}
_sessions: Dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


async def post(path: Text, body: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """POST ``body`` as JSON to the gateway; the JSON reply, or None on any failure."""
    return await _request("POST", path, json=body)


async def get(path: Text, params: Dict[Text, Text]) -> Optional[Dict[Text, Any]]:
    """GET from the gateway; the JSON reply, or None on any failure."""
    return await _request("GET", path, params=params)


def _kept_session() -> aiohttp.ClientSession:
    """This event loop's session (made on first use; sessions of closed loops dropped)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        for old in [old for old in _sessions if old.is_closed()]:
            del _sessions[old]
        session = aiohttp.ClientSession(
            timeout=TIMEOUT, cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0))
        _sessions[loop] = session
    return session


@atexit.register
def _drop_sessions() -> None:
    """At exit: close the kept sessions' sockets without the (by then stopped) event loop,
    so aiohttp does not log "Unclosed client session" for them."""
    for session in _sessions.values():
        connector = session.connector
        session.detach()
        if connector is not None:
            connector._close()  # aiohttp's synchronous close (the public one is awaitable)
    _sessions.clear()


async def _request(method: Text, path: Text, **kwargs: Any) -> Optional[Dict[Text, Any]]:
    try:
        if KEEP_SESSION:
            return await _exchange(_kept_session(), method, path, **kwargs)
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            return await _exchange(session, method, path, **kwargs)
    except (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError) as exc:
        # aiohttp's total timeout raises asyncio.TimeoutError, not the builtin before 3.11.
        log.warning("gateway %s unreachable: %s", path, exc)
        return None


async def _exchange(session: aiohttp.ClientSession, method: Text, path: Text,
                    **kwargs: Any) -> Optional[Dict[Text, Any]]:
    async with session.request(method, f"{GATEWAY_URL}{path}", **kwargs) as response:
        if response.status != 200:
            log.warning("gateway %s answered HTTP %s", path, response.status)
            return None
        return await response.json()

"""aiohttp client sessions kept open between calls, and the A/B switches of ``bot/``.

Shared by the two processes of the Rasa environment that call out over HTTP (issue 8): the
Rasa server's calls to the action server (``rasa_speedups.py``, ``EndpointConfig.session``)
and the action server's calls to the gateway (``actions/gateway.py``). A new
``ClientSession`` per call meant a new connector and TCP connection each time (connect, the
peer's accept and a new server protocol), measurable in both processes' CPU. Both processes
run from ``bot/`` (``adapters/stack.py`` starts ``rasa run`` and ``rasa run actions`` there,
and Rasa's CLI puts the working directory on ``sys.path``), so this top-level module is
imported the same way by the Rasa server (like ``rasa_speedups``) and by the ``actions``
package, which never loads Rasa's own code.

A kept session sends no cookies (a fresh one never sent any back), has no connection limit
(fresh sessions had none between them) and drops idle connections after 2 s, before the
peer's keep-alive (Sanic's and uvicorn's 5 s) closes them under a request. There is one per
event loop and key; the sessions of closed loops are dropped, and at exit the sockets are
closed without the (by then stopped) loop, so aiohttp does not log "Unclosed client session".
"""

import asyncio
import atexit
import os
from typing import Any, Callable, Dict, Hashable, Tuple

import aiohttp

IDLE_CONNECTION_S = 2.0
_sessions: Dict[Tuple[asyncio.AbstractEventLoop, Hashable], aiohttp.ClientSession] = {}


def skipped() -> set:
    """Names in ``MADOGUCHI_RASA_SPEEDUPS_SKIP`` (comma-separated, any case): speedups of
    ``bot/`` left out, for A/B runs of one of them (``rasa_speedups.py`` lists the Rasa
    server's; ``gateway_session`` is the action server's kept session to the gateway)."""
    return {n.strip().lower() for n in
            os.environ.get("MADOGUCHI_RASA_SPEEDUPS_SKIP", "").split(",") if n.strip()}


def kept_session(key: Hashable = None,
                 options: Callable[[], Dict[str, Any]] = dict) -> aiohttp.ClientSession:
    """The running event loop's session for ``key``, made on first use with the
    ``ClientSession`` arguments ``options()`` returns (headers, auth, timeout...) and the
    kept-session settings above. Call it from a coroutine; a closed session is replaced."""
    loop = asyncio.get_running_loop()
    session = _sessions.get((loop, key))
    if session is None or session.closed:
        for old in [old for old in _sessions if old[0].is_closed()]:
            del _sessions[old]
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=IDLE_CONNECTION_S),
            **options())
        _sessions[(loop, key)] = session
    return session


@atexit.register
def drop_sessions() -> None:
    """Close the kept sessions' sockets without their event loop (at exit, see above)."""
    for session in _sessions.values():
        connector = session.connector
        session.detach()
        if connector is not None:
            connector._close()  # aiohttp's synchronous close (the public one is awaitable)
    _sessions.clear()

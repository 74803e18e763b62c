"""The action server's client for the gateway's internal HTTP API.

The action server runs in the Rasa environment (Python 3.10), which cannot import the app's
retrieval code (Python 3.11); the gateway holds the one FAISS index, the KB and the
feedback/ticket stores, and the actions ask it over loopback (``MADOGUCHI_GATEWAY_URL``).
Every call returns None when the gateway cannot answer, and each caller says what it does
then: the resident always gets a reply.

One aiohttp session per event loop is kept for all calls (issue 8; ``kept_sessions.py``, shared
with the Rasa server's calls to this server): a new ``ClientSession`` per call meant a new
connector and TCP connection each time — connect, the gateway's accept and a new uvicorn
protocol per FAQ answer (aiohttp's connection set-up was ~6 % of the action server's CPU under
``bench.load``). ``MADOGUCHI_RASA_SPEEDUPS_SKIP=gateway_session`` makes a session per call
again, for A/B.
"""

import asyncio
import logging
import os
from typing import Any, Dict, Optional, Text

import aiohttp

from kept_sessions import kept_session, skipped

log = logging.getLogger(__name__)
GATEWAY_URL = os.environ.get("MADOGUCHI_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
TIMEOUT = aiohttp.ClientTimeout(total=float(os.environ.get("MADOGUCHI_ACTION_TIMEOUT", "8")))
KEEP_SESSION = "gateway_session" not in skipped()


async def post(path: Text, body: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """POST ``body`` as JSON to the gateway; the JSON reply, or None on any failure."""
    return await _request("POST", path, json=body)


async def get(path: Text, params: Dict[Text, Text]) -> Optional[Dict[Text, Any]]:
    """GET from the gateway; the JSON reply, or None on any failure."""
    return await _request("GET", path, params=params)


async def _request(method: Text, path: Text, **kwargs: Any) -> Optional[Dict[Text, Any]]:
    try:
        if KEEP_SESSION:
            session = kept_session(options=lambda: {"timeout": TIMEOUT})
            return await _exchange(session, method, path, **kwargs)
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

"""The load harness's own HTTP/1.1 client: the requests httpx sends, without httpx's CPU.

Why. The harness runs on the two cores of the stack it measures, so its CPU is taken from
the stack. A CPU-time cProfile of the harness at 50 msg/s (cold, session 8) had ~85 % of
its thread in the client: httpx's ``Request`` and URL building and merging, the
auth/redirect layers, httpcore's pool, h11's state machine, anyio's cancel scopes around
every read and write, the ``Response`` and its stream wrappers — for one small POST a
message. The fake LINE API (the server side) was ~8 %.

What. :class:`RawClient` is the gateway's lean client (``adapters/http_lean.py``: httpx's
bytes on the wire, httptools parsing the response, httpx's limits, keep-alive expiry and
exception types) with raw bodies on, for the harness's two kinds of POST — a ``json=`` body
(REST chat, bare Rasa) and a ``content=`` body with the caller's headers (signed LINE
webhooks); ``tests/load/test_raw_client.py`` compares the bytes with httpx's on the wire.
"""

from __future__ import annotations

import httpx

from adapters.http_lean import LeanHttp


class RawClient(LeanHttp):
    """POSTs over kept-alive HTTP/1.1 connections (at most ``max_connections`` open)."""

    def __init__(self, max_connections: int = 64, keepalive_expiry: float = 4.0) -> None:
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections,
                              keepalive_expiry=keepalive_expiry)
        # Takes what the lean client does not send itself (nothing the harness sends).
        super().__init__(httpx.AsyncClient(limits=limits), limits, raw_bodies=True)

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
        await self.fallback.aclose()

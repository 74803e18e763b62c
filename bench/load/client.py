"""The load harness's own HTTP/1.1 client: the requests httpx sends, without httpx's CPU.

Why. The harness runs on the two cores of the stack it measures, so its CPU is taken from
the stack. A CPU-time cProfile of the harness at 50 msg/s (cold, session 8) had ~85 % of
its thread in the client: httpx's ``Request`` and URL building and merging, the
auth/redirect layers, httpcore's pool, h11's state machine, anyio's cancel scopes around
every read and write, the ``Response`` and its stream wrappers — for one small POST a
message. The fake LINE API (the server side) was ~8 %.

What. :class:`RawClient` sends exactly the bytes httpx 0.28 sends for the harness's two
kinds of POST — a ``json=`` body (REST chat, bare Rasa) and a ``content=`` body with the
caller's headers (signed LINE webhooks): same request line, the same headers in the same
order, the same JSON encoding, head and body in one ``write()`` as the gateway's pool
(``adapters/http_pool.py``) does (``tests/load/test_raw_client.py`` compares them on the
wire). The response is parsed by httptools (llhttp, what uvicorn parses with) on an asyncio
protocol; a kept-alive connection is reused until the server closes it or it has been idle
for ``keepalive_expiry``. Failures raise httpx's exception types (``ConnectError``,
``ConnectTimeout``, ``ReadTimeout``, ``RemoteProtocolError``), which the harness catches and
counts as it did. Only what the harness needs: ``http://``, POST, a body always.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
import zlib
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx

# httpx's client headers (0.28), in the order it sends them after Host.
_CLIENT_HEAD = (b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
                b"User-Agent: python-httpx/" + httpx.__version__.encode("ascii") + b"\r\n")


class Headers(dict[str, str]):
    """Response headers by lower-case name; ``get`` and ``[]`` ignore case, as httpx's."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())


class Response:
    """What the harness reads of a response."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Target:
    """A URL parsed once: where to connect, and the request line and Host header."""

    __slots__ = ("key", "head")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"RawClient speaks plain http:// to a host, not {url!r}")
        self.key = (parts.hostname, parts.port or 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.head = (b"POST " + path.encode("ascii") + b" HTTP/1.1\r\nHost: "
                     + parts.netloc.encode("ascii") + b"\r\n" + _CLIENT_HEAD)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.reusable = True
        self.idle_since = 0.0
        self._headers = Headers()
        self._body: list[bytes] = []

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid response: {exc}"))

    def eof_received(self) -> bool:
        self.closed = True
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        headers, body = self._headers, b"".join(self._body)
        self._headers, self._body = Headers(), []
        self.reusable = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            encoding = headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                body = _decode(body, encoding)
            waiter.set_result(Response(self.parser.get_status_code(), headers, body))

    # --
    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _decode(body: bytes, encoding: str) -> bytes:
    """Undo a content-encoding httpx would undo (its Accept-Encoding offers gzip, deflate)."""
    if encoding == "gzip":
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    raise httpx.DecodingError(f"unsupported content-encoding {encoding!r}")


class RawClient:
    """POSTs over kept-alive HTTP/1.1 connections (at most ``max_connections`` open)."""

    def __init__(self, max_connections: int = 64, keepalive_expiry: float = 4.0) -> None:
        self.keepalive_expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._busy: set[_Connection] = set()

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        for conn in self._busy:
            conn.close()
        self._idle.clear()

    async def post(self, url: str, *, json: Any = None, content: bytes | None = None,
                   headers: dict[str, str] | None = None, timeout: float = 5.0) -> Response:
        """POST ``json`` (encoded as httpx encodes it) or ``content`` with ``headers``, as
        httpx's ``AsyncClient.post`` would send them; ``timeout`` bounds the connect and
        the wait for the response.

        Raises:
            httpx.HTTPError: the request could not be sent or got no valid response.
        """
        target = self._targets.get(url) or self._targets.setdefault(url, _Target(url))
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"),
                                 allow_nan=False).encode("utf-8")
            extra = (b"Content-Length: " + str(len(body)).encode("ascii")
                     + b"\r\nContent-Type: application/json\r\n\r\n")
        else:
            body = content or b""
            extra = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in (headers or {}).items())
            extra += b"Content-Length: " + str(len(body)).encode("ascii") + b"\r\n\r\n"
        async with self._slots:
            conn = await self._connection(target.key, timeout)
            self._busy.add(conn)
            ok = False
            try:
                reply = conn.send(target.head + extra + body)
                try:
                    response = await asyncio.wait_for(reply, timeout)
                except asyncio.TimeoutError:
                    raise httpx.ReadTimeout(f"no response within {timeout} s") from None
                ok = conn.reusable and not conn.closed
                return response
            finally:
                self._busy.discard(conn)
                if ok:
                    conn.idle_since = time.monotonic()
                    self._idle.setdefault(target.key, deque()).append(conn)
                else:
                    conn.close()

    async def _connection(self, key: tuple[str, int], timeout: float) -> _Connection:
        """The most recently used live idle connection to ``key``, or a new one."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:  # the oldest first: closed by the server, or idle for too long
            if idle[0].closed or now - idle[0].idle_since >= self.keepalive_expiry:
                idle.popleft().close()
            else:
                return idle.pop()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(_Connection, *key), timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {timeout} s"
                                       ) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        return conn

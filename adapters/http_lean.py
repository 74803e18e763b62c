"""The gateway's own calls to Rasa and to the LINE API on a lean HTTP/1.1 keep-alive client.

Why. Every resident message makes the gateway's event loop send one POST to Rasa's channel
and, for LINE, the loading and reply POSTs; through httpx each is a ``Request`` and its
headers built and merged, the auth/redirect/cookie layers, httpcore's pool pass, h11's
state machine, anyio's cancel scopes for every read and write, and a ``Response`` with its
stream wrappers. A CPU-time cProfile of the gateway's event-loop thread under ``bench.load``
(50 msg/s, cold, session 8) had httpx and httpcore at about half of that thread's CPU.

What. :class:`LeanHttp` answers the same ``post``/``get``/``request`` calls the callers make
(``adapters/rasa_client.py``, ``adapters/line/client.py``) for plain ``http://`` URLs with
a JSON body or none: the request bytes are the ones httpx writes (same request line, same
headers in the same order, same JSON encoding: ``tests/adapters/test_http_lean.py``
compares them on the wire), one ``write()`` per request on an asyncio protocol, the response
parsed by httptools (llhttp, what uvicorn parses requests with). The pool keeps httpx's
limits (``HTTP_LIMITS``: connections, keep-alive connections, keep-alive expiry) and each
call's timeout is httpx's: to connect, to wait for a pooled connection, and between two
reads of the response (the request is a few kB, written at once: httpx's write timeout
cannot fire before the read timeout would). Failures raise httpx's exception types, which
the callers catch (``ConnectError`` for a refused connection — Rasa's "not delivered, try
the next process" —, ``ConnectTimeout``, ``ReadTimeout``, ``PoolTimeout``,
``RemoteProtocolError`` for a connection closed under a request, ``HTTPStatusError`` from
``raise_for_status``). Anything else — ``https``, another method, a raw ``content`` body
(unless ``raw_bodies``) or none for a POST, a header httpx would merge with its own — goes
to the httpx client it wraps, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
from collections import deque
from typing import Any

import httptools
import httpx

log = logging.getLogger(__name__)

# httpx's client headers (0.28), in the order it sends them after Host.
_CLIENT_HEAD = (b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
                b"User-Agent: python-httpx/" + httpx.__version__.encode("ascii") + b"\r\n")
# Caller headers httpx would merge with its own or with the body's: those calls go to httpx.
_MERGED = frozenset({"host", "accept", "accept-encoding", "connection", "user-agent",
                     "content-length", "content-type", "transfer-encoding", "cookie"})
# With a raw ``content`` body httpx sets no Content-Type: the caller's goes as it is.
_MERGED_RAW = _MERGED - {"content-type"}
_DEFAULT_TIMEOUT = 5.0  # httpx's default, which the gateway's client keeps
_USE_DEFAULT: Any = object()
_URL_CACHE_MAX = 256


class _Target:
    """A URL parsed once: where to connect and the request line's and Host's bytes."""

    __slots__ = ("url", "key", "host", "port", "head")

    def __init__(self, url: httpx.URL) -> None:
        self.url = url
        self.host = url.host
        self.port = url.port or 80
        self.key = (self.host, self.port)
        # httpx sends the URL's raw path and query, and Host as the URL's netloc.
        self.head = b" " + url.raw_path + b" HTTP/1.1\r\nHost: " + url.netloc + b"\r\n" + _CLIENT_HEAD


class LeanResponse:
    """What the callers read of a response: status, headers, content, ``text``, ``json()``,
    ``raise_for_status()`` (httpx's own, on an ``httpx.Response`` built only when needed)."""

    __slots__ = ("status_code", "_raw_headers", "_content", "_body", "_method", "_url", "_full")

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes,
                 method: str, url: httpx.URL) -> None:
        self.status_code = status
        self._raw_headers = raw_headers
        self._content = body
        self._body = b""  # the encoded body as received, kept only when httpx must decode it
        self._method = method
        self._url = url
        self._full: httpx.Response | None = None
        for name, _ in raw_headers:
            if name.lower() == b"content-encoding":
                self._content = None  # httpx decodes it (gzip, deflate…): see ``content``
                break

    def httpx_response(self) -> httpx.Response:
        """The same response as httpx would have returned it (read, closed)."""
        if self._full is None:
            body = self._content if self._content is not None else self._body
            full = httpx.Response(self.status_code, headers=self._raw_headers,
                                  stream=httpx.ByteStream(body),
                                  request=httpx.Request(self._method, self._url))
            full.read()
            self._full = full
        return self._full

    @property
    def content(self) -> bytes:
        if self._content is None:
            return self.httpx_response().content
        return self._content

    @property
    def headers(self) -> httpx.Headers:
        return self.httpx_response().headers

    @property
    def text(self) -> str:
        return self.httpx_response().text

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self.content, **kwargs)  # as httpx 0.28's Response.json

    def raise_for_status(self) -> LeanResponse:
        if not self.is_success:
            self.httpx_response().raise_for_status()
        return self


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, its response parsed by
    httptools as it arrives."""

    def __init__(self, pool: LeanHttp, key: tuple[str, int],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.key = key
        self.loop = loop  # the event loop it was opened on, the only one it serves
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self.parser: Any = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.received = False
        self.complete = False
        self.keep_alive = False
        self.timeout: float | None = None
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.idle_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            # Bytes while no request is waiting (a server's late or unsolicited answer):
            # this connection can no longer be trusted with a request.
            self.close()
            return
        self.received = True
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self.received and self.status and not self._framed():
                # A body delimited by the end of the connection (no length, not chunked).
                self.complete, self.keep_alive = True, False
                waiter.set_result(None)
            elif self.received:
                waiter.set_exception(httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"))
            else:
                waiter.set_exception(httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer: the real one follows
            self.status, self.headers, self.body = 0, [], []
            return
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _framed(self) -> bool:
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length" or (lname == b"transfer-encoding"
                                              and b"chunked" in value.lower()):
                return True
        return False

    # requests
    async def exchange(self, request: bytes, timeout: float | None) -> None:
        """Send ``request`` and wait until its whole response is parsed."""
        loop = self.loop
        self.parser = httptools.HttpResponseParser(self)
        self.status, self.headers, self.body = 0, [], []
        self.received = self.complete = False
        self.waiter = waiter = loop.create_future()
        self.timeout = timeout
        self.last_read = loop.time()
        if timeout is not None:
            self.timer = loop.call_at(self.last_read + timeout, self._check_timeout)
        try:
            self.transport.write(request)  # type: ignore[union-attr]
            await waiter
        finally:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.waiter = None

    def _check_timeout(self) -> None:
        # httpx's read timeout is per read: the time since the last bytes arrived.
        self.timer = None
        if self.waiter is None or self.waiter.done() or self.timeout is None:
            return
        due = self.last_read + self.timeout
        if self.loop.time() < due:
            self.timer = self.loop.call_at(due, self._check_timeout)
            return
        self._fail(httpx.ReadTimeout("timed out"))

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if not self.closed:
            self.closed = True
            self.pool._forget(self)
            if self.transport is not None:
                self.transport.close()


class LeanHttp:
    """``post``/``get``/``request`` as on ``httpx.AsyncClient``, for the gateway's calls.

    Args:
        fallback: the httpx client that takes every call this one does not (and stays the
            client for everything else in the gateway).
        limits: the pool's limits (``max_connections``, ``max_keepalive_connections``,
            ``keepalive_expiry``), as httpx reads them.
        raw_bodies: also send POSTs of a ``content`` body with the caller's headers
            (``Content-Type`` among them) itself, as httpx writes them; the load harness's
            signed LINE webhooks (``bench/load/client.py``). The gateway sends none.
    """

    def __init__(self, fallback: httpx.AsyncClient, limits: httpx.Limits,
                 raw_bodies: bool = False) -> None:
        self.fallback = fallback
        self.raw_bodies = raw_bodies
        self.max_connections = limits.max_connections
        self.max_keepalive = limits.max_keepalive_connections
        self.keepalive_expiry = limits.keepalive_expiry
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()  # connected or connecting, idle or not
        self._idle_count = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._targets: dict[int, tuple[Any, _Target]] = {}
        self.connects = 0  # connections opened (tests, diagnostics)
        self.sent = 0  # requests this client sent itself
        self.passed_on = 0  # calls handed to ``fallback``

    # the callers' API
    async def post(self, url: str | httpx.URL, *, json: Any = None, content: bytes | None = None,
                   headers: dict[str, str] | None = None,
                   timeout: float | None = _USE_DEFAULT) -> LeanResponse | httpx.Response:
        return await self.request("POST", url, json=json, content=content, headers=headers,
                                  timeout=timeout)

    async def get(self, url: str | httpx.URL, *, headers: dict[str, str] | None = None,
                  timeout: float | None = _USE_DEFAULT) -> LeanResponse | httpx.Response:
        return await self.request("GET", url, headers=headers, timeout=timeout)

    async def request(self, method: str, url: str | httpx.URL, *, json: Any = None,
                      content: bytes | None = None, headers: dict[str, str] | None = None,
                      timeout: float | None = _USE_DEFAULT) -> LeanResponse | httpx.Response:
        # A POST with a JSON body or a GET (a POST without a body has its Content-Length
        # where httpx's own headers go: httpx sends it).
        if content is None:
            plain = method == "GET" or method == "POST" and json is not None
        else:
            plain = (self.raw_bodies and method == "POST" and json is None
                     and type(content) is bytes)
        target = self._target(url) if plain else None
        extra = (_extra_headers(headers, _MERGED if content is None else _MERGED_RAW)
                 if target is not None else None)
        if target is None or extra is None:
            self.passed_on += 1
            kwargs: dict[str, Any] = {"json": json, "content": content, "headers": headers}
            if timeout is not _USE_DEFAULT:
                kwargs["timeout"] = timeout
            return await self.fallback.request(method, url, **kwargs)
        if timeout is _USE_DEFAULT:
            timeout = _DEFAULT_TIMEOUT
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"),
                                 allow_nan=False).encode("utf-8")
            request = b"".join((method.encode("ascii"), target.head, extra,
                                b"Content-Length: ", str(len(body)).encode("ascii"),
                                b"\r\nContent-Type: application/json\r\n\r\n", body))
        elif content is not None:
            request = b"".join((b"POST", target.head, extra, b"Content-Length: ",
                                str(len(content)).encode("ascii"), b"\r\n\r\n", content))
        else:
            request = b"".join((method.encode("ascii"), target.head, extra, b"\r\n"))
        connection = await self._acquire(target, timeout)
        self.sent += 1
        try:
            await connection.exchange(request, timeout)
        except BaseException:
            connection.close()  # cancelled or failed mid-request: not reused
            raise
        body = b"".join(connection.body)
        response = LeanResponse(connection.status, connection.headers, body, method, target.url)
        if response._content is None:
            response._body = body
        self._release(connection)
        return response

    async def aclose(self) -> None:
        """Close every connection (the httpx client is closed by its owner)."""
        loop = asyncio.get_running_loop()
        for connection in list(self._open):
            if connection.loop is loop:
                connection.close()
            else:
                self._forget(connection)
                with contextlib.suppress(RuntimeError):  # its loop is closed
                    connection.loop.call_soon_threadsafe(connection.close)
        for waiter in self._waiting:
            if not waiter.done():
                waiter.cancel()

    # URLs
    def _target(self, url: str | httpx.URL) -> _Target | None:
        cached = self._targets.get(id(url))
        if cached is not None and cached[0] is url:
            return cached[1]
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        if parsed.scheme != "http" or not parsed.host or parsed.userinfo or parsed.fragment:
            return None
        target = _Target(parsed)
        if len(self._targets) >= _URL_CACHE_MAX:
            self._targets.clear()
        self._targets[id(url)] = (url, target)  # holds ``url``: its id is not reused
        return target

    # the pool
    async def _acquire(self, target: _Target, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(target.key)
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.loop is not loop:
                # Opened on another event loop (a test client's, since gone): not usable here.
                self._forget(connection)
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    connection.loop.call_soon_threadsafe(connection.close)
                continue
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
                connection.idle_timer = None
            if not connection.closed and not connection.transport.is_closing():  # type: ignore[union-attr]
                return connection
            connection.close()
        if len(self._open) >= self.max_connections:
            self._drop_other_idle(target.key)
        while len(self._open) >= self.max_connections:
            waiter = loop.create_future()
            self._waiting.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError as exc:
                raise httpx.PoolTimeout("timed out waiting for a connection") from exc
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
            idle = self._idle.get(target.key)
            if idle:
                return await self._acquire(target, timeout)
            self._drop_other_idle(target.key)
        return await self._connect(target, timeout)

    async def _connect(self, target: _Target, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self, target.key, loop)
        self._open.add(connection)
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: connection, target.host, target.port),
                timeout)
        except TimeoutError as exc:
            self._forget(connection)
            raise httpx.ConnectTimeout("timed out") from exc
        except OSError as exc:
            self._forget(connection)
            raise httpx.ConnectError(str(exc)) from exc
        except BaseException:
            self._forget(connection)
            raise
        self.connects += 1
        return connection

    def _release(self, connection: _Connection) -> None:
        if (not connection.keep_alive or connection.closed
                or self._idle_count >= self.max_keepalive):
            connection.close()
        else:
            self._idle.setdefault(connection.key, []).append(connection)
            self._idle_count += 1
            if self.keepalive_expiry is not None:
                connection.idle_timer = connection.loop.call_later(self.keepalive_expiry,
                                                             connection.close)
        self._wake()

    def _forget(self, connection: _Connection) -> None:
        """``connection`` is closed: out of the pool, and a waiting request may connect."""
        if connection in self._open:
            self._open.discard(connection)
            idle = self._idle.get(connection.key)
            if idle and connection in idle:
                idle.remove(connection)
                self._idle_count -= 1
            self._wake()

    def _drop_other_idle(self, key: tuple[str, int]) -> None:
        # As httpcore: at the limit, an idle connection to another server makes room.
        for other, idle in self._idle.items():
            if other != key and idle:
                idle[0].close()
                return

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _extra_headers(headers: dict[str, str] | None, merged: frozenset[str]) -> bytes | None:
    """The caller's headers as httpx writes them after its own, or None when httpx would
    merge one with its own or refuse one (those calls go to httpx)."""
    if not headers:
        return b""
    parts = []
    for name, value in headers.items():
        if (type(name) is not str or type(value) is not str or name.lower() in merged
                or not value.isprintable() or not _token(name)):
            return None
        parts.append(f"{name}: {value}\r\n")
    try:
        return "".join(parts).encode("ascii")
    except UnicodeEncodeError:
        return None


def _token(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name)

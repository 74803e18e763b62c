"""The gateway's one HTTP client, with a cheaper "is this idle connection still open?" check.

Why. httpcore's connection pool (1.0.x) walks *every* pooled connection each time it hands
out or takes back a connection, and asks each idle one whether the server has closed it
(``get_extra_info("is_readable")``: a ``poll()`` on the socket). Through anyio that question
first rebuilds the stream's whole attribute table — a ``getpeername()`` and a
``getsockname()`` system call, enum conversions, a dict of lambdas — only to pick the raw
socket out of it. With the 128 keep-alive connections the gateway holds (Rasa, the action
server's call-backs, the LINE API), a py-spy profile under ``bench.load`` (session 3) found
the pool's bookkeeping at 19 % of the gateway's busy CPU, ``has_expired`` alone 12 %.

What. The network backend below wraps httpcore's own ``AnyIOBackend``; its streams answer
``is_readable`` with the same ``poll()`` (httpcore's own ``is_socket_readable``) on the raw
socket, looked up once per connection instead of once per check. Everything else — connect,
TLS, read, write, close, timeouts, errors — is httpcore's, unchanged: a connection the server
closed is still noticed and not reused (``tests/adapters/test_http_pool.py``).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx
from httpcore._async.connection import AsyncHTTPConnection
from httpcore._async.http11 import AsyncHTTP11Connection, HTTPConnectionState
from httpcore._async.interfaces import AsyncConnectionInterface
from httpcore._utils import is_socket_readable  # the check httpcore itself runs

# _LeanPool re-states httpcore 1.0's pass; another httpcore keeps its own.
_LEAN_POOL_OK = httpcore.__version__.startswith("1.0.")

log = logging.getLogger(__name__)


_IDLE, _CLOSED = HTTPConnectionState.IDLE, HTTPConnectionState.CLOSED

# Writes up to this size may wait for the next one (see ``_Stream.write``).
_HOLD_BYTES = 16384


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's anyio stream, with the raw socket kept for the readability check, and
    a request's head sent together with its body.

    httpcore writes a request's head and its body with two ``write()`` calls; through anyio
    each is a cancel scope with a timer, a ``send()`` system call and a trip through the
    event loop (``_Stream.write`` ~7 % of the gateway's busy CPU under ``bench.load``, ~3
    POSTs a LINE message). Here a small write is held until the next write (sent as one)
    or the next read, which always follows a request (flushed first, with the held write's
    timeout). A write error at that flush is dropped as httpcore drops one while sending
    a request, and the read that follows reports the broken connection, as it would have.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream,
                 backend: ReadableCheckBackend | None = None) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")
        self._backend = backend
        self._held: bytes | None = None
        self._held_timeout: float | None = None
        self._transport: Any = None  # the event loop's transport, when the backend watches
        self._watched_fd = -1  # and the descriptor it watches it under
        if backend is not None:
            backend.watch(self)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held is not None:
            try:
                await self.flush()
            except httpcore.WriteError:
                pass  # as httpcore's HTTP/1.1 connection does: the read says what happened
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._held is None:
            if len(buffer) <= _HOLD_BYTES and (self._backend is None or self._backend.hold_writes):
                self._held, self._held_timeout = buffer, timeout
                return
            await self._inner.write(buffer, timeout)
            return
        held, self._held = self._held, None
        if len(held) + len(buffer) <= 4 * _HOLD_BYTES:
            await self._inner.write(held + buffer, timeout)
        else:
            await self._inner.write(held, self._held_timeout)
            await self._inner.write(buffer, timeout)

    async def flush(self) -> None:
        """Send a held write now."""
        held, self._held = self._held, None
        if held:
            await self._inner.write(held, self._held_timeout)

    async def aclose(self) -> None:
        self._held = None  # a request not finished when its connection closes is not sent
        if self._backend is not None:
            self._backend.unwatch(self)
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # TLS runs over the same socket, so the new stream finds the same raw socket.
        await self.flush()
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout),
                       self._backend)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            pooled = self._backend.readable(self) if self._backend is not None else None
            return is_socket_readable(self._sock) if pooled is None else pooled
        return self._inner.get_extra_info(info)


class ReadableCheckBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AnyIOBackend`` whose streams check readability without anyio's lookups."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None,
                 hold_writes: bool = True, epoll: bool = False) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self.hold_writes = hold_writes  # a request's head sent with its body (``_Stream``)
        self._asked: list[_Stream] | None = None  # inside ``one_poll``
        self._polled: set[int] = set()
        self._ready: set[int] | None = None
        self.polls = 0
        # With ``epoll``: every stream's socket stays registered in one epoll set from connect
        # to close, so a pass's question costs one ``epoll_wait`` over the ready ones only
        # instead of a ``poll()`` over every idle socket built anew (``watch``).
        self._epoll = select.epoll() if epoll and hasattr(select, "epoll") else None
        self._watched: weakref.WeakValueDictionary[int, _Stream] = weakref.WeakValueDictionary()

    @property
    def epoll(self) -> bool:
        return self._epoll is not None

    def watch(self, stream: _Stream) -> None:
        """Register ``stream``'s socket in the epoll set (with ``epoll``; a stream that cannot
        be registered is checked on its own, as without it)."""
        if self._epoll is None or stream._sock is None:
            return
        # httpcore's AnyIOStream → anyio's SocketStream → the event loop's transport.
        transport = getattr(getattr(stream._inner, "_stream", None), "_transport", None)
        fd = stream._sock.fileno()
        if transport is None or fd < 0:
            return
        try:
            try:
                self._epoll.register(fd, select.EPOLLIN)
            except FileExistsError:  # a descriptor number reused while still registered
                self._epoll.modify(fd, select.EPOLLIN)
        except OSError:
            return
        stream._transport, stream._watched_fd = transport, fd
        self._watched[fd] = stream

    def unwatch(self, stream: _Stream) -> None:
        """Take ``stream``'s socket out of the epoll set (before it is closed)."""
        # The number it was registered under (a socket closed under us answers -1 now).
        fd = stream._watched_fd
        if self._epoll is not None and fd >= 0 and self._watched.get(fd) is stream:
            del self._watched[fd]
            with contextlib.suppress(OSError):  # already closed: the kernel dropped it
                self._epoll.unregister(fd)

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()

    @contextlib.contextmanager
    def one_poll(self, streams: Iterable[_Stream]) -> Iterator[None]:
        """Within this block (a synchronous pass of the pool, no ``await``), the first
        readability question polls all of ``streams`` (the idle connections' ones) at once
        and the others are answered from that one ``poll()``: the same answers as one
        ``poll()`` per socket a few microseconds apart (no I/O runs in between, and data
        that arrives meanwhile is data that arrived just after a check), one system call
        instead of one per idle connection. A stream not in ``streams`` is checked alone."""
        self._asked, self._ready = list(streams), None
        try:
            yield
        finally:
            self._asked, self._ready = None, None

    def readable(self, stream: _Stream) -> bool | None:
        """Inside ``one_poll``, whether ``stream``'s socket is readable (or closed, or in
        error) by the pass's one poll; None when it was not polled (outside the block, a
        stream not given, a closed socket).

        With ``epoll``, every watched stream is answered from one ``epoll_wait(0)`` of the
        pass (level-triggered ``EPOLLIN``: readable, at EOF, hung up or in error — what
        ``poll()`` says), whichever streams were given. A stream whose transport is closing
        is readable (its descriptor may already be closed, which the kernel takes out of the
        epoll set; ``poll()`` then answered ``POLLNVAL``, also readable). A stream not
        registered under its descriptor gets None (its own check)."""
        if self._asked is None:
            return None
        if self._epoll is not None:
            if self._ready is None:
                self._ready = {fd for fd, _ in self._epoll.poll(0)}
                self.polls += 1
            fd = stream._sock.fileno() if stream._sock is not None else -1
            if fd < 0 or self._watched.get(fd) is not stream:
                return None
            return stream._transport.is_closing() or fd in self._ready
        if self._ready is None:
            poller = select.poll()
            self._polled = set()
            for s in self._asked:
                fd = s._sock.fileno() if s._sock is not None else -1
                if fd >= 0:
                    poller.register(fd, select.POLLIN)
                    self._polled.add(fd)
            self._ready = {fd for fd, _ in poller.poll(0)}
            self.polls += 1
        fd = stream._sock.fileno() if stream._sock is not None else -1
        if fd < 0 or fd not in self._polled:
            return None
        return fd in self._ready

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options),
            self,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options), self)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _LeanPool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's pool with its bookkeeping pass made linear, same decisions.

    httpcore runs ``_assign_requests_to_connections`` twice per request (when it is added
    and when its response is closed). That pass asks every idle connection whether the
    server closed it (a ``poll()`` each: ``is_socket_readable`` was ~7 % of the gateway's
    CPU under ``bench.load``), and for every idle connection it also lists every connection
    once more only to take the list's length (``len([c.is_idle() for c in connections])``,
    the number of connections, not of idle ones): O(n²) calls. Here the readability
    answers of a pass come from one ``poll()`` over the idle connections' sockets
    (``ReadableCheckBackend.one_poll``), the length is ``len(self._connections)``, and the
    connection for a queued request is the first that fits instead of a list of all that
    fit. The order of the checks, which connection is reused, closed or created: httpcore's
    (``tests/adapters/test_http_pool.py``).
    """

    # Set by ``http_client`` (``gateway.reserve_pool_connections``): no connection given
    # twice, and the closed/expired pass below read straight off HTTP/1.1 connections.
    reserve_assigned = False

    def _drop_closed_and_expired(self, closing: list[AsyncConnectionInterface]) -> None:
        """httpcore's first loop of the pass (drop closed connections; close expired ones and
        idle ones over the keep-alive limit), with ``is_closed``/``has_expired``/``is_idle``
        of an HTTP/1.1 connection read from its state directly: the same tests in the same
        order as ``AsyncHTTPConnection`` → ``AsyncHTTP11Connection`` run them, without three
        two-level calls per pooled connection per pass (~20 connections under bench.load).
        Any other kind of connection is asked as httpcore asks it."""
        connections = self._connections
        now = time.monotonic()
        for connection in list(connections):
            inner = getattr(connection, "_connection", None)
            if type(connection) is AsyncHTTPConnection and type(inner) is AsyncHTTP11Connection:
                state = inner._state
                if state is _CLOSED:
                    connections.remove(connection)
                    continue
                idle = state is _IDLE
                expire_at = inner._expire_at
                if ((expire_at is not None and now > expire_at)
                        or (idle and inner._network_stream.get_extra_info("is_readable"))):
                    connections.remove(connection)
                    closing.append(connection)
                elif idle and len(connections) > self._max_keepalive_connections:
                    connections.remove(connection)
                    closing.append(connection)
            elif connection.is_closed():
                connections.remove(connection)
            elif connection.has_expired():
                connections.remove(connection)
                closing.append(connection)
            elif connection.is_idle() and len(connections) > self._max_keepalive_connections:
                connections.remove(connection)
                closing.append(connection)

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        closing: list[AsyncConnectionInterface] = []
        backend = self._network_backend
        if isinstance(backend, ReadableCheckBackend):
            # With epoll every watched stream is answered; no list of the idle ones needed.
            polled = backend.one_poll(() if backend.epoll else _idle_streams(self._connections))
        else:
            polled = contextlib.nullcontext()
        with polled:
            if self.reserve_assigned:
                self._drop_closed_and_expired(closing)
            else:
                for connection in list(self._connections):
                    if connection.is_closed():
                        self._connections.remove(connection)
                    elif connection.has_expired():
                        self._connections.remove(connection)
                        closing.append(connection)
                    elif (connection.is_idle()
                          and len(self._connections) > self._max_keepalive_connections):
                        self._connections.remove(connection)
                        closing.append(connection)
        queued = [r for r in self._requests if r.is_queued()]
        if not queued:
            return closing
        # HTTP/1.1: a connection already given to a request (which may not have started on
        # it yet: it is still idle until its task runs) is not given to a second one.
        # httpcore gives it again, and the second request then fails on it with
        # ConnectionNotAvailable, goes back to the queue and costs a whole pass more; under
        # bench.load that was ~1.2 extra passes a request. The second request gets what that
        # next pass would give it: the next available connection, or a new one.
        reserve = self.reserve_assigned and not self._http2
        taken = ({id(r.connection) for r in self._requests if r.connection is not None}
                 if reserve else set())
        for pool_request in queued:
            origin = pool_request.request.url.origin
            connection = next((c for c in self._connections
                               if c.can_handle_request(origin) and c.is_available()
                               and id(c) not in taken), None)
            if connection is None:
                if len(self._connections) < self._max_connections:
                    connection = self.create_connection(origin)
                    self._connections.append(connection)
                else:
                    idle = next((c for c in self._connections
                                 if c.is_idle() and id(c) not in taken), None)
                    if idle is None:
                        continue  # waits for a connection to come free
                    self._connections.remove(idle)
                    closing.append(idle)
                    connection = self.create_connection(origin)
                    self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            if reserve:
                taken.add(id(connection))
        return closing


def _idle_streams(connections: Iterable[AsyncConnectionInterface]) -> list[_Stream]:
    """The streams of the idle HTTP/1.1 connections: the ones whose readability the pass
    asks (``AsyncHTTP11Connection.has_expired``); others are not polled ahead."""
    streams = []
    for connection in connections:
        if connection.is_idle():
            stream = getattr(getattr(connection, "_connection", None), "_network_stream", None)
            if isinstance(stream, _Stream):
                streams.append(stream)
    return streams


class _AcyclicClient(httpx.AsyncClient):
    """httpx's client, whose read and closed responses leave no reference cycle behind.

    httpx wraps every response's stream in a ``BoundAsyncStream`` that points back at the
    response, a cycle that keeps the response, its request, URL, headers and httpcore's
    stream chain (~40 objects a request) alive until the garbage collector's next pass finds
    them: under ``bench.load`` that was nearly all of the gateway's cyclic garbage (141,660
    objects in 1,500 messages, every one of them httpx's or httpcore's), and freeing it the
    collector's main cost. Once ``send`` has read and closed a response (``stream=False``,
    every call the gateway makes) that wrapper has done its work — a consumed stream is never
    iterated again, a closed one never closed again — so it is replaced by the bytes it
    delivered, and the response is freed by reference counting when its caller drops it.
    Streamed responses (``stream=True``) keep httpx's wrapper."""

    async def send(self, request: httpx.Request, *, stream: bool = False,
                   **kwargs: Any) -> httpx.Response:
        response = await super().send(request, stream=stream, **kwargs)
        if not stream and response.is_closed and response.is_stream_consumed:
            response.stream = httpx.ByteStream(response.content)
        return response


def http_client(limits: httpx.Limits, lean: bool = True, epoll: bool = False,
                reserve: bool = False, acyclic: bool = False) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` as httpx builds it, its default pool on ``ReadableCheckBackend``
    and, with ``lean``, the pool's pass made linear (``_LeanPool``) and a request's head
    held for its body (``_Stream``); with ``epoll`` (and ``lean``), the pass's readability
    answers from one epoll set the pooled sockets stay in (``ReadableCheckBackend.watch``);
    with ``reserve`` (and ``lean``), an HTTP/1.1 connection given to a request is not given
    to a second one before the first is done with it (``_LeanPool``); with ``acyclic``, read
    responses freed without the garbage collector (``_AcyclicClient``).

    Only the default transport's pool is changed (proxies from the environment keep httpx's
    own); if httpx no longer has the pool where 0.28 keeps it, the client is left as it is
    and a warning says so (``tests/adapters/test_http_pool.py`` fails first).
    """
    client = (_AcyclicClient if acyclic else httpx.AsyncClient)(limits=limits)
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = ReadableCheckBackend(hold_writes=lean, epoll=lean and epoll)
        if lean and type(pool) is httpcore.AsyncConnectionPool and _LEAN_POOL_OK:
            pool.__class__ = _LeanPool  # same object and state, the linear pass
            pool.reserve_assigned = reserve  # a given connection not given twice
        if reserve:
            client._cookies.__class__ = _LeanCookies
    else:
        log.warning("httpx's connection pool is not where expected: default network backend kept")
    return client


class _LeanCookies(httpx.Cookies):
    """The client's cookie jar, not asked about a response that sets no cookie.

    httpx hands every response to the standard library's ``CookieJar.extract_cookies``
    through two compatibility wrappers (~7 % of a request's CPU in a profile), which then
    finds no ``Set-Cookie``/``Set-Cookie2`` header and stores nothing. A response that has
    one goes to the jar as before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)

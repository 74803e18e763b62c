"""The gateway's HTTP client (adapters/http_pool.py) reuses live connections and never reuses
one the server closed, like httpx's own; a real loopback server counts the connections."""

from __future__ import annotations

import asyncio

from adapters.gateway import HTTP_LIMITS
import httpcore
import httpx
import pytest
import uvloop

from adapters.http_pool import ReadableCheckBackend, _LeanPool, http_client
from httpcore._utils import is_socket_readable


class _Server:
    """HTTP/1.1 on loopback; answers each request with keep-alive, and closes a connection
    ``close_after`` seconds after answering when that is set."""

    def __init__(self, close_after: float | None, delay: float = 0.0) -> None:
        self.close_after = close_after
        self.delay = delay
        self.connections = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                if self.delay:
                    await asyncio.sleep(self.delay)
                body = f"connection {number}".encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                )
                await writer.drain()
                if self.close_after is not None:
                    await asyncio.sleep(self.close_after)
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def test_the_gateway_client_uses_the_cheaper_backend() -> None:
    client = http_client(HTTP_LIMITS)
    assert isinstance(client._transport._pool._network_backend, ReadableCheckBackend)  # type: ignore[attr-defined]
    assert type(client._transport._pool) is _LeanPool  # type: ignore[attr-defined]
    assert type(http_client(HTTP_LIMITS, lean=False)._transport._pool) is httpcore.AsyncConnectionPool  # type: ignore[attr-defined]
    assert client._transport._pool._max_keepalive_connections == 128  # type: ignore[attr-defined]


def test_a_live_idle_connection_is_reused() -> None:
    asyncio.run(_live_idle())


async def _live_idle() -> None:
    async with _Server(close_after=None) as url:
        async with http_client(HTTP_LIMITS) as http:
            first = await http.get(url)
            await asyncio.sleep(0.1)
            second = await http.get(url)
    assert first.text == second.text == "connection 1"


def test_a_connection_the_server_closed_is_not_reused() -> None:
    asyncio.run(_closed())


async def _closed() -> None:
    server = _Server(close_after=0.05)
    async with server as url:
        async with http_client(HTTP_LIMITS) as http:
            first = await http.get(url)
            await asyncio.sleep(0.3)  # the server has closed its end by now
            second = await http.get(url)
            # the stream's readability check sees the close, as httpcore's own does
            assert first.text == "connection 1"
            assert second.text == "connection 2"
    assert server.connections == 2


def test_readability_is_what_the_socket_says() -> None:
    asyncio.run(_readability())


async def _readability() -> None:
    async with _Server(close_after=0.05) as url:
        host, port = url[len("http://"):].rstrip("/").split(":")
        stream = await ReadableCheckBackend().connect_tcp(host, int(port))
        assert stream.get_extra_info("is_readable") is False  # open, nothing to read
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await stream.flush()  # held for the body or the read that follow a head otherwise
        await asyncio.sleep(0.2)
        assert stream.get_extra_info("is_readable") is True  # an answer and then EOF
        assert stream.get_extra_info("socket") is not None
        await stream.aclose()


async def _scenario(lean: bool, epoll: bool = False, reserve: bool = False) -> list[object]:
    """Connections reused, queued, dropped over the keep-alive limit and after the server
    closed them, over two servers: what each response says and how many each server saw."""
    limits = httpx.Limits(max_connections=3, max_keepalive_connections=2, keepalive_expiry=4.0)
    slow, closing = _Server(close_after=None, delay=0.05), _Server(close_after=0.05)
    seen: list[object] = []
    async with slow as a, closing as b, http_client(limits, lean=lean, epoll=epoll, reserve=reserve) as http:
        pool = http._transport._pool  # type: ignore[attr-defined]
        # 5 at once on 3 connections: two wait in the queue for a connection to come free.
        seen.append(sorted(r.text for r in await asyncio.gather(*(http.get(a) for _ in range(5)))))
        seen.append(len(pool.connections))  # 3 open; closed to 2 idle at the next pass
        seen.append((await http.get(a)).text)
        seen.append(len(pool.connections))
        seen.append((await http.get(b)).text)  # pool full: the first idle one is closed
        await asyncio.sleep(0.3)  # server b has closed its end
        seen.append((await http.get(b)).text)  # not reused: a new one
        seen.append([(await http.get(a)).text for _ in range(3)])
        seen.append(len(pool.connections))
        if lean:  # the idle connections' readability came from the pass's one poll()
            assert pool._network_backend.polls > 0
            assert pool._network_backend.epoll is epoll
    seen.append((slow.connections, closing.connections))
    return seen


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_the_lean_pool_decides_as_httpcore_does(run) -> None:  # type: ignore[no-untyped-def]
    lean, own = run(_scenario(True)), run(_scenario(False))
    assert lean == own
    # Connections dropped over the keep-alive limit and after the server closed them (the
    # 5 concurrent requests on 3 connections needed 5 in all), as httpcore decides.
    assert lean[-1] == (5, 2) and lean[1] == 2


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_the_epoll_pool_decides_as_httpcore_does(run) -> None:  # type: ignore[no-untyped-def]
    assert run(_scenario(True, epoll=True)) == run(_scenario(False))


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_the_reserving_pool_decides_as_httpcore_does(run) -> None:  # type: ignore[no-untyped-def]
    assert run(_scenario(True, epoll=True, reserve=True)) == run(_scenario(False))


@pytest.mark.parametrize("reserve", [True, False])
def test_a_connection_is_not_given_to_two_requests(reserve: bool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Sixteen requests at once on a pool of idle connections: each is given a connection of
    its own in its first pass (2 passes a request: added, response closed). httpcore gives
    the first idle connection to all of them; all but one then fail on it and go round
    again (the test fails for reserve=False: it measures the change)."""
    passes = []
    assign = _LeanPool._assign_requests_to_connections

    def counted(self):  # type: ignore[no-untyped-def]
        passes.append(1)
        return assign(self)

    monkeypatch.setattr(_LeanPool, "_assign_requests_to_connections", counted)

    async def go() -> tuple[list[str], int]:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        try:
            async with http_client(HTTP_LIMITS, epoll=True, reserve=reserve) as http:
                await asyncio.gather(*(http.post(url, content=b"w") for _ in range(16)))
                opened = len(http._transport._pool.connections)  # type: ignore[attr-defined]
                passes.clear()
                texts = [r.text for r in await asyncio.gather(
                    *(http.post(url, content=b"%d" % i) for i in range(16)))]
                assert len(http._transport._pool.connections) == opened  # type: ignore[attr-defined]
        finally:
            server.close()
        return texts, len(passes)

    texts, count = uvloop.run(go())
    assert texts == [f"POST {len(str(i))} {i}" for i in range(16)]
    if reserve:
        assert count == 32
    else:
        assert count > 32


def test_cookies_are_still_kept() -> None:
    async def set_cookie(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                cookie = b"Set-Cookie: s=1; Path=/\r\n" if b"GET /set" in head else b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + cookie + b"\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def go() -> list[dict[str, str]]:
        server = await asyncio.start_server(set_cookie, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        seen = []
        try:
            async with http_client(HTTP_LIMITS, epoll=True, reserve=True) as http:
                await http.get(f"{url}/plain")
                seen.append(dict(http.cookies))
                await http.get(f"{url}/set")
                seen.append(dict(http.cookies))
        finally:
            server.close()
        return seen

    assert uvloop.run(go()) == [{}, {"s": "1"}]


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_epoll_answers_as_one_poll_per_socket(run) -> None:  # type: ignore[no-untyped-def]
    run(_epoll_answers())


async def _epoll_answers() -> None:
    backend = ReadableCheckBackend(epoll=True)
    assert backend.epoll
    async with _Server(close_after=0.05) as url:
        host, port = url[len("http://"):].rstrip("/").split(":")
        streams = [await backend.connect_tcp(host, int(port)) for _ in range(4)]
        assert len(backend._watched) == 4
        await streams[0].write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then EOF
        await streams[0].flush()
        await asyncio.sleep(0.2)
        await streams[2].aclose()  # closed by us: out of the set, its own check
        assert len(backend._watched) == 3
        streams[3]._transport.abort()  # closed under the pool (a reset): readable
        await asyncio.sleep(0.05)
        own = [is_socket_readable(s._sock) for s in streams]  # type: ignore[attr-defined]
        assert own[:2] == [True, False] and own[3] is True
        polls = backend.polls
        with backend.one_poll(()):
            pooled = [s.get_extra_info("is_readable") for s in streams]
            assert backend.readable(streams[2]) is None
            assert backend.readable(streams[0]) is True and backend.readable(streams[1]) is False
        assert pooled == own and backend.polls == polls + 1  # one epoll_wait for the pass
        assert [s.get_extra_info("is_readable") for s in streams] == own  # outside: each its own
        for s in (streams[0], streams[1], streams[3]):
            await s.aclose()
        assert len(backend._watched) == 0


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_one_poll_answers_as_one_poll_per_socket(run) -> None:  # type: ignore[no-untyped-def]
    run(_one_poll())


async def _one_poll() -> None:
    backend = ReadableCheckBackend()
    async with _Server(close_after=0.05) as url:
        host, port = url[len("http://"):].rstrip("/").split(":")
        streams = [await backend.connect_tcp(host, int(port)) for _ in range(3)]
        await streams[0].write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then EOF
        await streams[0].flush()
        await asyncio.sleep(0.2)
        await streams[2].aclose()
        own = [is_socket_readable(s._sock) for s in streams]  # type: ignore[attr-defined]
        assert own[:2] == [True, False]
        polls = backend.polls
        with backend.one_poll(streams[:2]):
            pooled = [s.get_extra_info("is_readable") for s in streams]
            assert backend.readable(streams[2]) is None  # not given (and closed): its own check
        assert pooled == own and backend.polls == polls + 1  # one poll() for the two given
        assert [s.get_extra_info("is_readable") for s in streams] == own  # outside: each its own
        assert backend.polls == polls + 1
        for s in streams[:2]:
            await s.aclose()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 keep-alive; answers each request with its method, body length and body."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            lines = head.split("\r\n")
            fields = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
            if "content-length" in fields:
                body = await reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding") == "chunked":
                body = b""
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    body += (await reader.readexactly(size + 2))[:-2]
                await reader.readuntil(b"\r\n")
            else:
                body = b""
            answer = f"{lines[0].split()[0]} {len(body)} ".encode() + body
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
                         + f"Content-Length: {len(answer)}\r\n\r\n".encode() + answer)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_a_request_head_goes_out_with_its_body(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from httpcore._backends.anyio import AnyIOStream

    sent: list[int] = []
    write = AnyIOStream.write

    async def counted(self, buffer, timeout=None):  # type: ignore[no-untyped-def]
        sent.append(len(buffer))
        await write(self, buffer, timeout)

    monkeypatch.setattr(AnyIOStream, "write", counted)

    async def chunks():  # type: ignore[no-untyped-def]
        for part in (b"abc", b"", b"defg"):
            yield part

    async def go() -> list[object]:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        seen: list[object] = []
        try:
            async with http_client(HTTP_LIMITS) as http:
                for request in (http.post(url, json={"a": 1}), http.get(url),
                                http.post(url, content=b"x" * 70000),
                                http.post(url, content=chunks()),
                                http.post(url, content=b"y" * 30000)):
                    sent.clear()
                    response = await request
                    seen.append((response.text[:12], list(sent)))
        finally:
            server.close()
        return seen

    seen = run(go())
    assert [text for text, _ in seen] == ["POST 7 {\"a\":", "GET 0 ", "POST 70000 x",
                                          "POST 7 abcde", "POST 30000 y"]
    writes = [len(n) for _, n in seen]
    assert writes[0] == writes[1] == 1  # head and small body (or head alone): one send
    assert writes[2] == 2  # a big body: the held head, then the body
    assert writes[4] == 1  # head + 30 kB: one send


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_a_server_that_hangs_up_fails_as_with_httpx_alone(run) -> None:  # type: ignore[no-untyped-def]
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def error(lean: bool) -> list[str]:
        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        kinds = []
        client = http_client(HTTP_LIMITS) if lean else httpx.AsyncClient(limits=HTTP_LIMITS)
        try:
            async with client as http:
                for send in (lambda: http.get(url), lambda: http.post(url, json={"a": 1})):
                    try:
                        await send()
                    except httpx.TransportError as exc:
                        kinds.append(type(exc).__name__)
        finally:
            server.close()
        return kinds

    ours, httpx_own = run(error(True)), run(error(False))
    # The GET fails the same way. For the POST, httpx alone may see the reset on its second
    # write (then ReadError) where one write meets the EOF (RemoteProtocolError), a race of
    # the kernel's either way: both are the broken-connection errors the Rasa and LINE
    # clients handle alike (never a ConnectError, which would mean "try another process").
    assert ours[0] == httpx_own[0] and len(ours) == len(httpx_own) == 2
    assert set(ours + httpx_own) <= {"RemoteProtocolError", "ReadError", "WriteError"}


@pytest.mark.parametrize("acyclic", [True, False])
def test_read_responses_are_freed_without_the_collector(acyclic: bool) -> None:
    asyncio.run(_acyclic(acyclic))


async def _acyclic(acyclic: bool) -> None:
    import gc

    async with _Server(None) as url:
        async with http_client(HTTP_LIMITS, True, True, True, acyclic=acyclic) as client:
            await client.get(url)  # the connection opened outside the count
            gc.collect()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for _ in range(20):
                    response = await client.post(url, json={"q": "ごみ"})
                    # Everything a caller reads is as before, after the swap too.
                    assert response.status_code == 200 and response.text == "connection 1"
                    assert response.headers["content-length"] == "12"
                    assert await response.aread() == b"connection 1"
                    await response.aclose()
                    assert response.elapsed.total_seconds() >= 0
                    assert response.request.url == url
                    del response
                gc.collect()
                left = len(gc.garbage)
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
            assert (left == 0) if acyclic else left >= 20
            async with client.stream("GET", url) as streamed:  # streaming keeps httpx's wrapper
                assert b"".join([c async for c in streamed.aiter_bytes()]) == b"connection 1"

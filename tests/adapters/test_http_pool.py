"""The gateway's HTTP client (adapters/http_pool.py) reuses live connections and never reuses
one the server closed, like httpx's own; a real loopback server counts the connections."""

from __future__ import annotations

import asyncio

from adapters.gateway import HTTP_LIMITS
from adapters.http_pool import ReadableCheckBackend, http_client


class _Server:
    """HTTP/1.1 on loopback; answers each request with keep-alive, and closes a connection
    ``close_after`` seconds after answering when that is set."""

    def __init__(self, close_after: float | None) -> None:
        self.close_after = close_after
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
        await asyncio.sleep(0.2)
        assert stream.get_extra_info("is_readable") is True  # an answer and then EOF
        assert stream.get_extra_info("socket") is not None
        await stream.aclose()

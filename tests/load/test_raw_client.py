"""The load harness's raw HTTP client (``bench/load/client.py``) sends what httpx sends, byte
for byte, and reads responses as httpx does: kept-alive connections reused, closed ones
noticed, chunked and gzip bodies, httpx's error types for refused connections, timeouts and
servers that hang up."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from adapters.http_pool import http_client
from bench.load.client import RawClient
from tests.conftest import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]"


def run(coro: Any) -> Any:
    """asyncio.run in a thread of its own (an earlier test may leave the main thread's loop
    marked running)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


class Server:
    """A loopback server that records each request's bytes and connection."""

    def __init__(self, reply: bytes = OK, close_after: bool = False) -> None:
        self.reply, self.close_after = reply, close_after
        self.requests: list[tuple[int, bytes]] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                self.requests.append((number, await read_request(reader)))
                writer.write(self.reply)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_: object) -> None:
        self.server.close()


CALLS: list[dict[str, Any]] = [
    {"path": "/api/chat", "json": {"sender": "load-1", "message": "ゴミの出し方 😀"}},
    {"path": "/webhooks/madoguchi/webhook?x=1",
     "json": {"sender": "s", "message": "hi", "metadata": {"lang": "en", "n": [1.5, None]}}},
    {"path": "/line/webhook",
     "content": json.dumps({"events": ["é"]}, ensure_ascii=False).encode(),
     "headers": {"content-type": "application/json", "x-line-signature": "c2lnbmF0dXJl"}},
]


async def wire(make_client: Callable[[], Any]) -> list[bytes]:
    server = Server()
    async with server as url, make_client() as client:
        for call in CALLS:
            kwargs = {k: v for k, v in call.items() if k != "path"}
            r = await client.post(url + call["path"], timeout=10, **kwargs)
            assert r.status_code == 200 and r.json() == []
    return [raw for _, raw in server.requests]


def test_the_requests_are_httpx_s_byte_for_byte() -> None:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=4.0)
    raw = run(wire(lambda: RawClient(8)))
    lean = run(wire(lambda: http_client(limits, lean=True, epoll=True, reserve=True,
                                        acyclic=True)))
    plain = run(wire(lambda: httpx.AsyncClient(limits=limits)))

    def without_port(requests: list[bytes]) -> list[bytes]:
        return [r.replace(r.split(b"Host: ")[1].split(b"\r\n")[0], b"HOST") for r in requests]

    assert len(raw) == len(CALLS)
    assert without_port(raw) == without_port(lean) == without_port(plain)


def test_keep_alive_reuse_and_a_closed_connection_replaced() -> None:
    async def main() -> tuple[int, int, int]:
        kept, closing = Server(), Server(close_after=True)
        async with kept as a, closing as b, RawClient(8) as client:
            for _ in range(3):
                await client.post(a + "/x", json={}, timeout=5)
            for _ in range(3):  # the server hangs up after each answer
                r = await client.post(b + "/x", json={}, timeout=5)
                assert r.status_code == 200
                await asyncio.sleep(0.05)
        return kept.connections, closing.connections, len(closing.requests)

    assert run(main()) == (1, 3, 3)


def test_an_idle_connection_is_dropped_before_the_keepalive_expiry() -> None:
    async def main() -> int:
        server = Server()
        async with server as url, RawClient(8, keepalive_expiry=0.2) as client:
            await client.post(url, json={}, timeout=5)
            await asyncio.sleep(0.3)
            await client.post(url, json={}, timeout=5)
        return server.connections

    assert run(main()) == 2


def test_chunked_and_gzip_bodies_headers_any_case() -> None:
    body = json.dumps([{"text": "こんにちは"}], ensure_ascii=False).encode()
    packed = gzip.compress(body)
    chunked = (b"HTTP/1.1 200 OK\r\nX-Madoguchi-Mode: degraded\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n"
               + f"{len(body[:5]):x}\r\n".encode() + body[:5] + b"\r\n"
               + f"{len(body[5:]):x}\r\n".encode() + body[5:] + b"\r\n0\r\n\r\n")
    zipped = (b"HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\nContent-Length: "
              + str(len(packed)).encode() + b"\r\n\r\n" + packed)

    async def main() -> list[tuple[int, str, Any]]:
        out = []
        for reply in (chunked, zipped):
            async with Server(reply) as url, RawClient(8) as client:
                r = await client.post(url, json={}, timeout=5)
                out.append((r.status_code, r.headers.get("x-madoguchi-mode"), r.json()))
        return out

    assert run(main()) == [(200, "degraded", [{"text": "こんにちは"}]),
                           (201, None, [{"text": "こんにちは"}])]


def test_httpx_s_errors_for_refused_hung_and_silent_servers() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def main() -> None:
        async with RawClient(8) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://127.0.0.1:{free_port()}/", json={}, timeout=5)
            for handler, error in ((hang_up, httpx.RemoteProtocolError),
                                   (silent, httpx.ReadTimeout)):
                server = await asyncio.start_server(handler, "127.0.0.1", 0)
                port = server.sockets[0].getsockname()[1]
                with pytest.raises(error):
                    await client.post(f"http://127.0.0.1:{port}/", json={}, timeout=0.3)
                server.close()

    run(main())

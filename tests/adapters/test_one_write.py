"""A response's head and body in one write (adapters/serve.py, OneWriteTransport): the same
bytes in the same order, one ``transport.write`` where uvicorn makes two, nothing held past
the loop's turn, and a streamed response's head not held for its first event."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
import uvloop

pytestmark = pytest.mark.timeout(60)
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from adapters.serve import OneWriteTransport, uvicorn_http
from tests.conftest import serve_in_thread


class _Counted:
    """The real transport, with each write it is given recorded (the spy of the test)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _pair() -> tuple[OneWriteTransport, _Counted, socket.socket]:
    """A real loop transport on one end of a socket pair, wrapped; the other end raw."""
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    counted = _Counted(transport)
    theirs.setblocking(False)
    return OneWriteTransport(counted, loop), counted, theirs


async def _read(sock: socket.socket, n: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, 65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_head_and_body_leave_in_one_write(run) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        wrapped, counted, peer = await _pair()
        head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
        wrapped.write(head)
        wrapped.write(b"{}")
        assert counted.writes == [head + b"{}"]
        assert await _read(peer, len(head) + 2) == head + b"{}"
        # A write with none after it goes out at the loop's next turn, by itself.
        wrapped.write(b"head")
        assert counted.writes[1:] == []
        await asyncio.sleep(0)
        assert counted.writes[1:] == [b"head"]
        assert await _read(peer, 4) == b"head"
        # Big writes are not held; a held one goes first, joined.
        wrapped.write(b"x" * 20000)
        assert len(counted.writes) == 3
        wrapped.write(b"h")
        wrapped.write(b"y" * 20000)
        assert counted.writes[3] == b"h" + b"y" * 20000
        assert await _read(peer, 40001) == b"x" * 20000 + b"h" + b"y" * 20000
        # close() sends what is held, then closes; the peer reads it and then EOF.
        wrapped.write(b"last")
        wrapped.close()
        assert counted.writes[-1] == b"last"
        await asyncio.sleep(0.05)
        assert await _read(peer, 100) == b"last"
        peer.close()

    run(go())


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_abort_drops_a_held_write(run) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        wrapped, counted, peer = await _pair()
        wrapped.write(b"never")
        wrapped.abort()
        await asyncio.sleep(0.05)
        assert counted.writes == []
        assert await _read(peer, 5) == b""  # reset or EOF, nothing sent
        peer.close()

    try:
        run(go())
    except ConnectionResetError:
        pass


def _app() -> Starlette:
    async def json_answer(request: Any) -> JSONResponse:
        return JSONResponse({"answer": "ごみの日は月曜です", "n": list(range(50))})

    async def stream(request: Any) -> StreamingResponse:
        async def events():  # type: ignore[no-untyped-def]
            await asyncio.sleep(0.8)
            yield b"data: late\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/json", json_answer), Route("/stream", stream)])


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 10:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _without_date(response: bytes) -> bytes:
    return b"\r\n".join(line for line in response.split(b"\r\n") if not line.startswith(b"date:"))


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_server_sends_the_same_bytes(loop: str) -> None:
    answers = {}
    for one_write in (True, False):
        with serve_in_thread(_app(), http=uvicorn_http("httptools", one_write), loop=loop) as url:
            port = int(url.rsplit(":", 1)[1])
            request = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
            two = request + request  # two answers on one keep-alive connection
            answers[one_write] = [_without_date(_exchange(port, request)),
                                  _without_date(_exchange(port, two))]
    assert answers[True] == answers[False]
    assert answers[True][0].startswith(b"HTTP/1.1 200 OK") and "月曜".encode() in answers[True][0]


def test_a_streamed_head_is_not_held_for_its_first_event() -> None:
    with serve_in_thread(_app(), http=uvicorn_http("httptools", True), loop="uvloop") as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            head = sock.recv(65536)
            waited = time.monotonic() - started
            assert head.startswith(b"HTTP/1.1 200 OK") and b"data: late" not in head
            assert waited < 0.6  # the event comes 0.8 s later
            rest = b""
            while b"data: late" not in rest:
                rest += sock.recv(65536)

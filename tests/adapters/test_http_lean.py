"""The lean client for the gateway's calls (adapters/http_lean.py) against httpx on a real
loopback server: the same bytes on the wire, the same responses and errors, keep-alive reuse,
the pool's limits and expiry, and what it hands to httpx."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from adapters.gateway import HTTP_LIMITS
from adapters.http_lean import LeanHttp, LeanResponse
from adapters.http_pool import http_client
from adapters.line.client import LineApiError, LineClient, LineUnreachable
from linebot.v3.messaging import TextMessage
from adapters.rasa_client import RasaClient, RasaUnavailable
from adapters.settings import LineSettings, RasaSettings

Answer = Callable[[bytes], Awaitable[bytes | None]]


class _Raw:
    """An HTTP/1.1 server on loopback that records every request's bytes and answers with
    whatever ``answer`` makes of them (None: close the connection without answering)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.answer = answer or _ok_json(b"[]")
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0  # connections the client closed (EOF seen)
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed += 1
                    break
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                out = await self.answer(request)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()


def _ok_json(body: bytes, status: bytes = b"200 OK", extra: bytes = b"") -> Answer:
    async def answer(_: bytes) -> bytes:
        return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n" + extra
                + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return answer


def _clients(limits: httpx.Limits = HTTP_LIMITS) -> tuple[httpx.AsyncClient, LeanHttp]:
    http = http_client(limits, True, True, True, True)  # as the gateway builds it
    return http, LeanHttp(http, limits)


async def _both(server: _Raw, call: Callable[[Any], Awaitable[Any]]) -> tuple[Any, Any]:
    """``call`` through httpx, then through the lean client (results or exceptions)."""
    http, lean = _clients()
    out = []
    async with http:
        for client in (http, lean):
            try:
                out.append(await call(client))
            except Exception as exc:  # noqa: BLE001 - compared below
                out.append(exc)
        await lean.aclose()
    return out[0], out[1]


def test_same_requests_on_the_wire() -> None:
    async def run() -> None:
        server = _Raw()
        async with server as base:
            url = httpx.URL(f"{base}/webhooks/madoguchi/webhook")
            body = {"sender": "u1", "message": "ごみの日は？ 🗑", "metadata": {"lang": "ja",
                    "x": [1.5, None, True]}}

            async def calls(client: Any) -> None:
                await client.post(url, json=body, timeout=3.0)
                await client.request("POST", httpx.URL(f"{base}/v2/bot/message/reply?a=1"),
                                     json={"replyToken": "t"}, content=None,
                                     headers={"Authorization": "Bearer tok",
                                              "X-Line-Retry-Key": "k-1"}, timeout=3.0)
                await client.get(f"{base}/", timeout=2.0)
                await client.post(f"{base}/empty")
            await _both(server, calls)
        half = len(server.requests) // 2
        assert half == 4
        assert server.requests[:half] == server.requests[half:]
        assert "ごみの日".encode() in server.requests[0]
    asyncio.run(run())


def test_line_and_rasa_clients_send_and_read_the_same() -> None:
    async def run() -> None:
        rasa_reply = '[{"recipient_id":"u1","text":"月曜日です","custom":{"a":1}}]'.encode()
        server = _Raw(_ok_json(rasa_reply))
        async with server as base:
            line = LineSettings(api_base_url=base, data_api_base_url=base,
                                channel_access_token=SecretStr("token-x"))
            rasa = RasaSettings(urls=[base])

            async def calls(client: Any) -> Any:
                rasa_client = RasaClient(rasa, client)
                rasa_client.rasa.processes[0].up = True
                messages = await rasa_client.send("u1", "ごみ", {"lang": "ja"})
                line_client = LineClient(line, client)
                await line_client.reply("tok", [TextMessage(text="こんにちは")])
                shown = await line_client.start_loading("u1", 7)
                await line_client.push("u1", [TextMessage(text="x")], retry_key="r-1")
                return messages, shown
            via_httpx, via_lean = await _both(server, calls)
        assert via_httpx == via_lean
        assert via_lean[0][0]["text"] == "月曜日です"
        half = len(server.requests) // 2
        assert server.requests[:half] == server.requests[half:]
    asyncio.run(run())


def test_keep_alive_reuses_one_connection_and_expires_it() -> None:
    async def run() -> None:
        server = _Raw()
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=4,
                              keepalive_expiry=0.3)
        async with server as base:
            http, lean = _clients(limits)
            async with http:
                for _ in range(3):
                    assert (await lean.post(f"{base}/x", json={})).json() == []
                assert lean.connects == 1 and server.connections == 1
                await asyncio.sleep(0.6)  # past the keep-alive expiry: closed by the client
                assert server.closed == 1
                await lean.post(f"{base}/x", json={})
                assert lean.connects == 2
                await lean.aclose()
    asyncio.run(run())


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def run() -> None:
        served = 0

        async def answer_then_close(request: bytes) -> bytes | None:
            nonlocal served
            served += 1
            return (await _ok_json(b'["ok"]', extra=b"connection: close\r\n")(request))
        server = _Raw(answer_then_close)
        async with server as base:
            http, lean = _clients()
            async with http:
                for _ in range(2):
                    assert (await lean.post(f"{base}/x", json={})).json() == ["ok"]
            await lean.aclose()
        assert server.connections == 2
    asyncio.run(run())


def test_status_errors_text_and_decoding_as_httpx() -> None:
    async def run() -> None:
        for answer in (_ok_json(b'{"message":"bad"}', b"500 Internal Server Error"),
                       _ok_json(b"{}", b"404 Not Found"),
                       _ok_json(gzip.compress('{"a":"é"}'.encode()),
                                extra=b"content-encoding: gzip\r\n"),
                       _chunked(['{"a":', '"チャンク"}'])):
            async with _Raw(answer) as base:
                async def call(client: Any) -> Any:
                    response = await client.post(f"{base}/x", json={"q": 1}, timeout=2.0)
                    try:
                        response.raise_for_status()
                        raised = None
                    except httpx.HTTPStatusError as exc:
                        raised = (type(exc), str(exc), exc.response.status_code)
                    return (response.status_code, response.content, response.text,
                            response.json(), raised, response.headers.get("content-type"))
                via_httpx, via_lean = await _both(_Raw(), call)
            assert via_httpx == via_lean, (via_httpx, via_lean)
    asyncio.run(run())


def _chunked(parts: list[str]) -> Answer:
    async def answer(_: bytes) -> bytes:
        chunks = b"".join(f"{len(p.encode()):x}\r\n".encode() + p.encode() + b"\r\n"
                          for p in parts)
        return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    return answer


def test_errors_are_httpx_types() -> None:
    async def run() -> None:
        # Connection refused: ConnectError (Rasa's "not delivered, try the next process").
        async with _Raw() as base:
            pass
        refused = await _both(_Raw(), lambda c: c.post(f"{base}/x", json={}, timeout=1.0))
        assert all(type(e) is httpx.ConnectError for e in refused), refused

        # A server that closes without answering: RemoteProtocolError.
        async def hang_up(_: bytes) -> None:
            return None
        async with _Raw(hang_up) as base:
            closed = await _both(_Raw(), lambda c: c.post(f"{base}/x", json={}, timeout=1.0))
        assert all(type(e) is httpx.RemoteProtocolError for e in closed), closed

        # A server that never answers: ReadTimeout after the timeout.
        async def never(_: bytes) -> bytes:
            await asyncio.sleep(30)
            return b""
        async with _Raw(never) as base:
            started = time.monotonic()
            slow = await _both(_Raw(), lambda c: c.post(f"{base}/x", json={}, timeout=0.3))
            took = time.monotonic() - started
        assert all(type(e) is httpx.ReadTimeout for e in slow), slow
        assert 0.55 < took < 2.0
    asyncio.run(run())


def test_rasa_and_line_callers_see_their_own_errors() -> None:
    async def run() -> None:
        async with _Raw(_ok_json(b"oops", b"502 Bad Gateway")) as base:
            http, lean = _clients()
            async with http:
                rasa = RasaClient(RasaSettings(urls=[base]), lean)
                rasa.rasa.processes[0].up = True
                with pytest.raises(RasaUnavailable):
                    await rasa.send("u", "hi", {})
                assert not rasa.rasa.up
                line = LineClient(LineSettings(api_base_url=base, max_attempts=1,
                                               channel_access_token=SecretStr("t")), lean)
                with pytest.raises(LineApiError) as info:
                    await line.reply("tok", [TextMessage(text="x")])
                assert info.value.status == 502 and info.value.body == "oops"
                await lean.aclose()
        line = LineClient(LineSettings(api_base_url=base, channel_access_token=SecretStr("t")),
                          lean)
        with pytest.raises(LineUnreachable):
            await line.reply("tok", [TextMessage(text="x")])
    asyncio.run(run())


def test_pool_limit_waits_then_times_out() -> None:
    async def run() -> None:
        async def slow(request: bytes) -> bytes:
            await asyncio.sleep(0.3)
            return await _ok_json(b"[]")(request)
        server = _Raw(slow)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1,
                              keepalive_expiry=4.0)
        async with server as base:
            http, lean = _clients(limits)
            async with http:
                both = await asyncio.gather(lean.post(f"{base}/a", json={}, timeout=2.0),
                                            lean.post(f"{base}/b", json={}, timeout=2.0))
                assert [r.json() for r in both] == [[], []]
                assert server.connections == 1  # the second waited for the first's connection
                results = await asyncio.gather(lean.post(f"{base}/a", json={}, timeout=2.0),
                                               lean.post(f"{base}/b", json={}, timeout=0.1),
                                               return_exceptions=True)
                assert isinstance(results[0], LeanResponse)
                assert type(results[1]) is httpx.PoolTimeout
                await lean.aclose()
    asyncio.run(run())


def test_what_it_does_not_handle_goes_to_httpx() -> None:
    async def run() -> None:
        server = _Raw()
        async with server as base:
            http, lean = _clients()
            async with http:
                response = await lean.request("POST", f"{base}/content", content=b"raw",
                                              headers={"Content-Type": "image/png"})
                assert isinstance(response, httpx.Response)
                response = await lean.request("PUT", f"{base}/put", json={})
                assert isinstance(response, httpx.Response)
                assert lean.passed_on == 2 and lean.sent == 0
                assert isinstance(await lean.post(f"{base}/x", json={}), LeanResponse)
                await lean.aclose()
        assert server.requests[0].startswith(b"POST /content HTTP/1.1\r\n")
        assert b"Content-Type: image/png" in server.requests[0]
    asyncio.run(run())


def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool() -> None:
    async def run() -> None:
        async def slow(request: bytes) -> bytes:
            await asyncio.sleep(0.5)
            return await _ok_json(b"[]")(request)
        server = _Raw(slow)
        async with server as base:
            http, lean = _clients()
            async with http:
                task = asyncio.create_task(lean.post(f"{base}/x", json={}))
                await asyncio.sleep(0.1)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert (await lean.post(f"{base}/x", json={})).json() == []
                assert server.connections == 2
                await lean.aclose()
    asyncio.run(run())


def test_one_client_on_several_event_loops() -> None:
    """Test clients (Starlette's TestClient) run requests on loops other than the lifespan's:
    a connection opened on a loop is used on that loop only."""
    port = 0

    async def serve_and_ask(lean: LeanHttp) -> list[Any]:
        nonlocal port
        server = _Raw()
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", port)
        port = server.server.sockets[0].getsockname()[1]  # the same port the second time
        out = [(await lean.post(f"http://127.0.0.1:{port}/x", json={})).json()
               for _ in range(2)]
        server.server.close()
        return out + [server.connections]
    http = http_client(HTTP_LIMITS, True, True, True, True)
    lean = LeanHttp(http, HTTP_LIMITS)
    first = asyncio.run(serve_and_ask(lean))
    second = asyncio.run(serve_and_ask(lean))
    assert first == second == [[], [], 1]
    assert lean.connects == 2

    async def close() -> None:
        await lean.aclose()
        await http.aclose()
    asyncio.run(close())
    assert not lean._open

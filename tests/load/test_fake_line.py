"""The harness's fake LINE API answers the same on its two servers (``serving_raw``, the
default, and uvicorn with Starlette), and checks the same: the bearer token, the reply's
message count, answers nobody waits for, calls it does not fake."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.load.fake_line import Delivery, FakeLineApi, serving, serving_raw
from tests.conftest import free_port

TOKEN = "fake-line-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
TEXT = [{"type": "text", "text": "燃やせるごみは月曜日です"}]


async def exchange(server: str) -> tuple[list[tuple[int, Any]], FakeLineApi, Delivery]:
    api = FakeLineApi(token=TOKEN, keep_bodies=True)
    port = free_port()
    serve = serving_raw(api, port) if server == "raw" else serving(api.app(), port)
    out: list[tuple[int, Any]] = []
    async with serve as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        api.profiles["U1"] = "ja"
        delivered = api.expect("token-1", "U1")
        calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
            ("POST", "/v2/bot/chat/loading/start", {"chatId": "U1", "loadingSeconds": 5}, AUTH),
            ("GET", "/v2/bot/profile/U1", None, AUTH),
            ("GET", "/v2/bot/profile/U2", None, AUTH),
            ("POST", "/v2/bot/message/reply", {"replyToken": "token-1", "messages": TEXT}, AUTH),
            ("POST", "/v2/bot/message/reply", {"replyToken": "nobody", "messages": []}, AUTH),
            ("POST", "/v2/bot/message/push", {"to": "U9", "messages": TEXT},
             {"authorization": "Bearer wrong"}),
            ("GET", "/v2/bot/info", None, AUTH),
        ]
        for method, path, body, headers in calls:
            r = await http.request(method, path, json=body, headers=headers)
            out.append((r.status_code, r.json()))
        delivery = await asyncio.wait_for(delivered, 5)
    return out, api, delivery


def run(server: str) -> tuple[list[tuple[int, Any]], FakeLineApi, Delivery]:
    with ThreadPoolExecutor(1) as pool:  # a loop of its own (see test_load_harness.py)
        return pool.submit(asyncio.run, exchange(server)).result()


def test_both_servers_answer_and_check_the_same() -> None:
    raw, raw_api, raw_delivery = run("raw")
    old, old_api, old_delivery = run("uvicorn")
    assert raw == old
    assert raw[:4] == [
        (202, {}),
        (200, {"displayName": "住民", "userId": "U1", "language": "ja"}),
        (200, {"displayName": "住民", "userId": "U2"}),
        (200, {"sentMessages": [{"id": "0"}]}),
    ]
    assert raw[-1] == (404, {"message": "not faked"})
    assert raw_api.problems == old_api.problems == [
        "reply with 0 messages",
        "reply for reply token nobody that nobody waits for",
        "push: missing or wrong Authorization header",
        "push for user U9 that nobody waits for",
        "unexpected call GET /v2/bot/info",
    ]
    assert raw_api.counts == old_api.counts
    assert raw_api.bodies == old_api.bodies and len(raw_api.bodies) == 4
    assert (raw_delivery.how, raw_delivery.messages) == (old_delivery.how, old_delivery.messages)
    assert raw_delivery.messages == TEXT


def test_the_raw_server_keeps_connections_alive_and_closes_on_request() -> None:
    async def main() -> tuple[bytes, bytes]:
        api = FakeLineApi(token=TOKEN)
        port = free_port()
        async with serving_raw(api, port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (b"GET /v2/bot/profile/U3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                       + TOKEN.encode() + b"\r\n\r\n")
            writer.write(request + request)  # two on one connection, pipelined
            first = await reader.readuntil(b"}")
            writer.write(request.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n"))
            rest = await asyncio.wait_for(reader.read(), 5)  # until the server closes
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return first, rest

    with ThreadPoolExecutor(1) as pool:
        first, rest = pool.submit(asyncio.run, main()).result()
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b'"userId":"U3"}')
    assert rest.count(b"HTTP/1.1 200 OK") == 2 and b"connection: close" in rest

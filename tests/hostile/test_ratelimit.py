"""Rate limits (issue 8): per client IP on the HTTP routes (429 + Retry-After), per LINE user
on the webhook (one polite notice, the rest dropped, LINE itself always gets 200), and
X-Forwarded-For believed only from configured proxies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.ratelimit import TokenBuckets, client_address, parse_networks
from tests.hostile.harness import RESIDENT, hostile_settings
from tests.hostile.webhooks import signed, text_event, webhook_body


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a", cost=2) == pytest.approx(1.0)  # refused: nothing taken
    clock.now += 1.0
    assert buckets.take("a", cost=2) == 0.0


def test_full_buckets_are_forgotten_when_keys_pile_up() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock, max_keys=100)
    for i in range(100):
        buckets.take(f"ip{i}")
    clock.now += 10  # all refilled
    buckets.take("new")
    assert len(buckets) == 1
    for i in range(1000):  # a flood of live keys stays capped
        buckets.take(f"flood{i}")
    assert len(buckets) <= 100


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        ("198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # not a proxy: header ignored
        ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),  # the left part is the client's lie
        ("10.0.0.2", ["203.0.113.9, 10.0.0.3"], "203.0.113.9"),  # two proxies
        ("10.0.0.2", ["203.0.113.9", "10.0.0.3"], "203.0.113.9"),  # two headers
        ("10.0.0.2", ["junk, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.2", ["203.0.113.9, junk"], "10.0.0.2"),  # garbage from the proxy's side
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("10.0.0.2", ["203.0.113.9:5555"], "203.0.113.9"),
    ],
)
def test_forwarded_for_is_believed_from_trusted_proxies_only(
    peer: str, xff: list[str], client: str
) -> None:
    assert client_address(peer, xff, parse_networks(["10.0.0.0/8"])) == client


@pytest.fixture(scope="module")
def limited(settings, retriever, tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A gateway allowing each IP a burst of 5 then one request a minute, each LINE user a
    burst of 3 then one message a minute; loopback exempt; 10.0.0.0/8 a trusted proxy."""
    from adapters.gateway import create_app

    s = hostile_settings(settings, tmp_path_factory.mktemp("ratelimit"))
    s.gateway.rate_per_ip = 1 / 60
    s.gateway.rate_burst_per_ip = 5
    s.gateway.trusted_proxies = ["10.0.0.0/8"]
    s.line.rate_per_user = 1 / 60
    s.line.rate_burst_per_user = 3
    app = create_app(s, retriever=retriever)
    with TestClient(app, client=RESIDENT):
        yield app


def _client(app: Any, host: str) -> TestClient:
    return TestClient(app, client=(host, 50000))  # no lifespan: the app is already running


def test_one_ip_gets_429_with_retry_after_and_others_are_unaffected(limited: Any) -> None:
    resident = _client(limited, "198.51.100.10")
    codes = [resident.get("/api/health").status_code for _ in range(5)]
    assert codes == [200] * 5
    refused = resident.post("/api/chat", json={"message": "ごみの日"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "retry in" in refused.json()["detail"]
    assert _client(limited, "198.51.100.11").get("/api/health").status_code == 200


def test_loopback_is_exempt_for_the_load_bench(limited: Any) -> None:
    bench = _client(limited, "127.0.0.1")
    assert {bench.get("/api/health").status_code for _ in range(30)} == {200}


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(limited: Any) -> None:
    proxy = _client(limited, "10.1.2.3")
    for _ in range(5):
        assert proxy.get("/api/health", headers={"x-forwarded-for": "192.0.2.50"}).status_code == 200
    assert proxy.get("/api/health", headers={"x-forwarded-for": "192.0.2.50"}).status_code == 429
    assert proxy.get("/api/health", headers={"x-forwarded-for": "192.0.2.51"}).status_code == 200


def test_a_client_cannot_escape_its_bucket_with_a_forged_header(limited: Any) -> None:
    liar = _client(limited, "198.51.100.20")
    codes = [
        liar.get("/api/health", headers={"x-forwarded-for": f"192.0.2.{i}"}).status_code
        for i in range(8)
    ]
    assert codes == [200] * 5 + [429] * 3


def test_line_webhook_is_never_ip_limited_and_each_user_is_limited_alone(limited: Any) -> None:
    line_servers = _client(limited, "147.92.150.1")  # every webhook comes from LINE's servers
    flooder, neighbour = "U" + "f" * 32, "U" + "a" * 32
    for _ in range(7):
        body = webhook_body([text_event(flooder)])
        assert line_servers.post("/line/webhook", content=body, headers=signed(body)).status_code == 200
    body = webhook_body([text_event(neighbour)])
    assert line_servers.post("/line/webhook", content=body, headers=signed(body)).status_code == 200

    # LINE's API is unreachable here, so every answer lands in the failure log: what the
    # channel tried to send is exactly what a user would have got.
    sent = {u: [f.messages for f in limited.state.line.failures.entries() if f.target == u]
            for u in (flooder, neighbour)}
    texts = [" ".join(m.get("text", "") for m in msgs) for msgs in sent[flooder]]
    assert len(texts) == 4, texts  # 3 answers, 1 notice, 3 dropped without a word
    assert "待って" in texts[3] and all("待って" not in t for t in texts[:3])
    assert len(sent[neighbour]) == 1 and "待って" not in sent[neighbour][0][0].get("text", "")

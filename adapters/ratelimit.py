"""Rate limits: a token bucket per client IP on the HTTP routes, and one per LINE user.

Why two keys. On the web (chat API, widget, clerk app) the only identity a caller cannot
choose is its IP address, so the gateway keeps one bucket per IP (``RateLimit``, an ASGI
middleware) and answers 429 with ``Retry-After`` once it is empty. On LINE every webhook
comes from LINE's own servers, so an IP limit there would throttle the whole city at once;
the webhook path is left out of it and the LINE channel keeps one bucket per ``userId``
instead (``adapters.line.handlers``), read from the signed body. A forged webhook costs one
HMAC and a 400 before it reaches any bucket.

Behind a reverse proxy every request comes from the proxy: list it in
``gateway.trusted_proxies`` and the client is then the right-most address of
``X-Forwarded-For`` that is not itself a trusted proxy. The header is ignored from anyone
else, so a client cannot pick its own bucket by sending one.

``gateway.rate_exempt`` (loopback by default) is never limited: the load bench runs from
127.0.0.1, and so do health checks on the host. A proxy on the same host must be listed in
``trusted_proxies`` — then the exemption applies to the forwarded client address, not to the
proxy, and residents are limited as they should be. A connection without an address (a
Unix socket) counts as loopback too.

Buckets live in memory, per process: a replica behind a load balancer limits on its own
(the bench of two replicas gives each client twice the rate; set the rate accordingly).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.limits import send_json_error
from adapters.settings import GatewaySettings

# What a peer without an IP address (Unix socket) counts as.
LOCAL = "127.0.0.1"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """Token buckets by key: ``rate`` tokens a second, at most ``burst`` saved up.

    Thread-safe. Buckets that have refilled completely are forgotten (a full bucket and no
    bucket are the same), so memory follows the clients active in the last ``burst / rate``
    seconds, and ``max_keys`` caps it even under a flood of distinct keys.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                f"a token bucket needs rate > 0 and burst >= 1. Currently, rate is {rate} "
                f"and burst is {burst}"
            )
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``key``'s bucket.

        Returns:
            0.0 when they were taken; otherwise the seconds until they will be there (nothing
            is taken then, so a client that keeps knocking does not dig itself deeper).
        """
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            cost = min(cost, self.burst)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_full(self, now: float) -> None:
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.stamp) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # a flood of live keys: drop the oldest half
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].stamp)
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]


def parse_networks(cidrs: Iterable[str]) -> list[Network]:
    """``["10.0.0.0/8", "::1"]`` → networks (a bare address is a /32 or /128)."""
    return [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs]


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(address: Address | None, networks: list[Network]) -> bool:
    return address is not None and any(address in n for n in networks)


def client_address(
    peer: str, forwarded_for: Iterable[str], trusted_proxies: list[Network]
) -> str:
    """The client's address: the peer, or (if the peer is a trusted proxy) the right-most
    ``X-Forwarded-For`` entry that is not a trusted proxy.

    Args:
        peer: The address the connection came from (may be a non-IP name in tests).
        forwarded_for: Every ``X-Forwarded-For`` header value, in order.
        trusted_proxies: Proxies whose header is believed.
    """
    if not _within(_address(peer), trusted_proxies):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage: believe nothing further left than the last good hop
        client = str(address)
        if not _within(address, trusted_proxies):
            break
    return client


class RateLimit:
    """ASGI middleware: one token bucket per client IP; 429 with ``Retry-After`` when empty.

    ``rate_per_ip <= 0`` switches it off. Paths in ``exempt_paths`` (the LINE webhook) and
    clients in ``gateway.rate_exempt`` are never limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: GatewaySettings,
        exempt_paths: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.exempt_paths = frozenset(exempt_paths)
        self.trusted = parse_networks(settings.trusted_proxies)
        self.exempt = parse_networks(settings.rate_exempt)
        self.buckets = (
            TokenBuckets(settings.rate_per_ip, max(1, settings.rate_burst_per_ip), clock)
            if settings.rate_per_ip > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else ""
        if _address(peer) is None:  # a Unix socket (or a test client): a local connection
            peer = LOCAL
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-for"
        ]
        client = client_address(peer, forwarded, self.trusted)
        if _within(_address(client), self.exempt):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        await _too_many(send, wait)


def retry_after(wait_s: float) -> int:
    """Whole seconds for ``Retry-After`` (at least 1, so a client never retries at once)."""
    return max(1, math.ceil(wait_s))


async def _too_many(send: Send, wait_s: float) -> None:
    seconds = retry_after(wait_s)
    await send_json_error(
        send, 429, f"too many requests from this address; retry in {seconds} s",
        [(b"retry-after", str(seconds).encode())],
    )

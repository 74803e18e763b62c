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

import logging
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._utils import is_socket_readable  # the check httpcore itself runs

log = logging.getLogger(__name__)


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's anyio stream, with the raw socket kept for the readability check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # TLS runs over the same socket, so the new stream finds the same raw socket.
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._sock)
        return self._inner.get_extra_info(info)


class ReadableCheckBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AnyIOBackend`` whose streams check readability without anyio's lookups."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def http_client(limits: httpx.Limits) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` as httpx builds it, its default pool on ``ReadableCheckBackend``.

    Only the default transport's pool is changed (proxies from the environment keep httpx's
    own); if httpx no longer has the pool where 0.28 keeps it, the client is left as it is
    and a warning says so (``tests/adapters/test_http_pool.py`` fails first).
    """
    client = httpx.AsyncClient(limits=limits)
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = ReadableCheckBackend()
    else:
        log.warning("httpx's connection pool is not where expected: default network backend kept")
    return client

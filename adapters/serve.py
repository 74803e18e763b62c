"""``madoguchi serve``: Rasa servers + action server as children, the gateway in-process.

``rasa.processes`` Rasa servers (2 on a machine with ≥ 2 cores) run on consecutive ports on
one tracker store; the gateway sends each resident to one of them by a hash of the sender id
(``adapters/rasa_client.py``). SIGINT/SIGTERM stops every one of them.

``--replicas N`` runs N gateway processes instead, all listening on the same port with
``SO_REUSEPORT`` (the kernel spreads new connections over them): no proxy needed on one
machine, and a replica that dies is started again while the others keep answering. With the
SQLite job queue only the first replica runs the embedded minutes worker (docs/scaling.md).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from adapters.errors import StackError
from adapters.gateway import create_app
from adapters.settings import Settings
from adapters.stack import (
    Child,
    _spawn,
    fast_e5_engine,
    rasa_process_urls,
    start_actions,
    start_rasa_processes,
    train_model,
    wait_ready,
)

log = logging.getLogger(__name__)


def run_stack(settings: Settings, with_rasa: bool = True, replicas: int = 1) -> None:
    """Start everything, serve until SIGINT/SIGTERM, then stop every child.

    Raises:
        StackError: a process could not be started.
    """
    gateway_url = f"http://{settings.gateway.host}:{settings.gateway.port}"
    log_dir = settings.storage.data_dir / "log"
    children: list[Child] = []
    _exit_on_sigterm()
    try:
        if with_rasa:
            model = train_model(settings.rasa)
            children.append(start_actions(settings.rasa, gateway_url, log_dir))
            # Several Rasa processes on one tracker store; the gateway (and every replica)
            # sends each resident to one of them (adapters/rasa_client.py).
            settings.rasa.urls = rasa_process_urls(settings.rasa)
            children += start_rasa_processes(
                settings.rasa, model, settings.storage.data_dir / "tracker.db", log_dir,
                settings.rasa.urls, e5_lib=fast_e5_engine(settings),
            )
            log.info("%d Rasa process(es) loading the model at %s (logs in %s)…",
                     len(settings.rasa.urls), ", ".join(settings.rasa.urls), log_dir)
            _wait_in_background(settings, children)
        if replicas > 1:
            _supervise_replicas(settings, replicas, log_dir)
        else:
            serve_gateway(settings)
    finally:
        for child in reversed(children):
            log.info("stopping %s", child.name)
            child.stop()


def _exit_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop, a process-group kill) becomes SystemExit, so the
    ``finally`` that stops Rasa and the action server runs.

    uvicorn catches SIGTERM while it serves and, once shut down, raises it again; with
    Python's default action the process then died before ``finally``, leaving the children
    (in their own sessions) running. SIGINT already arrives as KeyboardInterrupt.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def _wait_in_background(settings: Settings, children: list[Child]) -> None:
    # The gateway starts at once and answers from retrieval while Rasa loads (degraded);
    # this thread only reports when Rasa is ready or has died.
    import threading

    def wait() -> None:
        try:
            for url in settings.rasa.server_urls():
                wait_ready(f"{url}/", children, timeout_s=300)
                log.info("Rasa is ready at %s", url)
        except StackError as exc:
            log.error("%s", exc)

    threading.Thread(target=wait, daemon=True, name="rasa-wait").start()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` that other processes may bind as well.

    Not listening yet: uvicorn calls ``listen()`` once the app's start-up (retriever warm-up)
    is done, and only listening sockets get connections. A replica that is (re)starting thus
    takes no connections it could not answer for seconds; the others take them all.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


# A request's head (request line + headers) larger than this is refused with 431. h11 refuses
# past 16 kB (uvicorn's h11_max_incomplete_event_size); llhttp, the parser in httptools, has
# no limit at all, and uvicorn keeps what it parsed in memory: a client could send headers
# without end. Browsers and LINE send well under 8 kB.
MAX_HEAD_BYTES = 32 * 1024


def msg_head_too_large() -> str:
    return f"request head larger than {MAX_HEAD_BYTES} bytes"


def _bounded_httptools() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with :data:`MAX_HEAD_BYTES` on each request's head:
        bytes received while a head is incomplete are counted, and past the limit the client
        gets 431 and the connection is closed (its memory is then at most the limit plus one
        read)."""

        _head_bytes = 0
        _head_done = False
        _in_body = False
        _too_large = False

        def data_received(self, data: bytes) -> None:
            self._head_done = False
            super().data_received(data)
            if self._head_done:
                self._head_bytes = 0  # a head ended in this read; count the next one anew
            elif not self._in_body and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._too_large = True
                    self._refuse_head()

        def on_headers_complete(self) -> None:
            self._head_done = self._in_body = True
            # A head that arrived in one read: measured whole here, before any app sees it.
            size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
            if size > MAX_HEAD_BYTES:
                # Stops the parser; uvicorn then calls send_400_response, answered with 431.
                self._too_large = True
                raise ValueError(msg_head_too_large())
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if self._too_large:
                self._refuse_head()
            else:
                super().send_400_response(msg)

        def on_message_complete(self) -> None:
            self._in_body = False
            super().on_message_complete()

        def _refuse_head(self) -> None:
            msg = msg_head_too_large()
            self.logger.warning("refused a request: %s", msg)
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                b"content-length: " + str(len(msg)).encode() + b"\r\n\r\n" + msg.encode()
            )
            self.transport.close()

    return BoundedHttpToolsProtocol


def uvicorn_http(name: str) -> str | type:
    """uvicorn's ``http`` argument for ``gateway.http``: httptools (what "auto" picks when it
    is installed) with a bound on request heads, or h11 as it is."""
    if name == "h11":
        return "h11"
    try:
        import httptools  # noqa: F401
    except ImportError:
        if name == "httptools":
            raise
        return "h11"
    return _bounded_httptools()


def serve_gateway(settings: Settings) -> None:
    """The gateway in this process until SIGINT/SIGTERM (sharing its port if ``reuse_port``)."""
    app = create_app(settings)
    # log_config=None: uvicorn's loggers (access log included) go through the root
    # handler set up by the CLI, which masks personal data.
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.gateway.host, port=settings.gateway.port, log_level="info",
        log_config=None, http=uvicorn_http(settings.gateway.http), loop=settings.gateway.loop,
    ))
    if settings.gateway.reuse_port:
        server.run(sockets=[reuse_port_socket(settings.gateway.host, settings.gateway.port)])
    else:
        server.run()


def _start_replica(settings: Settings, index: int, log_dir: Path) -> Child:
    cmd = [sys.executable, "-m", "adapters.cli", "serve", "--no-rasa", "--reuse-port",
           "--port", str(settings.gateway.port)]
    env = {"MADOGUCHI_GATEWAY__HOST": settings.gateway.host,
           # The Rasa processes this supervisor started (or the configured ones).
           "MADOGUCHI_RASA__URLS": json.dumps(settings.rasa.server_urls())}
    if index > 0 and not settings.clerk.queue_url.get_secret_value():
        # SQLite queue: one embedded worker (a replica starting up would otherwise put back
        # the jobs another replica's worker is running). The Redis queue's leases allow many.
        env["MADOGUCHI_CLERK__EMBEDDED_WORKER"] = "false"
    return _spawn(f"gateway-{index}", cmd, Path.cwd(), env, log_dir)


def _supervise_replicas(settings: Settings, replicas: int, log_dir: Path) -> None:
    """Run ``replicas`` gateway processes on one port; restart any that dies; stop all on
    SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    running = [_start_replica(settings, i, log_dir) for i in range(replicas)]
    log.info("%d gateway replicas on %s:%d (logs in %s)", replicas, settings.gateway.host,
             settings.gateway.port, log_dir)
    started = [time.monotonic()] * replicas
    try:
        while not stop.wait(0.5):
            for i, child in enumerate(running):
                code = child.process.poll()
                # At most one restart per 5 s each: a replica that cannot start does not spin.
                if code is not None and time.monotonic() - started[i] > 5:
                    log.error("gateway replica %d (pid %d) exited with %s; starting it again",
                              i, child.process.pid, code)
                    running[i], started[i] = _start_replica(settings, i, log_dir), time.monotonic()
    finally:
        for child in running:
            child.stop()

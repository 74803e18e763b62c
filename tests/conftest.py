"""Shared fixtures: settings pointing at a test data dir, one warmed-up retriever, and (for
the dialogue tests) a real Rasa server + action server + gateway started once per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_VAR = ROOT / "var" / "test"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KOKORO_JA_CACHE", str(ROOT / "var" / "cache" / "kokoro"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None, timeout_s: float = 60) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run an ASGI ``app`` with uvicorn on a loopback port in a daemon thread; yields its URL."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        pytest.fail(f"the server on port {port} did not start within {timeout_s:.0f} s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from adapters.settings import Settings

    os.chdir(ROOT)
    s = Settings(_env_file=None)
    s.retrieval.index_dir = TEST_VAR / "index"
    s.storage.data_dir = TEST_VAR
    s.rasa.model_dir = TEST_VAR / "models"
    return s


@pytest.fixture(scope="session")
def retriever(settings):  # type: ignore[no-untyped-def]
    from retrieval import Retriever

    r = Retriever(settings.retrieval)
    r.warm_up()
    return r


@pytest.fixture
def tmp_copy_kb(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the sample KB."""
    dest = tmp_path / "kb"
    shutil.copytree(ROOT / "nlu_data" / "kb", dest)
    yield dest


class Stack:
    """A real Rasa server, action server and gateway on free loopback ports."""

    def __init__(self, settings, retriever, log_dir: Path) -> None:  # type: ignore[no-untyped-def]
        import copy

        self.settings = copy.deepcopy(settings)
        self.retriever = retriever
        self.log_dir = log_dir
        self.rasa_port, self.action_port, self.gateway_port = free_port(), free_port(), free_port()
        self.settings.rasa.url = f"http://127.0.0.1:{self.rasa_port}"
        self.settings.rasa.action_url = f"http://127.0.0.1:{self.action_port}"
        self.settings.rasa.probe_interval_s = 0.5
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        self.rasa = None
        self.actions = None
        self.model: Path | None = None

    def start(self) -> None:
        from adapters.stack import start_actions, train_model, wait_ready

        self.model = train_model(self.settings.rasa)
        self._start_gateway()
        self.actions = start_actions(
            self.settings.rasa, self.gateway_url, self.log_dir, port=self.action_port
        )
        self.start_rasa()
        wait_ready(f"{self.settings.rasa.action_url}/health", [self.actions], timeout_s=120)

    def start_rasa(self) -> None:
        from adapters.stack import start_rasa, wait_ready

        assert self.model is not None
        self.rasa = start_rasa(
            self.settings.rasa, self.model, self.log_dir / "tracker.db", self.log_dir,
            port=self.rasa_port, action_port=self.action_port,
        )
        wait_ready(f"{self.settings.rasa.url}/", [self.rasa], timeout_s=240)

    def stop_rasa(self) -> None:
        if self.rasa:
            self.rasa.stop()

    def _start_gateway(self) -> None:
        from adapters.gateway import create_app

        self.app = create_app(self.settings, retriever=self.retriever)
        self._gateway = contextlib.ExitStack()
        self._gateway.enter_context(serve_in_thread(self.app, self.gateway_port))

    def stop(self) -> None:
        for child in (self.rasa, self.actions):
            if child:
                child.stop()
        self._gateway.close()


@pytest.fixture(scope="session")
def stack(settings, retriever) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """Rasa (trained on the bot's data once, cached by fingerprint), actions and gateway."""
    log_dir = TEST_VAR / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    running = Stack(settings, retriever, log_dir)
    try:
        running.start()
        yield running
    finally:
        running.stop()

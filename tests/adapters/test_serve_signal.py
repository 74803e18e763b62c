"""SIGTERM (systemd's stop, ``docker stop``) of ``madoguchi serve`` stops the whole stack.

Rasa and the action server run in their own sessions, so a signal to ``serve`` alone reaches
neither: ``serve`` must stop them itself. Before 96d5d14 uvicorn re-raised the SIGTERM it had
caught and Python's default action killed ``serve`` before it could, leaving both running and
holding their ports.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.adapters.serve_process import alive, cmdline, serve

pytestmark = pytest.mark.slow


def test_sigterm_stops_rasa_and_the_action_server(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = stack.settings  # its fixture has trained the model serve will load
    with serve(tmp_path, Path(s.rasa.model_dir), Path(s.retrieval.index_dir),
               MADOGUCHI_RASA__PROBE_INTERVAL_S="0.5") as served:
        # To serve alone, as systemd's KillMode=mixed does.
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(60)
        deadline = time.monotonic() + 30
        while any(alive(p) for p in served.started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: cmdline(p) for p in served.started if alive(p)}
        assert not left, f"still running after serve's SIGTERM: {left}\n{served.log.read_text()}"
        text = served.log.read_text()
        assert "stopping rasa" in text and "stopping actions" in text, text
        for port in (served.gateway, served.rasa, served.actions):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)

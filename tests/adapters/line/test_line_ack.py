"""The webhook acknowledges before it works: with a slow LINE API behind it, LINE still gets
its 200 at once over real HTTP (uvicorn), and the answer arrives afterwards."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from tests.adapters.line.fakes import SECRET, FakeLine, event, line_settings

from adapters.gateway import create_app
from adapters.line.signature import sign
from tests.conftest import free_port


def test_webhook_answers_200_before_processing(
    settings, retriever, fake_line: FakeLine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    s = line_settings(settings, fake_line, tmp_path)
    s.line.timeout_s = 5.0
    fake_line.delay["loading"] = 1.5  # the bot is slow to even start
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(s, retriever=retriever), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        body = json.dumps(
            {"events": [event("text", text="保育園の申し込みはいつまでですか")]}
        ).encode()
        started = time.monotonic()
        response = httpx.post(
            f"http://127.0.0.1:{port}/line/webhook",
            content=body,
            headers={"x-line-signature": sign(SECRET, body)},
            timeout=10,
        )
        acked = time.monotonic() - started
        assert response.status_code == 200 and acked < 1.0, acked
        assert not fake_line.of("reply")
        deadline = time.monotonic() + 10
        while not fake_line.of("reply") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_line.of("reply"), "the answer never arrived"
    finally:
        server.should_exit = True
        thread.join(10)

"""``bot/rasa_speedups.py`` in the Rasa environment: each replaced Rasa method gives Rasa's own
results on accepted and refused inputs, costs less, and is installed in a running Rasa server."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from adapters.stack import RASA_ENV, rasa_bin

# Action server responses: what the bot's actions send, and malformed ones Rasa must refuse.
VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "district", "value": "kita", "timestamp": None},
                {"event": "active_loop", "name": None},
                {"event": "followup", "name": "utter_goodbye"},
                {"event": "bot", "text": "受付番号 H-1", "data": {"buttons": []}}],
     "responses": [{"text": "燃やせるごみ: 月曜、木曜", "buttons": [{"title": "北区", "payload": "/x"}]}]},
]
INVALID = [
    {"events": [{"event": "teleport", "name": "x"}], "responses": []},   # unknown event type
    {"events": [{"event": "slot", "name": 5, "value": "x"}]},            # name is not a string
    {"events": [{"event": "slot", "value": "x"}]},                        # required name missing
    {"events": {"event": "slot"}},                                        # events not an array
    {"events": [], "responses": "hello"},                                 # responses not an array
]

_SCRIPT = """
import json, sys, time
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
import rasa_speedups

original = RemoteAction._validate_action_result
rasa_speedups.install()
patched = RemoteAction._validate_action_result
action = RemoteAction("action_answer_faq", None)

def outcome(method, response):
    try:
        return ["ok", method(action, json.loads(json.dumps(response)))]
    except ValidationError as e:
        return ["ValidationError", e.message, list(e.path)]

def cpu_ms(method, response, n=60):
    start = time.process_time()
    for _ in range(n):
        method(action, response)
    return (time.process_time() - start) * 1000 / n

cases = json.loads(sys.argv[1])
print(json.dumps({
    "replaced": patched is not original,
    "original": [outcome(original, c) for c in cases],
    "patched": [outcome(patched, c) for c in cases],
    "cpu_ms": [cpu_ms(original, cases[1]), cpu_ms(patched, cases[1])],
}))
"""


def run_in_rasa_env(settings, script: str, *args: str) -> dict:  # type: ignore[no-untyped-def]
    python = rasa_bin(settings.rasa).parent / "python"
    result = subprocess.run([str(python), "-c", script, *args], cwd=settings.rasa.project_dir,
                            env={**os.environ, **RASA_ENV}, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_action_responses_are_validated_as_rasa_does_with_a_validator_built_once(settings) -> None:  # type: ignore[no-untyped-def]
    got = run_in_rasa_env(settings, _SCRIPT, json.dumps(VALID + INVALID))
    assert got["replaced"]
    # Same verdict and the same error message (Rasa's text appended) as Rasa's own method.
    assert got["patched"] == got["original"]
    verdicts = [o[0] for o in got["patched"]]
    assert verdicts == ["ok"] * len(VALID) + ["ValidationError"] * len(INVALID)
    for refused in got["patched"][len(VALID):]:
        assert "Failed to validate Action server response" in refused[1]
    original_ms, patched_ms = got["cpu_ms"]
    print(f"CPU ms per action response: Rasa's {original_ms:.2f}, built once {patched_ms:.3f}")
    assert patched_ms < original_ms / 3, got["cpu_ms"]


@pytest.mark.slow
def test_the_running_rasa_server_has_them_installed(stack) -> None:  # type: ignore[no-untyped-def]
    # A turn that runs a custom action (the FAQ answer) through the server.
    body = {"sender": "speedups-1", "message": "粗大ごみの出し方を教えて", "metadata": {}}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=30)
    assert response.status_code == 200 and response.headers["X-Madoguchi-Mode"] == "rasa"
    assert any(m.get("text") for m in response.json())
    log = (stack.log_dir / "rasa.log").read_text(errors="replace")
    installed = f"madoguchi rasa speedups installed in pid {stack.rasa.process.pid}"
    assert installed in log
    assert "Failed to validate Action server response" not in log.split(installed)[-1]

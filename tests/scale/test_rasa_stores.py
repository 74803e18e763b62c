"""Rasa on shared stores: conversations in PostgreSQL (masked), per-conversation locks in Redis,
and a second Rasa process — started after the conversation began, so it knows nothing of it
but what the stores hold — carrying the conversation on while the first one still runs."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import redis

from tests.conftest import free_port

pytestmark = pytest.mark.slow
CHANNEL = "/webhooks/madoguchi/webhook"  # the gateway's Rasa channel (adapters/rasa_client.py)


def ask(stack, sender: str, message: str) -> str:  # type: ignore[no-untyped-def]
    body = {"sender": sender, "message": message}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["X-Madoguchi-Mode"] == "rasa"
    return "\n".join(m.get("text") or "" for m in response.json())


def ask_rasa(rasa_url: str, sender: str, message: str) -> str:
    """One turn straight to a Rasa server's channel, as the gateway sends it."""
    body = {"sender": sender, "message": message, "metadata": {"lang": "ja"}}
    response = httpx.post(f"{rasa_url}{CHANNEL}", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return "\n".join(m.get("text") or "" for m in response.json())


def test_conversation_is_stored_masked_in_postgres_and_carried_on_by_another_rasa(
    scaled_stack, postgres, redis_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from adapters.stack import start_rasa, wait_ready

    locks = redis.Redis.from_url(f"{redis_url}/1")
    sets_before = _calls(locks, "set")
    who = f"scale-{uuid.uuid4().hex[:8]}"
    ask(scaled_stack, who, "私の電話番号は090-1234-5678です")
    # A form turn: the bot asks for the district and waits in the form (state in the tracker).
    assert "地区" in ask(scaled_stack, who, "ゴミ出しの曜日を教えてください")

    rows = postgres.query(f"SELECT data FROM events WHERE sender_id = '{who}' ORDER BY id")
    user_texts = [json.loads(r)["text"] for r in rows if json.loads(r)["event"] == "user"]
    assert user_texts[0] == "私の電話番号は[PHONE]です"
    assert not any("090-1234" in r for r in rows)
    # Rasa took the conversation's lock in this Redis (db 1), not in its own memory.
    assert _calls(locks, "set") > sets_before

    # A second Rasa (a replica, or the first one restarted: a new process either way) on the
    # same stores answers the form's next turn; the form state can only come from PostgreSQL.
    port = free_port()
    second = start_rasa(scaled_stack.settings.rasa, scaled_stack.model, tmp_path / "unused.db",
                        tmp_path, port=port, action_port=scaled_stack.action_port)
    try:
        wait_ready(f"http://127.0.0.1:{port}/", [second], timeout_s=300)
        sets_before = _calls(locks, "set")
        answer = ask_rasa(f"http://127.0.0.1:{port}", who, "北区です")
        assert "燃やせるごみ: 月曜、木曜" in answer
        assert _calls(locks, "set") > sets_before  # the same lock store
        # The first Rasa, still running, sees what the second one did.
        tracker = httpx.get(f"{scaled_stack.settings.rasa.url}/conversations/{who}/tracker",
                            timeout=30).json()
        said = [e.get("text") or "" for e in tracker["events"] if e["event"] == "bot"]
        assert any("燃やせるごみ: 月曜、木曜" in t for t in said)
    finally:
        second.stop()
    after = postgres.query(f"SELECT count(*) FROM events WHERE sender_id = '{who}'")
    assert int(after[0]) > len(rows)


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

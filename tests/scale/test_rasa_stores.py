"""Rasa on shared stores: conversations in PostgreSQL (masked), per-conversation locks in Redis,
and a conversation that carries on across a Rasa restart because nothing lived in the process."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import redis

pytestmark = pytest.mark.slow


def ask(stack, sender: str, message: str) -> str:  # type: ignore[no-untyped-def]
    body = {"sender": sender, "message": message}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["X-Madoguchi-Mode"] == "rasa"
    return "\n".join(m.get("text") or "" for m in response.json())


def test_conversation_is_stored_masked_in_postgres_and_survives_a_rasa_restart(
    scaled_stack, postgres, redis_url
) -> None:  # type: ignore[no-untyped-def]
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

    scaled_stack.stop_rasa()
    scaled_stack.start_rasa()  # a new process: the form state can only come from PostgreSQL
    answer = ask(scaled_stack, who, "北区です")
    assert "燃やせるごみ: 月曜、木曜" in answer
    after = postgres.query(f"SELECT count(*) FROM events WHERE sender_id = '{who}'")
    assert int(after[0]) > len(rows)


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))

"""The resident journey end to end: gateway → real Rasa server → action server → retrieval,
and the degraded path when Rasa goes away and comes back."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.slow
NURSERY_URL = "https://www.city.kasumino.example.jp/"


def ask(stack, message: str, sender: str, **metadata) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"sender": sender, "message": message, "metadata": metadata}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response


def wait_for_mode(stack, mode: str, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health = httpx.get(f"{stack.gateway_url}/api/health", timeout=5).json()
        if (health["components"]["rasa"]["status"] == "up") == (mode == "rasa"):
            return
        time.sleep(0.25)
    raise AssertionError(f"gateway did not switch to {mode} within {timeout_s} s")


def test_japanese_nursery_question_through_rasa(stack) -> None:  # type: ignore[no-untyped-def]
    wait_for_mode(stack, "rasa")
    response = ask(stack, "保育園の申し込みはいつまでですか", "resident-ja")
    assert response.headers["X-Madoguchi-Mode"] == "rasa"
    messages = response.json()
    assert "12月10日" in messages[0]["text"] and NURSERY_URL in messages[0]["text"]
    custom = [m["custom"] for m in messages if "custom" in m][0]
    assert custom["entry_id"] == "childcare.nursery-application"
    assert custom["degraded"] is False and custom["lang"] == "ja"


def test_english_nursery_question_through_rasa(stack) -> None:  # type: ignore[no-untyped-def]
    response = ask(stack, "When is the deadline to apply for a nursery school?", "resident-en")
    assert response.headers["X-Madoguchi-Mode"] == "rasa"
    messages = response.json()
    assert "December 10" in messages[0]["text"]
    custom = [m["custom"] for m in messages if "custom" in m][0]
    assert custom["entry_id"] == "childcare.nursery-application" and custom["lang"] == "en"


def test_greeting_is_answered_by_the_dialogue_in_the_askers_language(stack) -> None:  # type: ignore[no-untyped-def]
    ja = ask(stack, "こんにちは", "greeter-ja").json()
    assert "市役所" in ja[0]["text"]
    en = ask(stack, "Hello!", "greeter-en", lang="en").json()
    assert "city hall" in en[0]["text"]


def test_health_is_ok_with_everything_up(stack) -> None:  # type: ignore[no-untyped-def]
    wait_for_mode(stack, "rasa")
    health = httpx.get(f"{stack.gateway_url}/api/health").json()
    assert health["components"]["action_server"]["status"] == "up"
    assert health["components"]["retrieval"]["status"] == "up"


def test_rasa_down_then_back(stack) -> None:  # type: ignore[no-untyped-def]
    stack.stop_rasa()
    try:
        started = time.monotonic()
        response = ask(stack, "保育園の申し込みはいつまでですか", "resident-degraded")
        assert time.monotonic() - started < 10
        assert response.headers["X-Madoguchi-Mode"] == "degraded"
        messages = response.json()
        assert "12月10日" in messages[0]["text"]
        assert messages[-1]["custom"]["degraded"] is True
        health = httpx.get(f"{stack.gateway_url}/api/health").json()
        assert health["status"] == "degraded" and health["components"]["rasa"]["status"] == "down"
    finally:
        stack.start_rasa()
    wait_for_mode(stack, "rasa")
    back = ask(stack, "保育園の申し込みはいつまでですか", "resident-back")
    assert back.headers["X-Madoguchi-Mode"] == "rasa"

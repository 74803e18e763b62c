"""Processes of the stack killed (SIGKILL) under load, and the gateway restarted: residents
keep getting right answers, and the stack heals by itself once the process is back.

Runs on a private stack (``fault_stack``): the session's shared ``stack`` is never touched.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from tests.faults.residents import Reply, Residents, health, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("all_up")]


def kill(child) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL a stack process and its children: a crash, not a shutdown."""
    os.killpg(child.process.pid, signal.SIGKILL)
    child.process.wait(30)


def assert_all_answered(replies: list[Reply], expected: dict[str, str]) -> None:
    """No errors, and every reply is the KB entry retrieval picks for the question."""
    assert replies
    failures = [r for r in replies if r.error or r.status != 200 or not r.text.strip()
                or r.entry_id != expected[r.question]]
    assert not failures, f"{len(failures)} of {len(replies)} messages not answered: {failures[:3]}"


def ask(stack, sender: str, message: str) -> list[dict]:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{stack.gateway_url}/api/chat",
                   json={"sender": sender, "message": message}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["X-Madoguchi-Mode"] == "rasa"
    return r.json()


def said(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def open_conversations(stack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Residents mid-way: a form half filled, a language chosen in the chat, a hand-over ticket."""
    who = {k: f"fault-{k}-{uuid.uuid4().hex[:6]}" for k in ("form", "english", "handover")}
    assert "地区" in said(ask(stack, who["form"], "ゴミ出しの曜日を教えてください"))
    assert "English" in said(ask(stack, who["english"], '/change_language{"language":"en"}'))
    ticket = said(ask(stack, who["handover"], "職員さんにつないでください"))
    who["ticket"] = ticket.split("受付番号は ")[1].split(" ")[0]
    return who


def conversations_go_on(stack, who: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Each conversation of ``open_conversations`` goes on where it was."""
    answer = said(ask(stack, who["form"], "北区です"))
    assert "燃やせるごみ: 月曜、木曜" in answer  # the form remembered what it was asking
    assert "city hall" in said(ask(stack, who["english"], "こんにちは"))  # still English
    # Staff (a clerk-app session) still find the hand-over ticket and its conversation.
    stack.app.state.clerk_store.add_user("fault-staff", "staff password 1", "clerk")
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as staff:
        login = staff.post("/api/clerk/login",
                           json={"name": "fault-staff", "password": "staff password 1"})
        assert login.status_code == 200, login.text
        kept = staff.get(f"/api/handover/{who['ticket']}")
    assert kept.status_code == 200, kept.text
    assert any(t["role"] == "user" for t in kept.json()["transcript"])


def test_rasa_killed_mid_load_then_back(fault_stack, residents, expected_entries) -> None:  # type: ignore[no-untyped-def]
    who = open_conversations(fault_stack)
    with residents() as load:
        start = time.monotonic()
        load.wait_for(6, start, "rasa", "answers through Rasa before the kill")
        kill(fault_stack.rasa)
        killed_at = time.monotonic()
        load.wait_for(6, killed_at, "degraded", "degraded answers while Rasa is down")
        assert health(fault_stack)["rasa"] == "down"
        restarting_at = time.monotonic()
        fault_stack.start_rasa()  # load goes on while it loads its model
        back_at = time.monotonic()
        load.wait_for(6, back_at, "rasa", "answers through Rasa again after its restart")
    replies = load.since(start)
    assert_all_answered(replies, expected_entries)
    while_dead = [r for r in replies if killed_at <= r.sent_at < restarting_at]
    assert while_dead and all(r.mode == "degraded" for r in while_dead)
    assert replies[-1].mode == "rasa"
    # The crash lost no conversation: Rasa's tracker store (SQLite) had every turn.
    conversations_go_on(fault_stack, who)


def test_action_server_killed_mid_load_then_back(fault_stack, residents, expected_entries) -> None:  # type: ignore[no-untyped-def]
    with residents() as load:
        start = time.monotonic()
        load.wait_for(6, start, "rasa", "answers through Rasa before the kill")
        kill(fault_stack.actions)
        killed_at = time.monotonic()
        load.wait_for(6, killed_at, "degraded", "degraded answers while the actions are down")
        wait_until(lambda: health(fault_stack)["action_server"] == "down", "actions seen down")
        restarting_at = time.monotonic()
        fault_stack.start_action_server()
        back_at = time.monotonic()
        load.wait_for(6, back_at, "rasa", "answers through Rasa again after the restart")
    replies = load.since(start)
    assert_all_answered(replies, expected_entries)
    while_dead = [r for r in replies if killed_at <= r.sent_at < restarting_at]
    assert while_dead and all(r.mode == "degraded" for r in while_dead)
    assert replies[-1].mode == "rasa"


def test_gateway_restart_loses_no_conversation(fault_stack) -> None:  # type: ignore[no-untyped-def]
    who = open_conversations(fault_stack)
    fault_stack.restart_gateway()
    wait_until(lambda: health(fault_stack)["rasa"] == "up", "the new gateway sees Rasa")
    conversations_go_on(fault_stack, who)

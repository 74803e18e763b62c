"""The dialogue end to end: gateway → real Rasa → action server → gateway API.

Forms, their re-asking and hand-over, language switching, feedback and tickets, as a
resident would see them. Uses the session's ``stack`` (trained once, cached by fingerprint).
"""

from __future__ import annotations

import sqlite3
import uuid

import httpx
import pytest

from adapters.tickets import DialogueStore

pytestmark = pytest.mark.slow


def ask(stack, sender: str, message: str, **metadata) -> list[dict]:  # type: ignore[no-untyped-def]
    body = {"sender": sender, "message": message, "metadata": metadata}
    response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["X-Madoguchi-Mode"] == "rasa"
    return response.json()


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def sender() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_garbage_day_asks_the_district_then_answers_from_the_kb(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    first = ask(stack, who, "ゴミ出しの曜日を教えてください")
    assert "地区" in texts(first)
    assert '/inform{"district":"kita"}' in payloads(first)
    answer = texts(ask(stack, who, "北区です"))
    assert "燃やせるごみ: 月曜、木曜" in answer and "資源物: 金曜" in answer


def test_garbage_form_reasks_twice_then_hands_over(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    ask(stack, who, "ごみの収集日を知りたい")
    for _ in range(2):
        again = ask(stack, who, "うーん、わからない")
        assert "選んでください" in texts(again) and payloads(again)
    final = texts(ask(stack, who, "うーん、わからない"))
    assert "受付番号" in final and "H-" in final and "0299-00-1000" in final
    # The form is over: the next message is an ordinary question again.
    assert "選んでください" not in texts(ask(stack, who, "こんにちは"))


def test_nursery_form_in_english_with_buttons(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    first = ask(stack, who, "I want to apply for nursery school for my child", lang="en")
    assert "December 10" in texts(first) and "How old" in texts(first)
    month = ask(stack, who, '/inform{"child_age":"1"}', lang="en")
    assert "month" in texts(month)
    answer = texts(ask(stack, who, '/inform{"month":"10"}', lang="en"))
    assert "apply by September 10" in answer


def test_relocation_subsidy_verdict_states_the_rule(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    assert "住んでいました" in texts(ask(stack, who, "移住支援金の対象になりますか"))
    ask(stack, who, '/inform{"moved_from":"tokyo23"}')
    ask(stack, who, "3ヶ月前に引っ越しました")
    verdict = texts(ask(stack, who, '/inform{"work_status":"business"}'))
    assert "100万円" in verdict and "200万円" in verdict and "1年以内" in verdict
    other = sender()
    ask(stack, other, "移住支援金の対象になりますか")
    ask(stack, other, '/inform{"moved_from":"elsewhere"}')
    ask(stack, other, '/inform{"moved_when":"within_year"}')
    assert "対象外" in texts(ask(stack, other, '/inform{"work_status":"employed"}'))


def test_language_switch_is_kept_over_detection(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    menu = ask(stack, who, "言語を変えたい")
    assert '/change_language{"language":"en"}' in payloads(menu)
    assert "English" in texts(ask(stack, who, '/change_language{"language":"en"}'))
    # A Japanese greeting would be detected as Japanese; the choice made in the chat wins.
    assert "city hall" in texts(ask(stack, who, "こんにちは"))


def test_feedback_is_stored_against_the_answer(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    answer = ask(stack, who, "住民票はどこで取れますか")
    assert '/feedback{"rating":"down"}' in payloads(answer)
    entry = [m["custom"]["entry_id"] for m in answer if "custom" in m][0]
    reply = ask(stack, who, '/feedback{"rating":"down"}')
    assert "ありがとう" in texts(reply)
    store = stack.app.state.dialogue_store
    stored = [f for f in store.feedback() if f.conversation_id == who]
    assert stored and stored[-1].rating == "down" and stored[-1].entry_id == entry


def test_handover_ticket_holds_the_conversation_masked(stack) -> None:  # type: ignore[no-untyped-def]
    who = sender()
    ask(stack, who, "電話番号は090-1234-5678です。転入の手続きを知りたい")
    reply = texts(ask(stack, who, "職員さんにつないでください"))
    assert "0299-00-1000" in reply and "平日" in reply
    number = reply.split("受付番号は ")[1].split(" ")[0]
    ticket = DialogueStore(stack.settings.storage.data_dir / "dialogue.db").ticket(number)
    assert ticket is not None
    said = [t["text"] for t in ticket.transcript if t["role"] == "user"]
    assert any("[PHONE]" in t for t in said) and not any("090-1234" in t for t in said)
    # Rasa's own tracker store holds the masked text too.
    with sqlite3.connect(stack.log_dir / "tracker.db") as db:
        rows = [r[0] for r in db.execute("SELECT data FROM events WHERE sender_id = ?", (who,))]
    assert rows and not any("090-1234" in r for r in rows) and any("[PHONE]" in r for r in rows)


def test_emoji_only_message_asks_for_words(stack) -> None:  # type: ignore[no-untyped-def]
    assert "文字" in texts(ask(stack, sender(), "😀🎉😀"))


def test_gibberish_gets_an_honest_answer_not_a_form(stack) -> None:  # type: ignore[no-untyped-def]
    reply = ask(stack, sender(), "qwpoeiruty zxmcnv")
    assert texts(reply).strip()
    assert not any(p.startswith("/inform") for p in payloads(reply))


def test_close_faq_entries_are_offered_as_buttons(stack) -> None:  # type: ignore[no-untyped-def]
    reply = ask(stack, sender(), "子ども")
    kinds = [m["custom"]["kind"] for m in reply if "custom" in m]
    assert kinds == ["clarify"]
    assert len(reply[0]["buttons"]) >= 2 and all(not p.startswith("/") for p in payloads(reply))


def test_very_long_message_is_still_answered(stack) -> None:  # type: ignore[no-untyped-def]
    long = "保育園の申し込みについて詳しく教えてください。" * 80  # ~1,800 characters
    assert texts(ask(stack, sender(), long)).strip()

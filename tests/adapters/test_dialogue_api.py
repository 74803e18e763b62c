"""The gateway routes the dialogue uses: KB entries, garbage schedule, feedback, handover;
and the refusal of unsupported languages."""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

from adapters.gateway import create_app
from adapters.language_guard import unsupported_language
from adapters.schedule import parse_schedule
from tests.conftest import free_port


@pytest.fixture(scope="module")
def client(settings, retriever, tmp_path_factory):  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.storage.data_dir = tmp_path_factory.mktemp("dialogue")
    with TestClient(create_app(s, retriever=retriever)) as c:
        yield c


def test_schedule_is_parsed_from_the_kb_sentence() -> None:
    text = "燃やせるごみは、北区・東区が月曜と木曜、中央区が水曜と土曜です。資源物は北区・東区が金曜、中央区が木曜です。"
    table = parse_schedule(text)
    assert table["kita"] == {"burnable": [0, 3], "recyclables": [4]}
    assert table["chuo"]["burnable"] == [2, 5]
    assert parse_schedule("ごみは適当に出してください") == {}


def test_garbage_schedule_for_a_district(client: TestClient) -> None:
    reply = client.get("/api/garbage/schedule", params={"district": "minami", "lang": "en"}).json()
    assert reply["schedule"] == {"burnable": [1, 4], "plastic": [3], "recyclables": [0]}
    assert reply["source_url"].startswith("https://")
    assert client.get("/api/garbage/schedule", params={"district": "atlantis"}).status_code == 404


def test_kb_entry_is_rendered_like_an_answer(client: TestClient) -> None:
    reply = client.post("/api/kb/entry", json={"entry_id": "childcare.nursery-application", "lang": "en"}).json()
    assert "December 10" in reply["messages"][0]["text"]
    assert reply["answer"]["kind"] == "answer"
    missing = client.post("/api/kb/entry", json={"entry_id": "no.such-entry"})
    assert missing.status_code == 404 and "no.such-entry" in missing.json()["detail"]


def test_feedback_is_stored_with_the_comment_masked(client: TestClient) -> None:
    body = {"conversation_id": "c1", "entry_id": "garbage.collection-days", "rating": "down",
            "comment": "違う。090-1234-5678に電話して", "lang": "ja"}
    stored = client.post("/api/feedback", json=body).json()
    assert stored["rating"] == "down" and "[PHONE]" in stored["comment"]
    rows = client.app.state.dialogue_store.feedback("garbage.collection-days")
    assert rows[-1].conversation_id == "c1" and "090" not in rows[-1].comment
    assert client.post("/api/feedback", json={**body, "rating": "meh"}).status_code == 422


def test_handover_opens_a_ticket_holding_the_masked_conversation(client: TestClient) -> None:
    transcript = [{"role": "user", "text": "マイナンバーは123456789012です"},
                  {"role": "bot", "text": "担当者におつなぎします"}]
    reply = client.post("/api/handover", json={"conversation_id": "c2", "lang": "ja",
                                               "transcript": transcript}).json()
    assert reply["ticket"].startswith("H-") and reply["phone"] and reply["hours"]
    assert client.get(f"/api/handover/{reply['ticket']}").status_code == 401  # staff only
    client.app.state.clerk_store.add_user("staff", "staff-password-1", "clerk")
    assert client.post("/api/clerk/login", json={"name": "staff", "password": "staff-password-1"}).status_code == 200
    ticket = client.get(f"/api/handover/{reply['ticket']}").json()
    assert ticket["conversation_id"] == "c2"
    assert ticket["transcript"][0]["text"] == "マイナンバーは[MYNUMBER]です"
    assert client.get("/api/handover/H-0000-99999").status_code == 404


@pytest.mark.parametrize("text, code", [
    ("Wann wird der Müll in meinem Bezirk abgeholt?", "de"),
    ("Когда вывозят мусор?", "ru"),
    ("Quand est-ce que les poubelles sont ramassées?", "fr"),
    ("When is garbage collected in my district?", None),
    ("¿Cuándo recogen la basura en mi distrito?", None),
    ("Kailan kinokolekta ang basura sa distrito ko?", None),
    ("Khi nào thu gom rác ở quận tôi?", None),
    ("Danke", None),
    ("保育園の申し込みはいつまでですか", None),
])
def test_unsupported_languages_are_spotted(text: str, code: str | None) -> None:
    assert unsupported_language(text) == code


def test_unsupported_language_is_answered_in_english_and_japanese(client: TestClient) -> None:
    messages = client.post("/api/chat", json={"sender": "de", "message": "Wann wird der Müll abgeholt, bitte?"}).json()
    assert "English" in messages[0]["text"] and "日本語" in messages[0]["text"]
    assert "対応していません" in messages[0]["text"]
    assert messages[-1]["custom"]["detected"] == "de"

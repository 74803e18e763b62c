"""The LINE channel with Rasa up (a fake Rasa REST channel): postbacks reach Rasa as the
message payload, Rasa buttons come back as quick replies, the user's language goes along;
and the webhook answers 503 while no channel secret is configured."""

from __future__ import annotations

import time
import uuid

import pytest
from tests.adapters.line.fakes import FakeLine, event, line_settings, post_events
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.gateway import create_app


@pytest.fixture(scope="module")
def rasa_app(settings, retriever, fake_line, tmp_path_factory):  # type: ignore[no-untyped-def]
    s = line_settings(settings, fake_line, tmp_path_factory.mktemp("line-rasa"))
    s.rasa.url = fake_line.url
    s.rasa.action_url = fake_line.url
    app = create_app(s, retriever=retriever)
    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while not app.state.rasa.rasa.up and time.monotonic() < deadline:
            time.sleep(0.05)
        yield client


def test_postback_data_goes_to_rasa_and_buttons_become_quick_replies(
    rasa_app: TestClient, fake_line: FakeLine
) -> None:
    user = f"U{uuid.uuid4().hex}"
    fake_line.profiles[user] = "en"
    fake_line.rasa_reply = [
        {
            "recipient_id": user,
            "text": "Shall I connect you to a person?",
            "buttons": [
                {"title": "Yes, please", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        },
    ]
    assert (
        post_events(rasa_app, [event("postback", user=user, data="/ask_human")]).status_code == 200
    )
    (rasa,) = fake_line.of("rasa")
    assert rasa.json["sender"] == user and rasa.json["message"] == "/ask_human"
    assert rasa.json["metadata"]["lang"] == "en"
    (message,) = fake_line.of("reply")[0].json["messages"]
    assert message["text"] == "Shall I connect you to a person?"
    actions = [i["action"] for i in message["quickReply"]["items"]]
    assert actions[0] == {
        "type": "postback",
        "label": "Yes, please",
        "data": "/affirm",
        "displayText": "Yes, please",
    }


def test_language_postback_switches_language_without_rasa(
    rasa_app: TestClient, fake_line: FakeLine
) -> None:
    user = f"U{uuid.uuid4().hex}"
    post_events(rasa_app, [event("postback", user=user, data="madoguchi:lang=en")])
    assert not fake_line.of("rasa")
    assert fake_line.of("reply")[0].json["messages"][0]["text"].startswith("Thanks for adding us")
    fake_line.calls.clear()
    fake_line.rasa_reply = [{"text": "ok"}]
    post_events(rasa_app, [event("text", user=user, text="保育園")])
    assert fake_line.of("rasa")[0].json["metadata"]["lang"] == "en"


def test_unconfigured_channel_answers_503(settings, retriever, fake_line, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = line_settings(settings, fake_line, tmp_path)
    s.line.channel_secret = SecretStr("")
    with TestClient(create_app(s, retriever=retriever)) as client:
        response = client.post(
            "/line/webhook", content=b'{"events": []}', headers={"x-line-signature": "x"}
        )
    assert response.status_code == 503
    assert "LINE channel not configured" in response.json()["detail"]
    assert fake_line.line_calls() == []

"""The LINE webhook as LINE uses it: signed bodies in, answers out through the (fake) LINE API.

The gateway runs in degraded mode (Rasa down), so answers come from the real retriever over
the sample KB; every request the channel makes is checked against LINE's OpenAPI by the fake.
"""

from __future__ import annotations

import json
import uuid

from tests.adapters.line.fakes import SECRET, FakeLine, event, post_events
from fastapi.testclient import TestClient
from linebot.v3 import WebhookParser
from linebot.v3.webhook import SignatureValidator

from adapters.line.signature import sign, verify

NURSERY = "保育園の申し込みはいつまでですか"


def test_known_signature_vector_passes() -> None:
    # The vector of line-bot-sdk's own tests (and LINE's docs).
    expected = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    assert sign("channel_secret", b"bodybodybodybody") == expected
    assert verify("channel_secret", b"bodybodybodybody", expected)
    assert SignatureValidator("channel_secret").validate("bodybodybodybody", expected)
    assert not verify("channel_secret", b"bodybodybodybodx", expected)
    assert not verify("channel_secret", b"bodybodybodybody", None)
    assert not verify("", b"bodybodybodybody", expected)


def test_text_is_answered_with_text_bubble_and_quick_replies(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    ev = event("text", text=NURSERY)
    response = post_events(line_app, [ev])
    assert response.status_code == 200
    ops = [c.op for c in fake_line.calls]
    assert ops.index("loading") < ops.index("reply"), ops
    assert fake_line.of("loading")[0].json["chatId"] == ev["source"]["userId"]
    (reply,) = fake_line.of("reply")
    body = reply.json
    assert body["replyToken"] == ev["replyToken"]
    messages = body["messages"]
    assert 2 <= len(messages) <= 5
    assert messages[0]["type"] == "text" and "12月10日" in messages[0]["text"]
    flex = [m for m in messages if m["type"] == "flex"]
    assert flex, messages
    actions = json.dumps(flex[0]["contents"], ensure_ascii=False)
    assert "https://www.city.kasumino.example.jp/" in actions and '"uri": "tel:0299' in actions
    assert not fake_line.of("push")


def test_missing_or_forged_signature_is_400_and_nothing_is_processed(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    body = json.dumps({"events": [event("text", text=NURSERY)]}).encode()
    missing = line_app.post("/line/webhook", content=body)
    forged = line_app.post(
        "/line/webhook", content=body, headers={"x-line-signature": sign("not-the-secret", body)}
    )
    tampered = line_app.post(
        "/line/webhook", content=body + b" ", headers={"x-line-signature": sign(SECRET, body)}
    )
    assert [missing.status_code, forged.status_code, tampered.status_code] == [400, 400, 400]
    assert "missing" in missing.json()["detail"] and "wrong" in forged.json()["detail"]
    assert fake_line.calls == []


def test_redelivered_event_is_processed_once(line_app: TestClient, fake_line: FakeLine) -> None:
    ev = event("text", text=NURSERY)
    again = json.loads(json.dumps(ev)) | {"deliveryContext": {"isRedelivery": True}}
    assert post_events(line_app, [ev]).status_code == 200
    assert post_events(line_app, [again]).status_code == 200
    assert post_events(line_app, [ev, again]).status_code == 200
    assert len(fake_line.of("reply")) == 1 and not fake_line.of("push")


def test_failed_reply_falls_back_to_push_with_retry_key(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    fake_line.fail["reply"] = [400]  # "Invalid reply token"
    ev = event("text", text=NURSERY)
    post_events(line_app, [ev])
    (push,) = [c for c in fake_line.of("push")]
    assert push.json["to"] == ev["source"]["userId"]
    assert uuid.UUID(push.headers["x-line-retry-key"])
    assert "12月10日" in push.json["messages"][0]["text"]


def test_expired_reply_token_goes_straight_to_push(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    post_events(line_app, [event("text", text=NURSERY, age_s=120)])
    assert not fake_line.of("reply")
    assert len(fake_line.of("push")) == 1


def test_push_is_retried_on_5xx_with_the_same_key(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    fake_line.fail["reply"] = [500]
    fake_line.fail["push"] = [500, 503]
    post_events(line_app, [event("text", text=NURSERY)])
    pushes = fake_line.of("push")
    assert [p.status for p in pushes] == [500, 503, 200]
    assert len({p.headers["x-line-retry-key"] for p in pushes}) == 1


def test_line_api_timing_out_is_retried_then_kept_in_the_failure_log(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    fake_line.delay["reply"] = 2.0
    fake_line.delay["push"] = 2.0
    ev = event("text", text=NURSERY)
    assert post_events(line_app, [ev]).status_code == 200
    pushes = fake_line.of("push")
    assert len(pushes) == 3  # max_attempts in the test settings
    assert len({p.headers["x-line-retry-key"] for p in pushes}) == 1
    failures = line_app.app.state.line.failures.entries()
    kept = [f for f in failures if f.event_id == ev["webhookEventId"]]
    assert kept and "timed out" in kept[0].reason
    assert kept[0].event == ev and kept[0].messages and kept[0].target == ev["source"]["userId"]


def test_follow_greets_in_the_profile_language_with_starters(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    user = f"U{uuid.uuid4().hex}"
    fake_line.profiles[user] = "en"
    post_events(line_app, [event("follow", user=user)])
    assert fake_line.of("profile")[0].path == f"/v2/bot/profile/{user}"
    (message,) = fake_line.of("reply")[0].json["messages"]
    assert message["text"].startswith("Thanks for adding us")
    items = message["quickReply"]["items"]
    assert 3 <= len(items) <= 13
    assert items[-1]["action"]["type"] == "location"
    # Later questions from this user are answered in English without asking the profile again.
    fake_line.calls.clear()
    post_events(line_app, [event("text", user=user, text="保育園")])
    assert not fake_line.of("profile")


def test_follow_without_profile_language_greets_in_japanese(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    post_events(line_app, [event("follow")])
    (message,) = fake_line.of("reply")[0].json["messages"]
    assert message["text"].startswith("友だち追加ありがとうございます")


def test_location_gets_nearest_shelters_with_distance(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    post_events(line_app, [event("location", lat=36.3001, lon=140.1001)])
    messages = fake_line.of("reply")[0].json["messages"]
    text = messages[0]["text"]
    assert text.index("霞野中央小学校") < text.index("霞野北中学校")
    assert "10 m" in text and "km" in text
    pins = [m for m in messages if m["type"] == "location"]
    assert pins[0]["title"] == "霞野中央小学校"


def test_unknown_event_types_are_skipped_with_200(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    response = post_events(line_app, [event("somethingNew"), {"type": 42}, "not an object"])
    assert response.status_code == 200
    assert fake_line.calls == []


def test_sdk_fixture_events_are_processed_without_error(
    line_app: TestClient, fake_line: FakeLine
) -> None:
    from tests.adapters.line.line_openapi import spec_path

    raw = spec_path("webhook-events.json").read_text(encoding="utf-8")
    # The body as the SDK's tests send it (every event shares one id: processed once) …
    body = raw.encode()
    response = line_app.post(
        "/line/webhook", content=body, headers={"x-line-signature": sign(SECRET, body)}
    )
    assert response.status_code == 200
    # … and with distinct ids, so every event reaches its handler.
    payload = json.loads(raw)
    for i, ev in enumerate(payload["events"]):
        ev["webhookEventId"] = f"fixture-{uuid.uuid4().hex}-{i}"
    assert WebhookParser(SECRET).parse(
        json.dumps(payload), sign(SECRET, json.dumps(payload).encode())
    )
    before = len(line_app.app.state.line.failures.entries())
    post_events(line_app, payload["events"])
    assert len(line_app.app.state.line.failures.entries()) == before


def test_one_megabyte_body_is_413(line_app: TestClient, fake_line: FakeLine) -> None:
    body = json.dumps({"events": [event("text", text="あ" * 400_000)]}).encode()
    assert len(body) > 1_000_000
    response = line_app.post(
        "/line/webhook", content=body, headers={"x-line-signature": sign(SECRET, body)}
    )
    assert response.status_code == 413
    assert fake_line.calls == []


def test_script_tags_are_just_text(line_app: TestClient, fake_line: FakeLine) -> None:
    post_events(line_app, [event("text", text="<script>alert(1)</script> 保育園の申し込み")])
    assert fake_line.of("reply") and fake_line.of("reply")[0].status == 200


def test_group_chatter_is_not_answered(line_app: TestClient, fake_line: FakeLine) -> None:
    ev = event("text", text=NURSERY)
    ev["source"] = {"type": "group", "groupId": "Cgroup", "userId": "Uuser"}
    assert post_events(line_app, [ev]).status_code == 200
    assert fake_line.calls == []

"""Pure message builders: LINE's limits hold and the messages validate against the OpenAPI."""

from __future__ import annotations

from tests.adapters.line.fakes import FACILITIES
from tests.adapters.line.line_openapi import limit_errors, messaging_api

from adapters.chat import ChatReply
from adapters.line import messages as build
from retrieval.facilities import load_facilities


def _valid(messages: list) -> list[dict]:
    body = {"replyToken": "t", "messages": [m.to_dict() for m in messages]}
    errors = messaging_api().errors("ReplyMessageRequest", body) + limit_errors(body)
    assert not errors, errors
    return body["messages"]


def _faq(kind: str = "answer", suggestions: int = 3) -> ChatReply:
    buttons = [
        {"title": f"関連する質問その{i}はとても長い質問文です", "payload": f"質問{i}"}
        for i in range(suggestions)
    ]
    first = {
        "text": "回答です。\n詳しくは: https://example.jp/a\n問い合わせ: 市民課 0299-00-1100",
        "buttons": buttons,
    }
    custom = {
        "type": "faq_answer",
        "kind": kind,
        "answer": "回答です。",
        "source_url": "https://example.jp/a",
        "contact": {"department": "市民課", "phone": "0299-00-1100", "hours": "平日 8:30〜17:15"},
        "note": None,
    }
    return ChatReply(messages=[first, {"custom": custom}], lang="ja", degraded=True)


def test_faq_answer_is_text_then_contact_bubble_with_quick_replies() -> None:
    messages = _valid(build.from_chat_reply(_faq()))
    assert [m["type"] for m in messages] == ["text", "flex"]
    assert messages[0]["text"] == "回答です。"  # the link and phone moved into the bubble
    footer = messages[1]["contents"]["footer"]["contents"]
    assert [b["action"]["uri"] for b in footer] == ["https://example.jp/a", "tel:0299001100"]
    items = messages[-1]["quickReply"]["items"]
    assert len(items) == 3 and all(len(i["action"]["label"]) <= 20 for i in items)
    assert items[0]["action"]["text"] == "質問0"


def test_quick_replies_are_capped_at_13_and_rasa_intents_become_postbacks() -> None:
    buttons = [{"title": f"q{i}", "payload": f"q{i}"} for i in range(20)] + [
        {"title": "人と話す", "payload": "/ask_human"}
    ]
    reply = ChatReply(messages=[{"text": "どれ？", "buttons": buttons}], lang="ja", degraded=False)
    (message,) = _valid(build.from_chat_reply(reply))
    assert len(message["quickReply"]["items"]) == 13
    intent = build.choice_from_button({"title": "人と話す", "payload": "/ask_human"})
    assert intent == build.Choice(label="人と話す", data="/ask_human")


def test_never_more_than_five_messages() -> None:
    reply = ChatReply(messages=[{"text": f"part {i}"} for i in range(9)], lang="en", degraded=False)
    messages = _valid(build.from_chat_reply(reply))
    assert len(messages) == 5 and "part 8" in messages[-1]["text"]


def test_script_tags_stay_plain_text_and_empty_replies_say_sorry() -> None:
    reply = ChatReply(messages=[{"text": "<script>alert(1)</script>"}], lang="en", degraded=False)
    assert _valid(build.from_chat_reply(reply))[0]["text"] == "<script>alert(1)</script>"
    empty = _valid(build.from_chat_reply(ChatReply(messages=[], lang="en", degraded=False)))
    assert empty[0]["text"].startswith("Sorry")


def test_clip_counts_like_line() -> None:
    assert build.clip("短い", 20) == "短い"
    clipped = build.clip("あ" * 30, 20)
    assert len(clipped) == 20 and clipped.endswith("…")
    assert build._utf16_len(build.clip("😀" * 15, 20)) <= 20


def test_greeting_and_nearby_and_echo_validate() -> None:
    greeting = _valid(build.greeting("vi", ["Câu hỏi " + "x" * 40, "Hỏi 2"]))
    assert greeting[0]["quickReply"]["items"][-1]["action"]["type"] == "location"
    facilities = load_facilities(FACILITIES)
    shelters = facilities.nearest(36.30, 140.10, types=("shelter",), k=3)
    others = facilities.nearest(36.30, 140.10, types=("hospital", "city_office"), k=2)
    nearby = _valid(build.nearby("en", shelters, others))
    assert "Kasumino Chuo Elementary School — 0 m" in nearby[0]["text"]
    assert "Minami Community Center" in nearby[0]["text"]
    answer = build.from_chat_reply(_faq())
    echoed = _valid(build.with_echo(build.transcript_echo("保育園", "ja"), answer))
    assert echoed[0]["text"].startswith("🎤") and "quickReply" in echoed[-1]


def test_format_distance() -> None:
    assert build.format_distance(12) == "10 m"
    assert build.format_distance(1234) == "1.2 km"


def _replies() -> list[ChatReply]:
    """Rasa turns of every shape ``from_chat_reply`` meets."""
    from adapters.language_guard import unsupported_messages

    faq = _faq()
    bare = {"type": "faq_answer", "kind": "answer", "answer": "a", "contact": {}}
    no_link = {**faq.messages[1]["custom"], "source_url": "javascript:alert(1)",
               "note": "注意", "contact": {"department": "税務課", "phone": "", "hours": ""}}
    buttons = [{"title": "人と話す", "payload": "/ask_human"}, {"title": "x" * 40, "payload": ""},
               {"title": "", "payload": "no title"}, {"title": "人と話す", "payload": "/dup"}]
    many = [{"title": f"q{i}", "payload": f"q{i}"} for i in range(20)]
    return [
        faq, _faq(kind="low_confidence", suggestions=0), _faq(suggestions=15),
        ChatReply([{"text": "回答", "buttons": buttons}, {"custom": no_link}], "en", False),
        ChatReply([{"text": "t"}, {"custom": bare}], "ko", False),
        ChatReply([{"text": "どれ？", "buttons": many}], "ja", False),
        ChatReply([{"text": f"文{i}" * 900} for i in range(8)], "ja", False),
        ChatReply([{"image": "https://example.jp/i.png"}, {"text": "  "}], "en", False),
        ChatReply([], "vi", True),
        ChatReply(unsupported_messages("de"), "en", False),
    ]


def _same_model(a: object, b: object) -> None:
    """Same class, same fields in the same order with the same values, same set fields,
    all the way down."""
    assert type(a) is type(b)
    if hasattr(a, "__fields__"):
        assert list(a.__dict__) == list(b.__dict__)
        assert a.__fields_set__ == b.__fields_set__
        for name in a.__dict__:
            _same_model(a.__dict__[name], b.__dict__[name])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same_model(x, y)
    else:
        assert a == b


def test_lean_models_are_the_validated_ones() -> None:
    import json

    from linebot.v3.messaging import ReplyMessageRequest

    from adapters.line.client import message_request_body

    kinds = set()
    for reply in _replies():
        validated = build.from_chat_reply(reply)
        lean = build.from_chat_reply(reply, lean=True)
        _same_model(validated, lean)
        assert [m.to_dict() for m in lean] == _valid(validated)
        _valid(lean)
        for fast in (False, True):
            bodies = [json.dumps(message_request_body(
                ReplyMessageRequest(reply_token="t", messages=m), fast), ensure_ascii=False)
                for m in (validated, lean)]
            assert bodies[0] == bodies[1]
        kinds |= {type(m).__name__ for m in lean}
        kinds |= {type(i.action).__name__ for m in lean if m.quick_reply
                  for i in m.quick_reply.items}
    assert {"TextMessage", "FlexMessage", "MessageAction", "PostbackAction"} <= kinds


def test_lean_models_still_refuse_a_missing_required_field() -> None:
    import pytest
    from linebot.v3.messaging import TextMessage
    from pydantic.v1 import ValidationError

    with pytest.raises(ValidationError):
        build.make_model(TextMessage, True)
    assert build.make_model(TextMessage, True, text="a").to_dict() == TextMessage(text="a").to_dict()

"""``message_request_body`` (adapters/line/client.py) is the SDK's own ``to_dict()`` of a
reply or push request — same dict, same key order — for every kind of message sent."""

from __future__ import annotations

import json

from linebot.v3.messaging import PushMessageRequest, ReplyMessageRequest, TextMessage
from tests.adapters.line.test_line_messages import _faq

from adapters.chat import ChatReply
from adapters.language_guard import unsupported_messages
from adapters.line import messages as build
from adapters.line.client import message_request_body


def _batches() -> list[list]:
    buttons = [{"title": f"q{i}", "payload": f"q{i}"} for i in range(20)]
    return [
        build.from_chat_reply(_faq()),
        build.from_chat_reply(_faq(kind="low_confidence", suggestions=0)),
        build.from_chat_reply(ChatReply([{"text": "どれ？", "buttons": buttons}], "ja", False)),
        build.from_chat_reply(ChatReply(unsupported_messages("de"), "en", False)),
        build.greeting("en", ["How do I sort garbage?", "Where is the shelter?"]),
        build.plain("unsupported", "vi"),
        [TextMessage(text="a"), TextMessage(text="b")],
    ]


def test_bodies_are_the_sdks_own() -> None:
    batches = _batches()
    assert any(m.type == "flex" for b in batches for m in b)
    for messages in batches:
        for request in (ReplyMessageRequest(reply_token="tok", messages=messages),
                        ReplyMessageRequest(reply_token="tok", messages=messages,
                                            notification_disabled=True),
                        PushMessageRequest(to="U" + "0" * 32, messages=messages),
                        PushMessageRequest(to="U1", messages=messages,
                                           custom_aggregation_units=["a"])):
            ours, sdk = message_request_body(request), request.to_dict()
            assert ours == sdk
            assert json.dumps(ours, ensure_ascii=False) == json.dumps(sdk, ensure_ascii=False)

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


def _every_kind() -> list[list]:
    """Every builder's output: FAQ answers, quick replies (messages, postbacks, location),
    greetings in every language, fixed notices, facilities with map pins, voice echoes."""
    from tests.adapters.line.fakes import FACILITIES

    from retrieval.facilities import load_facilities

    facilities = load_facilities(FACILITIES)
    shelters = facilities.nearest(35.0, 139.0, types=("shelter",), k=3)
    others = facilities.nearest(35.0, 139.0, types=("hospital", "city_office"), k=2)
    langs = ["ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl"]
    buttons = [{"title": "人と話す", "payload": "/ask_human"}, {"title": "x" * 40, "payload": ""}]
    batches = [*_batches(),
               build.from_chat_reply(ChatReply([{"text": "a", "buttons": buttons}], "ja", False)),
               build.from_chat_reply(ChatReply([{"image": "https://example.jp/i.png"}], "en", False)),
               build.with_echo(build.transcript_echo("ごみ", "ja"), build.from_chat_reply(_faq())),
               build.nearby("en", shelters, others), build.nearby("ja", [], [])]
    batches += [build.greeting(lang, ["質問", "Question"]) for lang in langs]
    batches += [build.plain(key, lang) for key in ("unsupported", "slow_down", "not_heard",
                                                   "no_facilities", "sorry") for lang in langs]
    return batches


def test_lean_bodies_are_the_sdks_own_json() -> None:
    from linebot.v3.messaging import ShowLoadingAnimationRequest, StickerMessage

    from adapters.line.client import _PLAIN_MODELS, model_dict

    batches = _every_kind()
    kinds = {type(m).__name__ for b in batches for m in b}
    assert {"TextMessage", "FlexMessage", "LocationMessage"} <= kinds
    assert len(_PLAIN_MODELS) == 16  # every listed model passed the check
    for messages in batches:
        for request in (ReplyMessageRequest(reply_token="tok", messages=messages),
                        ReplyMessageRequest(reply_token="tok", messages=messages,
                                            notification_disabled=False),
                        PushMessageRequest(to="U" + "0" * 32, messages=messages),
                        PushMessageRequest(to="U1", messages=messages,
                                           custom_aggregation_units=["a"])):
            ours, sdk = message_request_body(request, lean=True), request.to_dict()
            assert json.dumps(ours, ensure_ascii=False) == json.dumps(sdk, ensure_ascii=False)
        for message in messages:
            assert json.dumps(model_dict(message)) == json.dumps(message.to_dict())
    loading = ShowLoadingAnimationRequest(chat_id="U" + "1" * 32, loading_seconds=20)
    assert json.dumps(model_dict(loading)) == json.dumps(loading.to_dict())
    # A model the walk was not written for keeps its own to_dict().
    sticker = StickerMessage(package_id="1", sticker_id="2")
    assert type(sticker) not in _PLAIN_MODELS
    assert model_dict(sticker) == sticker.to_dict()


def test_lean_request_models_give_the_same_bodies() -> None:
    """``LineClient._model`` with ``line.lean_message_models``: the same request models (and
    so the same bodies, either conversion) as validated ones; refused input still refused."""
    import pytest
    from pydantic import SecretStr
    from pydantic.v1 import ValidationError

    from adapters.line.client import LineClient
    from adapters.settings import LineSettings
    from tests.adapters.line.test_line_messages import _same_model

    def client(lean: bool) -> LineClient:
        return LineClient(LineSettings(channel_access_token=SecretStr("t"),
                                       lean_message_models=lean), http=None)  # type: ignore[arg-type]
    validated, lean = client(False), client(True)
    from linebot.v3.messaging import ShowLoadingAnimationRequest

    for messages in _every_kind():
        for cls, fields in ((ReplyMessageRequest, {"reply_token": "tok"}),
                            (PushMessageRequest, {"to": "U" + "0" * 32})):
            a = validated._model(cls, messages=list(messages), **fields)
            b = lean._model(cls, messages=list(messages), **fields)
            _same_model(a, b)
            for fast in (False, True):
                assert (json.dumps(message_request_body(a, fast), ensure_ascii=False)
                        == json.dumps(message_request_body(b, fast), ensure_ascii=False))
    a = validated._model(ShowLoadingAnimationRequest, chat_id="U1", loading_seconds=20)
    b = lean._model(ShowLoadingAnimationRequest, chat_id="U1", loading_seconds=20)
    _same_model(a, b)
    assert a.to_dict() == b.to_dict()
    for bad in ([], [TextMessage(text=str(i)) for i in range(6)], ["not a message"]):
        with pytest.raises(ValidationError):
            lean._model(ReplyMessageRequest, reply_token="tok", messages=bad)
    with pytest.raises(ValidationError):
        lean._model(ReplyMessageRequest, reply_token=None, messages=[TextMessage(text="a")])

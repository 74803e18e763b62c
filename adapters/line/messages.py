"""Pure builders: a ``ChatReply`` (Rasa REST shape) and other results in, LINE messages out.

Everything here is a pure function returning line-bot-sdk message models, so the tests call
them directly and validate their ``to_dict()`` against LINE's OpenAPI. LINE's limits are
enforced here, where the messages are made: at most 5 messages per reply, at most 13 quick
reply items, labels of at most 20 characters, texts of at most 5000, URIs only http(s)/tel.

LINE shows text as text (no HTML), so ``<script>`` in an answer is harmless and left as is.

Shape of an answer on LINE: the answer text first, then a Flex bubble with the department,
its hours, a link to the source page (uri action) and a call button (``tel:`` uri action),
with the related questions and Rasa buttons as quick replies on the last message (LINE only
shows quick replies attached to the last message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexText,
    LocationAction,
    LocationMessage,
    Message,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from adapters.chat import ChatReply
from retrieval import KnowledgeBase, NearbyFacility

_M = TypeVar("_M")


def make_model(cls: type[_M], lean: bool, **fields: Any) -> _M:
    """``cls(**fields)``; with ``lean``, the same model without pydantic's validation.

    The SDK's models are pydantic v1: validating one walks every field (strict types, enum
    checks, nested models copied), and an FAQ answer's text, Flex bubble and quick replies
    are ~20 models: ~0.3 ms CPU a reply, checking values made right here (strings, the enum
    constants below). Lean, the model gets what validation would have given it: every
    field in the class's order, the given values and the defaults of the others (as
    pydantic's ``construct``, without its per-field default lookup: the class's defaults
    are read once), and the given names as its set fields. The model, its ``to_dict()``
    and the request body are the same (``tests/adapters/line/test_line_messages.py``
    compares both on every builder's output). A class whose defaults are not plain values,
    or a call naming something that is not a field, goes through ``cls.construct``; a
    required field missing is left to validation (which raises, as before).
    """
    if not lean:
        return cls(**fields)
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(cls)
    template, required = plan
    if template is None or not fields.keys() <= template.keys():
        return cls.construct(**fields)  # type: ignore[attr-defined]
    if not required <= fields.keys():
        return cls(**fields)
    values = template.copy()
    values.update(fields)
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__fields_set__", set(fields))
    return model


_PLANS: dict[type, tuple[dict[str, Any] | None, frozenset[str]]] = {}


def _plan(cls: type) -> tuple[dict[str, Any] | None, frozenset[str]]:
    """Every field of ``cls`` in order with its default (None for a required one), and the
    required names; no template when a default is not an immutable plain value (pydantic
    copies those for each model) or the class has private attributes or a custom root."""
    template: dict[str, Any] = {}
    required = set()
    for name, field in cls.__fields__.items():  # type: ignore[attr-defined]
        if field.required:
            template[name] = None
            required.add(name)
        elif field.default_factory is None and (
                field.default is None or type(field.default) in (str, int, float, bool)):
            template[name] = field.default
        else:
            return None, frozenset()
    if getattr(cls, "__private_attributes__", None) or getattr(cls, "__custom_root_type__", False):
        return None, frozenset()
    return template, frozenset(required)

MAX_MESSAGES = 5
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_TEXT = 5000
MAX_ACTION_TEXT = 300
MAX_ALT_TEXT = 400
MAX_URI = 1000
# Postback data the channel answers itself instead of sending to Rasa (rich menu, greeting).
LANG_POSTBACK = "madoguchi:lang="

_T: dict[str, dict[str, str]] = {
    "greeting": {
        "ja": "友だち追加ありがとうございます。市のAI窓口です。子育て、引っ越し、手続き、"
        "ごみ、防災、観光について、いつでも質問してください。",
        "ja-easy": "ともだち ついか ありがとう ございます。しやくしょ の AI まどぐち です。"
        "しつもん を どうぞ。",
        "en": "Thanks for adding us! This is the city's AI service counter. Ask about "
        "childcare, moving in, procedures, garbage, disasters or sightseeing at any time.",
        "zh-Hans": "感谢添加好友！这里是市政府的AI服务窗口。"
        "育儿、迁入、手续、垃圾、防灾、观光等问题，随时可以提问。",
        "zh-Hant": "感謝加入好友！這裡是市政府的AI服務窗口。"
        "育兒、遷入、手續、垃圾、防災、觀光等問題，隨時可以提問。",
        "ko": "친구 추가 감사합니다! 시청 AI 상담 창구입니다. "
        "육아, 전입, 절차, 쓰레기, 방재, 관광에 대해 언제든지 질문하세요.",
        "vi": "Cảm ơn bạn đã kết bạn! Đây là quầy tư vấn AI của thành phố. Hãy hỏi về "
        "nuôi con, chuyển đến, thủ tục, rác, phòng chống thiên tai hoặc du lịch.",
        "pt": "Obrigado por nos adicionar! Este é o balcão de atendimento com IA da cidade. "
        "Pergunte sobre filhos, mudança, trâmites, lixo, desastres ou turismo.",
        "es": "¡Gracias por agregarnos! Este es el mostrador de atención con IA de la ciudad. "
        "Pregunte sobre crianza, mudanza, trámites, basura, desastres o turismo.",
        "th": "ขอบคุณที่เพิ่มเพื่อน! นี่คือเคาน์เตอร์บริการ AI ของเมือง "
        "ถามเรื่องการเลี้ยงดูบุตร การย้ายเข้า ขั้นตอน ขยะ ภัยพิบัติ หรือการท่องเที่ยวได้เลย",
        "tl": "Salamat sa pag-add! Ito ang AI service counter ng lungsod. Magtanong tungkol "
        "sa pag-aalaga ng bata, paglipat, proseso, basura, sakuna o turismo.",
    },
    "details": {
        "ja": "詳しく見る",
        "ja-easy": "くわしく みる",
        "en": "Details",
        "zh-Hans": "查看详情",
        "zh-Hant": "查看詳情",
        "ko": "자세히 보기",
        "vi": "Xem chi tiết",
        "pt": "Detalhes",
        "es": "Detalles",
        "th": "ดูรายละเอียด",
        "tl": "Detalye",
    },
    "call": {
        "ja": "電話する",
        "ja-easy": "でんわ する",
        "en": "Call",
        "zh-Hans": "打电话",
        "zh-Hant": "打電話",
        "ko": "전화하기",
        "vi": "Gọi điện",
        "pt": "Ligar",
        "es": "Llamar",
        "th": "โทร",
        "tl": "Tumawag",
    },
    "nearby": {
        "ja": "近くの避難所・施設",
        "ja-easy": "ちかくの ひなんじょ",
        "en": "Shelters and facilities near you",
        "zh-Hans": "附近的避难所和设施",
        "zh-Hant": "附近的避難所和設施",
        "ko": "가까운 대피소・시설",
        "vi": "Nơi sơ tán và cơ sở gần bạn",
        "pt": "Abrigos e instalações próximos",
        "es": "Refugios e instalaciones cercanos",
        "th": "ที่หลบภัยและสถานที่ใกล้คุณ",
        "tl": "Mga evacuation center at pasilidad na malapit sa iyo",
    },
    "nearest_shelter": {
        "ja": "📍 近くの避難所",
        "ja-easy": "📍 ちかくの ひなんじょ",
        "en": "📍 Nearest shelter",
        "zh-Hans": "📍 附近避难所",
        "zh-Hant": "📍 附近避難所",
        "ko": "📍 가까운 대피소",
        "vi": "📍 Nơi sơ tán gần",
        "pt": "📍 Abrigo próximo",
        "es": "📍 Refugio cercano",
        "th": "📍 ที่หลบภัยใกล้ๆ",
        "tl": "📍 Malapit na shelter",
    },
    "no_facilities": {
        "ja": "施設の情報がまだ登録されていません。",
        "en": "No facility information is available yet.",
    },
    "heard": {"ja": "🎤 聞き取った内容", "ja-easy": "🎤 ききとった ことば", "en": "🎤 I heard"},
    "not_heard": {
        "ja": "音声を聞き取れませんでした。もう一度、または文字で送ってください。",
        "ja-easy": "こえ が ききとれません でした。もういちど、または もじ で おくって ください。",
        "en": "Sorry, I could not make out the voice message. "
        "Please try again or type your question.",
    },
    "unsupported": {
        "ja": "文字、音声、位置情報で質問してください。",
        "ja-easy": "もじ、こえ、いち じょうほう で しつもん して ください。",
        "en": "Please ask by text, voice message or location.",
    },
    "slow_down": {
        "ja": "短い時間にたくさんのメッセージを受け取りました。少し待ってから、もう一度送ってください。",
        "ja-easy": "メッセージ が おおすぎ ます。すこし まって から、もういちど おくって ください。",
        "en": "We received many messages in a short time. Please wait a little, then send "
        "your question again.",
        "zh-Hans": "短时间内收到了很多消息。请稍等片刻后再发送。",
        "zh-Hant": "短時間內收到了很多訊息。請稍等片刻後再傳送。",
        "ko": "짧은 시간에 많은 메시지를 받았습니다. 잠시 기다린 후 다시 보내 주세요.",
        "vi": "Chúng tôi nhận được nhiều tin nhắn trong thời gian ngắn. Vui lòng đợi một chút "
        "rồi gửi lại.",
        "pt": "Recebemos muitas mensagens em pouco tempo. Aguarde um pouco e envie de novo.",
        "es": "Recibimos muchos mensajes en poco tiempo. Espere un momento y envíe de nuevo.",
    },
    "sorry": {
        "ja": "ただいま回答できません。時間をおいてもう一度お試しください。",
        "en": "Sorry, I cannot answer right now. Please try again later.",
    },
}
_TYPE_ICON = {
    "shelter": "🏫",
    "hospital": "🏥",
    "tourist_info": "ℹ️",
    "city_office": "🏛️",
    "wifi_spot": "📶",
}


def text_for(key: str, lang: str) -> str:
    """A fixed UI string in ``lang`` (English, then Japanese, when missing)."""
    table = _T[key]
    if lang == "ja-easy" and "ja-easy" not in table:
        return table["ja"]
    return table.get(lang) or table.get("en") or table["ja"]


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters as LINE counts them (UTF-16 units), with …."""
    text = " ".join(text.split()) if limit <= MAX_LABEL else text
    if _utf16_len(text) <= limit:
        return text
    out = ""
    for ch in text:
        if _utf16_len(out + ch) > limit - 1:
            break
        out += ch
    return out + "…"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Choice:
    """A tappable option: shown as ``label``; sends ``text`` as a message, or ``data`` as a
    postback (Rasa intents like ``/ask_human`` are postbacks, so the chat does not show them)."""

    label: str
    text: str | None = None
    data: str | None = None


def quick_reply(choices: Iterable[Choice], location_label: str | None = None,
                lean: bool = False) -> QuickReply | None:
    """At most 13 quick reply items (duplicates dropped), optionally with a location button
    (``lean``: models built without validation, see ``make_model``)."""
    items: list[QuickReplyItem] = []
    seen: set[str] = set()
    limit = MAX_QUICK_REPLIES - (1 if location_label else 0)
    for choice in choices:
        label = clip(choice.label, MAX_LABEL)
        if not label or label in seen:
            continue
        seen.add(label)
        if choice.data is not None:
            action: Any = make_model(
                PostbackAction, lean,
                label=label,
                data=choice.data[:MAX_ACTION_TEXT],
                display_text=clip(choice.label, MAX_ACTION_TEXT),
            )
        else:
            action = make_model(
                MessageAction, lean,
                label=label, text=clip(choice.text or choice.label, MAX_ACTION_TEXT)
            )
        items.append(make_model(QuickReplyItem, lean, action=action))
        if len(items) == limit:
            break
    if location_label:
        location = make_model(LocationAction, lean, label=clip(location_label, MAX_LABEL))
        items.append(make_model(QuickReplyItem, lean, action=location))
    return make_model(QuickReply, lean, items=items) if items else None


def choice_from_button(button: dict[str, Any]) -> Choice | None:
    """A Rasa button (``{"title", "payload"}``) as a quick reply choice."""
    title = str(button.get("title") or "").strip()
    payload = str(button.get("payload") or title).strip()
    if not title:
        return None
    if payload.startswith("/"):
        return Choice(label=title, data=payload)
    return Choice(label=title, text=payload)


def from_chat_reply(reply: ChatReply, lang: str | None = None,
                    lean: bool = False) -> list[Message]:
    """The LINE messages for one bot turn: texts, a contact bubble, quick replies; at most 5
    (``lean``: the same models built without pydantic's validation, see ``make_model``)."""
    lang = lang or reply.lang
    messages = reply.messages
    texts: list[str] = []
    extras: list[Message] = []
    choices: list[Choice] = []
    for index, message in enumerate(messages):
        custom = message.get("custom")
        if isinstance(custom, dict):
            if custom.get("type") == "faq_answer":
                bubble = contact_bubble(custom, lang, lean)
                if bubble is not None:
                    extras.append(bubble)
            continue
        for button in message.get("buttons") or []:
            choice = choice_from_button(button) if isinstance(button, dict) else None
            if choice:
                choices.append(choice)
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            follower = messages[index + 1] if index + 1 < len(messages) else {}
            texts.append(_plain_answer(text, follower.get("custom")))
        elif isinstance(message.get("image"), str):
            texts.append(str(message["image"]))
    if not texts and not extras:
        texts.append(text_for("sorry", lang))
    return finish(
        [make_model(TextMessage, lean, text=t) for t in _fit_texts(texts, MAX_MESSAGES - len(extras))]
        + extras,
        quick_reply(choices, lean=lean),
        lean,
    )


def _plain_answer(text: str, custom: Any) -> str:
    """For an FAQ answer, the bare answer (its link and phone go in the bubble instead)."""
    if (
        isinstance(custom, dict)
        and custom.get("type") == "faq_answer"
        and custom.get("kind") == "answer"
    ):
        answer = str(custom.get("answer") or "").strip()
        if answer:
            note = custom.get("note")
            return f"{answer}\n({note})" if note else answer
    return text


def _fit_texts(texts: list[str], budget: int) -> list[str]:
    texts = [clip(t, MAX_TEXT) for t in texts]
    budget = max(1, budget)
    if len(texts) > budget:
        texts = texts[: budget - 1] + [clip("\n\n".join(texts[budget - 1 :]), MAX_TEXT)]
    return texts


def finish(messages: Sequence[Message], quick: QuickReply | None = None,
           lean: bool = False) -> list[Message]:
    """At most 5 messages, the quick replies on the last one (``lean``: set without the
    assignment's validation, which would store a shallow copy of the same ``quick``)."""
    out = list(messages)[:MAX_MESSAGES]
    if quick is not None and out:
        if lean:
            out[-1].__dict__["quick_reply"] = quick
            out[-1].__fields_set__.add("quick_reply")
        else:
            out[-1].quick_reply = quick
    return out


def contact_bubble(custom: dict[str, Any], lang: str, lean: bool = False) -> FlexMessage | None:
    """A Flex bubble with the department, its hours, the source page and a call button."""
    contact = custom.get("contact") if isinstance(custom.get("contact"), dict) else {}
    department = str(contact.get("department") or "").strip()
    phone = str(contact.get("phone") or "").strip()
    hours = str(contact.get("hours") or "").strip()
    source = custom.get("source_url") if custom.get("kind") == "answer" else None
    buttons: list[Any] = []
    if isinstance(source, str) and _is_web_uri(source):
        buttons.append(_uri_button(text_for("details", lang), source, "primary", lean))
    tel = tel_uri(phone)
    if tel:
        buttons.append(_uri_button(f"{text_for('call', lang)} {phone}", tel, "secondary", lean))
    if not buttons:
        return None
    body: list[Any] = [make_model(FlexText, lean, text=department or phone, weight="bold",
                             size="md", wrap=True)]
    if phone:
        body.append(make_model(FlexText, lean, text=f"☎ {phone}", size="sm", color="#555555",
                          wrap=True))
    if hours:
        body.append(make_model(FlexText, lean, text=hours, size="xs", color="#888888", wrap=True))
    bubble = make_model(
        FlexBubble, lean,
        body=make_model(FlexBox, lean, layout="vertical", spacing="sm", contents=body),
        footer=make_model(FlexBox, lean, layout="vertical", spacing="sm", contents=buttons),
    )
    alt = " ".join(p for p in (department, phone, source if isinstance(source, str) else "") if p)
    return make_model(
        FlexMessage, lean,
        alt_text=clip(alt or text_for("details", lang), MAX_ALT_TEXT), contents=bubble
    )


def _uri_button(label: str, uri: str, style: str, lean: bool = False) -> FlexButton:
    action = make_model(URIAction, lean, label=clip(label, MAX_LABEL), uri=uri)
    return make_model(FlexButton, lean, action=action, style=style, height="sm")


def _is_web_uri(uri: str) -> bool:
    parsed = urlparse(uri)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and len(uri) <= MAX_URI


def tel_uri(phone: str) -> str | None:
    """``tel:`` URI for a Japanese phone number as written in the KB (``0299-00-1234``)."""
    digits = re.sub(r"[^\d+]", "", phone)
    return f"tel:{digits}" if len(digits) >= 3 else None


def starter_questions(kb: KnowledgeBase, lang: str, limit: int = 6) -> list[str]:
    """One question per category (in KB order) in ``lang``, for the greeting's quick replies."""
    seen: set[str] = set()
    out: list[str] = []
    for entry in kb.entries:
        if entry.category in seen or entry.category == "general":
            continue
        questions = (
            entry.questions.get(lang) or entry.questions.get("en") or entry.questions.get("ja")
        )
        if questions:
            seen.add(entry.category)
            out.append(questions[0])
        if len(out) == limit:
            break
    return out


def greeting(lang: str, starters: Sequence[str]) -> list[Message]:
    """The follow greeting with starter questions and a nearest-shelter button."""
    choices = [Choice(label=q, text=q) for q in starters]
    message = TextMessage(text=text_for("greeting", lang))
    return finish([message], quick_reply(choices, location_label=text_for("nearest_shelter", lang)))


def format_distance(metres: float) -> str:
    """``450 m`` below a kilometre, ``1.2 km`` above."""
    return f"{round(metres / 10) * 10:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def nearby(
    lang: str, shelters: Sequence[NearbyFacility], others: Sequence[NearbyFacility]
) -> list[Message]:
    """Nearest shelters and other facilities with distances, plus map pins for the nearest."""
    if not shelters and not others:
        return [TextMessage(text=text_for("no_facilities", lang))]
    lines = [text_for("nearby", lang)]
    for item in [*shelters, *others]:
        f = item.facility
        phone = f"  ☎ {f.phone}" if f.phone else ""
        lines.append(
            f"{_TYPE_ICON.get(f.type, '•')} {f.name_in(lang)} — "
            f"{format_distance(item.distance_m)}\n"
            f"   {f.address_in(lang)}{phone}"
        )
    pins = [
        LocationMessage(
            title=clip(n.facility.name_in(lang), 100),
            address=clip(n.facility.address_in(lang) or n.facility.name_in(lang), 100),
            latitude=n.facility.lat,
            longitude=n.facility.lon,
        )
        for n in [*shelters[:1], *others[:1]]
    ]
    return finish([TextMessage(text=clip("\n".join(lines), MAX_TEXT)), *pins])


def transcript_echo(transcript: str, lang: str) -> TextMessage:
    """What Whisper heard, echoed back before the answer so the user can check it."""
    return TextMessage(text=clip(f"{text_for('heard', lang)}:「{transcript}」", MAX_TEXT))


def with_echo(echo: Message, answer: Sequence[Message]) -> list[Message]:
    """The echo first, then as much of the answer as fits in 5 messages (quick replies kept)."""
    answer = list(answer)
    if len(answer) >= MAX_MESSAGES:
        quick = answer[-1].quick_reply
        answer = answer[: MAX_MESSAGES - 1]
        answer[-1].quick_reply = quick
    return [echo, *answer]


def plain(key: str, lang: str) -> list[Message]:
    """A single fixed text (``not_heard``, ``unsupported``…) in ``lang``."""
    return [TextMessage(text=text_for(key, lang))]

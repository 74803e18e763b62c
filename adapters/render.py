"""Turning a retrieval ``Answer`` into messages in Rasa's REST shape.

Used both by the gateway's degraded mode and (through ``/api/faq/answer``) by the Rasa
action server, so a resident sees the same answer whichever path produced it. Text stays
plain here; each channel escapes for its own medium.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from retrieval import Answer

_SOURCE = {
    "ja": "詳しくは", "ja-easy": "くわしくは", "en": "Details", "zh-Hans": "详情",
    "zh-Hant": "詳情", "ko": "자세히", "vi": "Chi tiết", "pt": "Detalhes", "es": "Detalles",
    "th": "รายละเอียด", "tl": "Detalye",
}
_CONTACT = {
    "ja": "問い合わせ", "ja-easy": "といあわせ", "en": "Contact", "zh-Hans": "咨询",
    "zh-Hant": "諮詢", "ko": "문의", "vi": "Liên hệ", "pt": "Contato", "es": "Contacto",
    "th": "ติดต่อ", "tl": "Makipag-ugnayan",
}
_CLARIFY = {
    "ja": "次のどれについてのご質問ですか？", "ja-easy": "どれに ついての しつもん ですか？",
    "en": "Which of these do you mean?", "zh-Hans": "您想问的是以下哪一项？",
    "zh-Hant": "您想問的是以下哪一項？", "ko": "다음 중 어느 것에 대한 질문인가요?",
    "vi": "Bạn muốn hỏi về mục nào dưới đây?", "pt": "Qual destas você quer dizer?",
    "es": "¿Cuál de estas quiere decir?", "th": "คุณหมายถึงข้อใดต่อไปนี้",
    "tl": "Alin dito ang ibig mong sabihin?",
}


def _label(table: dict[str, str], lang: str) -> str:
    return table.get(lang, table["en"])


def answer_messages(answer: Answer, degraded: bool = False) -> list[dict[str, Any]]:
    """The REST-shaped messages for one answer: text (+ buttons), then a custom payload."""
    lang = answer.lang
    if answer.kind == "clarify":
        contact = answer.contact
        text = f"{_label(_CLARIFY, lang)}\n({_label(_CONTACT, lang)}: {contact.department} {contact.phone})"
    else:
        lines = [answer.text]
        if answer.note:
            lines.append(f"({answer.note})")
        if answer.kind == "answer" and answer.source_url:
            lines.append(f"{_label(_SOURCE, lang)}: {answer.source_url}")
            contact = answer.contact
            lines.append(f"{_label(_CONTACT, lang)}: {contact.department} {contact.phone}")
        text = "\n".join(lines)
    first: dict[str, Any] = {"text": text}
    if answer.suggestions:
        first["buttons"] = [
            {"title": s.question, "payload": s.question} for s in answer.suggestions
        ]
    custom = {
        "type": "faq_answer",
        "kind": answer.kind,
        "entry_id": answer.entry_id,
        "answer": answer.text,
        "source_url": answer.source_url,
        "contact": plain_dict(answer.contact),
        "confidence": round(answer.confidence, 4),
        "lang": answer.lang,
        "answer_lang": answer.answer_lang,
        "note": answer.note,
        "degraded": degraded,
    }
    return [first, {"custom": custom}]


# Types ``copy.deepcopy`` returns as they are (what ``asdict`` does with a leaf of them).
_ATOMIC = frozenset({type(None), bool, int, float, complex, str, bytes})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain_dict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict(obj)``, the same dict, without its cost on Python 3.11.

    3.11's ``asdict`` looks up ``fields()`` anew for every dataclass met and passes every
    leaf (each str, float, None) through ``copy.deepcopy``, which returns those unchanged:
    21-24 µs CPU on the event loop for an FAQ answer with its contact and three
    suggestions (``/api/faq/answer``), 6-9 µs this way. Here a class's field names are read once and leaves of the
    types deepcopy keeps as they are are kept directly (as Python 3.12's ``asdict`` does);
    anything else takes ``asdict``'s own way (lists, tuples, named tuples, dicts rebuilt,
    other values deep-copied). ``tests/adapters/test_render.py`` compares both.
    """
    if not hasattr(type(obj), "__dataclass_fields__") or isinstance(obj, type):
        raise TypeError("asdict() should be called on dataclass instances")
    return _plain(obj)


def _plain(obj: Any) -> Any:
    cls = type(obj)
    if cls in _ATOMIC:
        return obj
    names = _FIELD_NAMES.get(cls)
    if names is None and hasattr(cls, "__dataclass_fields__"):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: _plain(getattr(obj, name)) for name in names}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return cls(*[_plain(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return cls(_plain(v) for v in obj)
    if isinstance(obj, dict):
        return cls((_plain(k), _plain(v)) for k, v in obj.items())
    return copy.deepcopy(obj)

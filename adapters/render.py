"""Turning a retrieval ``Answer`` into messages in Rasa's REST shape.

Used both by the gateway's degraded mode and (through ``/api/faq/answer``) by the Rasa
action server, so a resident sees the same answer whichever path produced it. Text stays
plain here; each channel escapes for its own medium.
"""

from __future__ import annotations

from dataclasses import asdict
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
        "contact": asdict(answer.contact),
        "confidence": round(answer.confidence, 4),
        "lang": answer.lang,
        "answer_lang": answer.answer_lang,
        "note": answer.note,
        "degraded": degraded,
    }
    return [first, {"custom": custom}]

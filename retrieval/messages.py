"""Fixed sentences the retriever says itself, in every supported language.

Kept apart from the KB because a city replaces its KB but not these; the channels render
them as plain text (escaping is theirs).
"""

from __future__ import annotations

from retrieval.kb import LANGUAGE_NAMES
from retrieval.types import Contact

_UNKNOWN = {
    "ja": "申し訳ありません。そのご質問にお答えできる情報が見つかりませんでした。"
          "{department}（電話 {phone}、{hours}）にお問い合わせください。",
    "ja-easy": "ごめんなさい。こたえが みつかりませんでした。"
               "{department}に でんわ してください。でんわ {phone}（{hours}）",
    "en": "Sorry, I could not find an answer to that question. "
          "Please contact {department} (phone {phone}, {hours}).",
    "zh-Hans": "抱歉，没有找到可以回答该问题的信息。请联系{department}（电话 {phone}，{hours}）。",
    "zh-Hant": "抱歉，沒有找到可以回答該問題的資訊。請聯絡{department}（電話 {phone}，{hours}）。",
    "ko": "죄송합니다. 해당 질문에 대한 답변을 찾지 못했습니다. "
          "{department}(전화 {phone}, {hours})에 문의해 주세요.",
    "vi": "Xin lỗi, tôi không tìm thấy câu trả lời cho câu hỏi này. "
          "Vui lòng liên hệ {department} (điện thoại {phone}, {hours}).",
    "pt": "Desculpe, não encontrei uma resposta para essa pergunta. "
          "Entre em contato com {department} (telefone {phone}, {hours}).",
    "es": "Lo siento, no encontré una respuesta a esa pregunta. "
          "Comuníquese con {department} (teléfono {phone}, {hours}).",
    "th": "ขออภัย ไม่พบคำตอบสำหรับคำถามนี้ กรุณาติดต่อ {department} (โทร {phone}, {hours})",
    "tl": "Paumanhin, wala akong nahanap na sagot sa tanong na iyan. "
          "Mangyaring makipag-ugnayan sa {department} (telepono {phone}, {hours}).",
}

_NOTE = {
    "ja": "この回答は{lang}でのみ用意されています。",
    "ja-easy": "この こたえは {lang}だけ です。",
    "en": "This answer is only available in {lang}.",
    "zh-Hans": "此回答仅提供{lang}版本。",
    "zh-Hant": "此回答僅提供{lang}版本。",
    "ko": "이 답변은 {lang}로만 제공됩니다.",
    "vi": "Câu trả lời này chỉ có bằng {lang}.",
    "pt": "Esta resposta está disponível apenas em {lang}.",
    "es": "Esta respuesta solo está disponible en {lang}.",
    "th": "คำตอบนี้มีเฉพาะภาษา {lang}",
    "tl": "Ang sagot na ito ay makukuha lamang sa {lang}.",
}


def unknown_text(lang: str, contact: Contact) -> str:
    """"I don't know, here is who to call", in ``lang``."""
    template = _UNKNOWN.get(lang, _UNKNOWN["en"])
    return template.format(department=contact.department, phone=contact.phone, hours=contact.hours)


def fallback_note(lang: str, answer_lang: str) -> str:
    """The visible note that an answer is in another language than the one asked in."""
    template = _NOTE.get(lang, _NOTE["en"])
    return template.format(lang=LANGUAGE_NAMES.get(answer_lang, answer_lang))

"""Masking personal data in residents' messages before they are logged or stored.

Residents type phone numbers, My Number (個人番号, 12 digits), e-mail addresses and street
addresses into a chat as a matter of course. Conversation text is kept for staff tickets,
feedback and analytics; none of those needs the personal data itself, and under the APPI a
municipality should not keep what it does not need. ``mask_pii`` is a pure function so that
every store and every log line goes through the same rules.

This module must stay standard-library only and Python 3.10-compatible: the Rasa tracker
store (``bot/tracker_store.py``, Rasa's environment) loads this very file by path, so both
sides mask with the same rules. ``PiiMaskingFilter`` applies them to log records.

Order matters: e-mail first (its local part may hold digits), My Number before phone numbers
(both are digit runs), addresses last (phone numbers look like block numbers 1-2-3).
"""

from __future__ import annotations

import logging
import re
import unicodedata

MASKS = {
    "email": "[EMAIL]",
    "mynumber": "[MYNUMBER]",
    "phone": "[PHONE]",
    "address": "[ADDRESS]",
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# 12 digits, optionally grouped 4-4-4 by spaces or hyphens, not part of a longer number.
_MYNUMBER = re.compile(r"(?<![0-9])[0-9]{4}[ \-]?[0-9]{4}[ \-]?[0-9]{4}(?![0-9])")
# Japanese numbers: 0 then 9–10 digits, grouped or not (03-1234-5678, 090 1234 5678,
# 0299001000), or international +81 …; also +<country> numbers of foreign residents.
_PHONE = re.compile(
    r"(?<![0-9])(?:\+[0-9]{1,3}[ \-]?(?:\(0\))?[0-9]{1,4}[ \-]?[0-9]{2,4}[ \-]?[0-9]{3,4}"
    r"|0[0-9]{1,4}[ \-(]?[0-9]{1,4}[ \-)]?[0-9]{3,4})(?![0-9])"
)
# Japanese street addresses: a municipality or ward, then a town name, then chōme-ban-gō
# (緑町1-2-3, 緑町1丁目2番3号). The block numbers alone (1-2-3) are masked too, since they
# locate a household once the town is known from context.
_BLOCK = r"[0-9]{1,4}(?:丁目|[\-−‐ー－])[0-9]{1,4}(?:(?:番地?|[\-−‐ー－])[0-9]{1,4}号?)?(?:号)?"
_NAME = r"[一-龥々ヶァ-ヺー]"  # kanji and katakana: place names, not the particles around them
_ADDRESS_JA = re.compile(rf"(?:{_NAME}{{1,6}}[都道府県])?(?:{_NAME}{{1,6}}?[市区町村郡])*{_NAME}{{1,8}}?" + _BLOCK)
# Dates (2026-04-01) are not addresses: the first group has at most three digits.
_ADDRESS_BARE = re.compile(r"(?<![0-9\-])[0-9]{1,3}-[0-9]{1,4}-[0-9]{1,4}(?![0-9\-])")


# Dashes residents put between digits: NFKC leaves the hyphen (U+2010), non-breaking hyphen,
# figure/en/em dashes, horizontal bar, minus sign (U+2212) and the chōonpu ー (what a Japanese
# IME gives for "-" in kana mode) as they are, so they are read as ASCII hyphens first.
_DIGIT_DASH = re.compile(r"(?<=[0-9])[\u2010-\u2015\u2212\u30fc\ufe63](?=[0-9])")


def mask_pii(text: str) -> str:
    """``text`` with e-mail addresses, My Numbers, phone numbers and street addresses
    replaced by ``[EMAIL]``, ``[MYNUMBER]``, ``[PHONE]`` and ``[ADDRESS]``.

    Full-width digits and hyphens are read as ASCII first (０９０－１２３４…), and so are
    the other dashes typed between digits (０９０ー１２３４…, 090‐1234…), so the masked
    text is also NFKC-normalised. Every 12-digit number is masked as a My Number, whether or
    not its check digit is right: a mistyped My Number is still personal data.
    """
    if not text:
        return text
    out = _DIGIT_DASH.sub("-", unicodedata.normalize("NFKC", text))
    out = _EMAIL.sub(MASKS["email"], out)
    out = _MYNUMBER.sub(MASKS["mynumber"], out)
    out = _PHONE.sub(MASKS["phone"], out)
    out = _ADDRESS_JA.sub(MASKS["address"], out)
    out = _ADDRESS_BARE.sub(MASKS["address"], out)
    return out


class PiiMaskingFilter(logging.Filter):
    """A logging filter that masks personal data in every record's final message, and in
    its traceback and stack (an exception's message often quotes the input)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked text is what they print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Add ``PiiMaskingFilter`` to the handlers of ``logger`` (the root logger by default).

    Filters on handlers see records from every child logger, unlike filters on loggers.
    """
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())

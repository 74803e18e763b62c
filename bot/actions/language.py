"""Which language to answer in: a pure decision over the message metadata and the slots.

The gateway sends ``metadata.lang`` with ``metadata.lang_source``: "ui" when the channel or
the widget stated the language, "detected" when it was guessed from the text. Guesses are
weak on short messages ("OK", "北区", "4月"), so an explicit choice — the UI's, or one made
in the chat with change_language — is kept over detection. A UI language counts as a new
choice only when it differs from the last UI language seen, so a widget that repeats its
default on every message does not undo a switch made in the chat.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional

LANGUAGES = ("ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl")
EXPLICIT = ("ui", "user")


@dataclass(frozen=True)
class LangChoice:
    """The language to answer in, why, and the UI language last seen."""

    lang: str
    source: str  # "ui", "user", "detected" or "default"
    ui_lang: Optional[str]


def resolve(metadata: Dict[str, Any], slot_lang: Optional[str], slot_source: Optional[str],
            slot_ui_lang: Optional[str], in_form: bool = False) -> LangChoice:
    """Decide the answer language for one turn.

    Args:
        metadata: the message metadata from the gateway (``lang``, ``lang_source``).
        slot_lang: the language kept for this conversation, if any.
        slot_source: why it was kept ("ui", "user", "detected").
        slot_ui_lang: the UI language seen last.
        in_form: the message answers a form or is a button payload; its detected language
            is not trusted (answers are short, payloads are not language).
    """
    lang = metadata.get("lang") if metadata.get("lang") in LANGUAGES else None
    source = metadata.get("lang_source")
    if lang and source == "ui" and lang != slot_ui_lang:
        return LangChoice(lang, "ui", lang)
    if slot_lang in LANGUAGES and (slot_source in EXPLICIT or in_form or not lang):
        return LangChoice(slot_lang, slot_source or "detected", slot_ui_lang)
    if lang:
        # A UI language seen before, with no switch in the chat since, still stands.
        return LangChoice(lang, "ui" if source == "ui" else "detected", slot_ui_lang)
    return LangChoice("ja", "default", slot_ui_lang)

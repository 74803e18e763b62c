"""Spotting messages in languages madoguchi does not support (German, Russian, …).

Retrieval's language ID is restricted to the eleven supported languages on purpose (it is
more accurate that way), so it calls German "English" and Russian the default. This guard
runs first, in the gateway: a script no supported language uses (Cyrillic, Arabic,
Devanagari, …) is unsupported outright; Latin text long enough to judge goes to lingua with
the supported Latin languages *plus* common unsupported ones, and is flagged only when an
unsupported one wins clearly. Short texts ("Danke", "OK") are never flagged: a wrong refusal
is worse than an answer in English.

The reply names the supported languages in English and Japanese, the two every resident's
helper is most likely to read.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from retrieval.kb import LANGUAGE_NAMES

_SCRIPTS = {
    "ru": re.compile(r"[\u0400-\u04ff]"),  # Cyrillic (Russian, Ukrainian, Mongolian, …)
    "ar": re.compile(r"[\u0600-\u06ff\u0750-\u077f]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "hi": re.compile(r"[\u0900-\u097f]"),  # Devanagari (Hindi, Nepali)
    "bn": re.compile(r"[\u0980-\u09ff]"),
    "ta": re.compile(r"[\u0b80-\u0bff]"),
    "si": re.compile(r"[\u0d80-\u0dff]"),
    "my": re.compile(r"[\u1000-\u109f]"),
    "km": re.compile(r"[\u1780-\u17ff]"),
    "lo": re.compile(r"[\u0e80-\u0eff]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
    "ka": re.compile(r"[\u10a0-\u10ff]"),
    "hy": re.compile(r"[\u0530-\u058f]"),
    "mn": re.compile(r"[\u1800-\u18af]"),
}
_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_SUPPORTED_LINGUA = ("ENGLISH", "VIETNAMESE", "PORTUGUESE", "SPANISH", "TAGALOG")
_OTHER_LINGUA = {
    "GERMAN": "de", "FRENCH": "fr", "ITALIAN": "it", "DUTCH": "nl", "POLISH": "pl",
    "INDONESIAN": "id", "TURKISH": "tr", "SWEDISH": "sv", "ROMANIAN": "ro", "CZECH": "cs",
}
# Below this many Latin letters statistics are guesses.
MIN_LATIN_LETTERS = 15
MIN_CONFIDENCE = 0.6

UNSUPPORTED_TEXT = (
    "Sorry, I can't answer in this language yet. Please write in one of these languages: {names}.\n"
    "申し訳ありません。この言語には対応していません。次のいずれかの言語で入力してください：{names}。"
)


def unsupported_language(text: str) -> str | None:
    """A code for the unsupported language ``text`` is written in, or None if it may be
    one of ours (or is too short to tell)."""
    text = unicodedata.normalize("NFKC", text)
    letters = _LETTER.findall(text)
    if not letters:
        return None
    for code, script in _SCRIPTS.items():
        if len(script.findall(text)) > len(letters) / 2:
            return code
    latin = _LATIN.findall(text)
    if len(latin) < MIN_LATIN_LETTERS or len(latin) < len(letters) * 0.8:
        return None
    return _lingua_unsupported(text)


def _lingua_unsupported(text: str) -> str | None:
    values = _detector().compute_language_confidence_values(text)
    if not values:
        return None
    best = values[0]
    code = _OTHER_LINGUA.get(best.language.name)
    return code if code and best.value >= MIN_CONFIDENCE else None


@lru_cache(maxsize=1)
def _detector():  # type: ignore[no-untyped-def]
    from lingua import Language, LanguageDetectorBuilder

    names = (*_SUPPORTED_LINGUA, *_OTHER_LINGUA)
    return LanguageDetectorBuilder.from_languages(*(getattr(Language, n) for n in names)).build()


def unsupported_messages(code: str) -> list[dict[str, object]]:
    """The reply to a message in an unsupported language, REST-shaped."""
    names = ", ".join(LANGUAGE_NAMES.values())
    return [
        {"text": UNSUPPORTED_TEXT.format(names=names)},
        {"custom": {"type": "unsupported_language", "detected": code,
                    "supported": list(LANGUAGE_NAMES)}},
    ]

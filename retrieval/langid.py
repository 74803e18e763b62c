"""Language identification restricted to the languages madoguchi supports.

Script first, statistics second: kana means Japanese, Hangul Korean, Thai script Thai.
Text in Han characters alone is where every detector fails (it calls kanji-only Japanese
"Chinese"), so it is settled by hanzidentifier (simplified vs traditional forms) plus Chinese
function words; shared forms without them default to Japanese, the city's own language,
and so does text with simplified forms that are also Japanese ones (当, 国, 届: 児童手当 is
"simplified" to hanzidentifier) when Sudachi knows every word of it and no Chinese function
word appears.
Latin-script text goes to lingua, restricted to en/vi/pt/es/tl. A language given by the
channel or the UI always wins over detection.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import hanzidentifier

from retrieval.kb import LANGUAGES

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# Words that occur in Chinese sentences but not in Japanese ones.
_ZH_FUNCTION = re.compile(r"[的了吗嗎么麼呢吧这這们們你您我他她它哪怎谁誰没沒]|什么|什麼|可以|如何|请|請")
# Letters only Vietnamese writes among the supported Latin-script languages. Not â, ê, ô:
# Portuguese has them too (bebê, você, avô), and they sent 48 of 806 Portuguese bench queries
# to Vietnamese before lingua was asked.
_VI_MARKS = re.compile(r"[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.I)

# Tagalog grammar words no other supported language writes as words of their own: question
# words, markers, pronouns, particles. Not "ano" (Portuguese "year"), "dito" (Portuguese
# "said"), "sino" (Spanish), "po" (PO box), "hindi" (the language), "sa", "ba", "lang",
# "ko" (Vietnamese typed without marks: "ko" = không), "para", "na", "may", "din".
_TL_WORDS = re.compile(
    r"\b(?:ng|mga|ang|paano|saan|nasaan|kailan|magkano|ilang|bakit|alin|yung|iyong"
    r"|kung|ako|akin|kami|namin|natin|tayo|siya|niya|sila|nila|wala|walang|meron"
    r"|mayroon|pwede|puwede|gusto|kailangan|naman|lamang|ito|iyan|dapat)\b",
    re.I,
)


@dataclass(frozen=True)
class LanguageGuess:
    """The language chosen for a text and how it was chosen."""

    lang: str
    reason: str  # "given", "script", "han", "statistics", "default"


def detect_language(text: str, given: str | None = None, default: str = "ja") -> LanguageGuess:
    """Choose the language to answer in.

    Args:
        text: what the resident wrote.
        given: a language set by the channel or UI; wins when it is supported.
        default: used when nothing in the text tells (emoji, digits).

    Returns:
        The language code (one of ``retrieval.kb.LANGUAGES``) and the reason.
    """
    if given:
        code = normalize_language_code(given)
        if code:
            return LanguageGuess(code, "given")
    text = unicodedata.normalize("NFKC", text)
    if _KANA.search(text):
        return LanguageGuess("ja", "script")
    if _HANGUL.search(text):
        return LanguageGuess("ko", "script")
    if _THAI.search(text):
        return LanguageGuess("th", "script")
    han = "".join(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if han and len(han) >= latin / 4:
        return LanguageGuess(_han_language(text, han), "han")
    if latin:
        return LanguageGuess(_latin_language(text), "statistics")
    return LanguageGuess(default, "default")


def _han_language(text: str, han: str) -> str:
    kind = hanzidentifier.identify(han)
    # Japanese forms are a mix: 当 and 届 "simplified", 請 and 険 "traditional".
    if kind in (hanzidentifier.SIMPLIFIED, hanzidentifier.MIXED) and _japanese_words(text):
        return "ja"
    if kind == hanzidentifier.SIMPLIFIED:
        return "zh-Hans"
    if kind == hanzidentifier.TRADITIONAL:
        return "zh-Hant"
    if _ZH_FUNCTION.search(text):
        # Shared forms with Chinese grammar words: Chinese, traditional unless told otherwise.
        return "zh-Hant" if kind == hanzidentifier.BOTH and _has_trad_hint(text) else "zh-Hans"
    return "ja"


def _japanese_words(text: str) -> bool:
    # Chinese function words as words of their own (了, 的), not inside a Japanese word
    # (請 in 申請).
    from retrieval.lexical import japanese_words

    words = japanese_words(text)
    return words is not None and not any(_ZH_FUNCTION.fullmatch(w) for w in words)


def _has_trad_hint(text: str) -> bool:
    return any(c in text for c in "們嗎麼這請沒誰")


def _latin_language(text: str) -> str:
    if _VI_MARKS.search(text):
        return "vi"
    detector = _latin_detector()
    found = detector.detect_language_of(text)
    lang = "en" if found is None else _LINGUA_CODES.get(found.name, "en")
    if lang == "en" and _TL_WORDS.search(text):
        # Filipino residents write Taglish: English nouns, Tagalog grammar ("single mom
        # allowance magkano", "checkup saan"). The nouns outweigh the grammar for lingua.
        return "tl"
    return lang


_LINGUA_CODES = {
    "ENGLISH": "en", "VIETNAMESE": "vi", "PORTUGUESE": "pt", "SPANISH": "es", "TAGALOG": "tl",
}


@lru_cache(maxsize=1)
def _latin_detector():  # type: ignore[no-untyped-def]
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _LINGUA_CODES]
    return LanguageDetectorBuilder.from_languages(*languages).build()


_ALIASES = {
    "ja": "ja", "jp": "ja", "ja-jp": "ja", "ja-easy": "ja-easy", "easy-ja": "ja-easy",
    "en": "en", "en-us": "en", "en-gb": "en",
    "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-sg": "zh-Hans", "zh-hans": "zh-Hans",
    "zh-tw": "zh-Hant", "zh-hk": "zh-Hant", "zh-mo": "zh-Hant", "zh-hant": "zh-Hant",
    "ko": "ko", "ko-kr": "ko", "vi": "vi", "vi-vn": "vi", "pt": "pt", "pt-br": "pt",
    "pt-pt": "pt", "es": "es", "th": "th", "th-th": "th", "tl": "tl", "fil": "tl",
}


def normalize_language_code(code: str) -> str | None:
    """Map a BCP-47-ish code (``zh-TW``, ``pt-BR``, ``fil``) to a supported code, or None."""
    key = code.strip().replace("_", "-").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    base = key.split("-")[0]
    found = _ALIASES.get(base)
    return found if found in LANGUAGES else None

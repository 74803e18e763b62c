"""整文: turning what was said (全文) into what the minutes print, by rules a clerk can edit.

Every assembly has its own house style, and the people who know it are clerks, not developers,
so the rules are data: ``speech/cleanup_rules.yaml`` (commented in Japanese) ships the defaults
and ``SpeechSettings.rules_path`` points at a city's own copy. ``load_rules`` validates the file
into a frozen ``CleanupRules``; ``clean_text`` applies it and is pure, so each rule is tested on
strings. The verbatim text is never changed — ``Segment.verbatim`` keeps it next to the cleaned
``Segment.text``.

Order matters: fillers go first (so 「えー、えー、予算」 is not mistaken for a stutter of えー),
then stutters, numerals, the clerk's replacements, and punctuation last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import yaml

from speech.errors import RulesError
from speech.types import Segment

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUM = "[〇零一二三四五六七八九十百千]+"
_JA = r"\u3040-\u30ff\u3400-\u9fff\uff10-\uff19々ー"
_SENTENCE_END = r"(?:ます|です|した|ません|ください|ります|ました|でしょうか|ますか|ですか)$"
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_HALF = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True)
class CleanupRules:
    """The 整文 rules, as read from YAML."""

    fillers: tuple[str, ...] = ()
    stutters: bool = True
    numerals: bool = True
    single_digit_full_width: bool = True
    counters: tuple[str, ...] = ()
    spaces_to_comma: bool = True
    full_width: bool = True
    end_with_period: bool = True
    replacements: tuple[tuple[str, str], ...] = ()


def load_rules(path: Path | None = None) -> CleanupRules:
    """Read a rules file (``None``: the shipped defaults).

    Raises:
        RulesError: The file is missing, not YAML, or a value has the wrong type.
    """
    source = path or resources.files("speech") / "cleanup_rules.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read 整文 rules {source}: {exc}") from exc
    try:
        return parse_rules(data)
    except (TypeError, ValueError, re.error) as exc:
        raise RulesError(f"整文 rules {source} are malformed: {exc}") from exc


def parse_rules(data: dict) -> CleanupRules:
    """Validate a rules mapping (the YAML's content) into ``CleanupRules``."""
    if not isinstance(data, dict):
        raise TypeError("expected a mapping with fillers, stutters, numerals, punctuation, replace")
    numerals = data.get("numerals") or {}
    punct = data.get("punctuation") or {}
    pairs = []
    for item in data.get("replace") or []:
        if not isinstance(item, dict) or "from" not in item:
            raise ValueError(f"each replace entry needs 'from' and 'to', got {item!r}")
        re.compile(str(item["from"]))
        pairs.append((str(item["from"]), str(item.get("to", ""))))
    return CleanupRules(
        fillers=tuple(str(f).rstrip("、") for f in data.get("fillers") or ()),
        stutters=bool(data.get("stutters", True)),
        numerals=bool(numerals.get("enabled", True)),
        single_digit_full_width=bool(numerals.get("single_digit_full_width", True)),
        counters=tuple(str(c) for c in numerals.get("counters") or ()),
        spaces_to_comma=bool(punct.get("spaces_to_comma", True)),
        full_width=bool(punct.get("full_width", True)),
        end_with_period=bool(punct.get("end_with_period", True)),
        replacements=tuple(pairs),
    )


def kanji_to_int(text: str) -> int:
    """``"二千二十四"`` → 2024, ``"七"`` → 7, ``"二〇二四"`` → 2024."""
    if all(ch in _KANJI_DIGITS for ch in text):
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, digit = 0, None
    for ch in text:
        if ch in _KANJI_DIGITS:
            digit = _KANJI_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _KANJI_UNITS[ch]
            digit = None
    return total + (digit or 0)


def council_number(value: str, single_full_width: bool = True) -> str:
    """Arabic numerals in council style: one digit full-width (３), more half-width (30)."""
    half = value.translate(_HALF)
    return half.translate(_FULL) if single_full_width and len(half) == 1 else half


def remove_fillers(text: str, fillers: Sequence[str]) -> str:
    """Drop fillers that stand alone (start, or after punctuation/space), with their 、."""
    for filler in sorted(fillers, key=len, reverse=True):
        text = re.sub(rf"(^|[、。？！\s]){re.escape(filler)}ー*[、\s]*", r"\1", text)
    return text


def remove_stutters(text: str) -> str:
    """「わ、わたくし」→「わたくし」; 「予算、予算案」→「予算案」 (1–4 characters repeated)."""
    return re.sub(rf"([{_JA}]{{1,4}})、(?=\1)", "", text)


_NUMBER_MAY_FOLLOW = set("第約各計全毎満和成年月時")  # kanji after which a kanji number is a number


def normalize_numerals(text: str, rules: CleanupRules) -> str:
    """Kanji numbers before a counter become Arabic; all Arabic numbers take council width.

    A kanji number inside a word (同一人物, 統一) is left alone: it must follow kana, a digit,
    punctuation, the start, or one of 第/約/各/令和/平成/…年/月/時.
    """
    if rules.counters:
        counters = "|".join(re.escape(c) for c in sorted(rules.counters, key=len, reverse=True))

        def arabic(m: re.Match[str]) -> str:
            num, counter = m.group(1), m.group(2)
            prev = text[m.start() - 1] if m.start() else ""
            if re.match(r"[\u3400-\u9fff々]", prev) and prev not in _NUMBER_MAY_FOLLOW:
                return num
            if num == "十" and counter == "分" and prev != "時":  # 十分 = sufficiently
                return num
            return str(kanji_to_int(num))

        text = re.sub(rf"({_KANJI_NUM})(?=({counters}))", arabic, text)

    def width(m: re.Match[str]) -> str:
        value = m.group(0)
        if any(c in value for c in ".．"):
            return value.translate(_HALF)
        return council_number(value, rules.single_digit_full_width)

    return re.sub(r"[0-9０-９]+(?:[.．][0-9０-９]+)?", width, text)


def fix_punctuation(text: str, rules: CleanupRules) -> str:
    """Spaces between Japanese words → 、; ASCII ,.?! → 、。？！; a final 。."""
    text = text.strip()
    if rules.full_width:
        text = re.sub(rf"(?<=[{_JA}]),\s*", "、", text)
        text = re.sub(rf"(?<=[{_JA}])\.(?!\d)\s*", "。", text)
        text = re.sub(rf"(?<=[{_JA}])\?\s*", "？", text)
        text = re.sub(rf"(?<=[{_JA}])!\s*", "！", text)
    # Whisper marks pauses with spaces, also inside words (「定例 会」): after a sentence end
    # (ます, です, した…) a space becomes 。, after other kana 、, and inside kanji it goes.
    def pause(m: re.Match[str]) -> str:
        before = text[: m.start()]
        if re.search(_SENTENCE_END, before):
            return "。"
        if rules.spaces_to_comma or re.search(r"[\u3040-\u309f]$", before):
            return "、"
        return ""

    text = re.sub(rf"(?<=[{_JA}0-9])[ 　]+(?=[{_JA}0-9])", pause, text)
    text = re.sub(r"、{2,}", "、", text)
    text = re.sub(r"^[、。]+", "", text)
    text = re.sub(r"、(?=[。？！])", "", text)
    if rules.end_with_period and text and re.search(rf"[{_JA}]$", text):
        text += "。"
    return text


def clean_text(text: str, rules: CleanupRules) -> str:
    """Apply every rule to one piece of verbatim text; returns the 整文."""
    text = remove_fillers(text.strip(), rules.fillers)
    if rules.stutters:
        text = remove_stutters(text)
    if rules.numerals:
        text = normalize_numerals(text, rules)
    for pattern, repl in rules.replacements:
        text = re.sub(pattern, repl, text)
    return fix_punctuation(text, rules)


def clean_segments(segments: Sequence[Segment], rules: CleanupRules) -> tuple[Segment, ...]:
    """Clean every segment, keeping its verbatim text; segments that clean to nothing go."""
    out = []
    for seg in segments:
        verbatim = seg.text_verbatim
        cleaned = clean_text(verbatim, rules)
        if cleaned:
            out.append(replace(seg, text=cleaned, verbatim=verbatim))
    return tuple(out)

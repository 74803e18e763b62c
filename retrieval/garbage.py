"""Garbage-sorting tables (5374.jp style) turned into knowledge-base entries.

A city's sorting table has hundreds of rows — item, category, notes, reading — and
residents ask about one item at a time ("How do I throw away a frying pan?"). Each row
becomes an ordinary entry whose questions and answer are generated from the item's name
in each language and its category's instructions, so the retriever, the index and the
answer path treat items like any other FAQ.

File shape (``garbage_items:`` in any KB file)::

    source_url: https://…/gomi/bunbetsu/
    department: kankyo
    garbage_categories:
      burnable: {name: {ja: 燃やすごみ, …}, how: {ja: 指定袋に入れて…, …}}
    garbage_items:
      - {id: pet-bottle, kana: ぺっとぼとる, category: pet,
         name: {ja: ペットボトル, …}, notes: {ja: …, …}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retrieval.kb import LINE_KEY, Entry

_QUESTIONS = {
    "ja": ("{name}の捨て方", "{name}は何ごみですか", "{name} ごみ 分別"),
    "ja-easy": ("{name}は どうやって すてますか",),
    "en": ("How do I throw away {name}?", "What type of garbage is {name}?"),
    "zh-Hans": ("{name}怎么扔？", "{name}属于哪类垃圾？"),
    "zh-Hant": ("{name}怎麼丟？", "{name}屬於哪類垃圾？"),
    "ko": ("{name}은/는 어떻게 버리나요?", "{name} 분리배출"),
    "vi": ("Vứt {name} như thế nào?", "{name} là loại rác gì?"),
    "pt": ("Como descartar {name}?", "{name} é que tipo de lixo?"),
    "es": ("¿Cómo tiro {name}?", "¿Qué tipo de basura es {name}?"),
    "th": ("ทิ้ง{name}อย่างไร", "{name}เป็นขยะประเภทไหน"),
    "tl": ("Paano itapon ang {name}?", "Anong uri ng basura ang {name}?"),
}
_ANSWER = {
    "ja": "{name}は「{category}」です。{how}",
    "ja-easy": "{name}は「{category}」です。{how}",
    "en": "{name}: {category}. {how}",
    "zh-Hans": "{name}属于“{category}”。{how}",
    "zh-Hant": "{name}屬於「{category}」。{how}",
    "ko": "{name}: {category}. {how}",
    "vi": "{name}: {category}. {how}",
    "pt": "{name}: {category}. {how}",
    "es": "{name}: {category}. {how}",
    "th": "{name}: {category} {how}",
    "tl": "{name}: {category}. {how}",
}


def garbage_entries(file: Path, data: dict[str, Any], problems: list[str]) -> list[Entry]:
    """Entries for every row of a file's ``garbage_items`` table (problems are appended)."""
    categories = {k: v for k, v in (data.get("garbage_categories") or {}).items() if k != LINE_KEY}
    source_url = str(data.get("source_url") or "")
    department = str(data.get("department") or "general")
    entries = []
    for row in data.get("garbage_items") or []:
        entry = _item_entry(file, row, categories, source_url, department, problems)
        if entry is not None:
            entries.append(entry)
    return entries


def _item_entry(
    file: Path,
    row: Any,
    categories: dict[str, Any],
    source_url: str,
    department: str,
    problems: list[str],
) -> Entry | None:
    line = row.get(LINE_KEY, 0) if isinstance(row, dict) else 0
    where = f"{file}:{line}"
    if not isinstance(row, dict) or not row.get("id") or not isinstance(row.get("name"), dict):
        problems.append(f"{where}: a garbage item needs an 'id' and a 'name' per language")
        return None
    category = categories.get(row.get("category"))
    if not isinstance(category, dict):
        problems.append(
            f"{where}: garbage item '{row['id']}' category '{row.get('category')}' is not in "
            f"garbage_categories ({', '.join(categories) or 'none defined'})"
        )
        return None
    names = {k: str(v) for k, v in row["name"].items() if k != LINE_KEY and v}
    notes = {k: str(v) for k, v in (row.get("notes") or {}).items() if k != LINE_KEY and v}
    questions: dict[str, tuple[str, ...]] = {}
    answers: dict[str, str] = {}
    for lang, name in names.items():
        if lang not in _QUESTIONS:
            continue
        variants = [t.format(name=name) for t in _QUESTIONS[lang]]
        if lang == "ja" and row.get("kana"):
            variants.append(f"{row['kana']} 捨て方")
        questions[lang] = tuple(variants)
        cat_name = _pick(category.get("name"), lang)
        how = " ".join(x for x in (_pick(category.get("how"), lang), notes.get(lang, "")) if x)
        answers[lang] = _ANSWER[lang].format(name=name, category=cat_name, how=how).strip()
    return Entry(
        id=f"garbage.item.{row['id']}",
        category="garbage",
        department=str(row.get("department") or department),
        source_url=str(row.get("source_url") or source_url),
        questions=questions,
        answers=answers,
        tags=tuple(x for x in (row.get("kana"), row.get("category")) if x),
        file=str(file),
        line=line,
    )


def _pick(texts: Any, lang: str) -> str:
    if not isinstance(texts, dict):
        return ""
    return str(texts.get(lang) or texts.get("ja" if lang == "ja-easy" else "en") or texts.get("ja") or "")

"""Importers: other formats → madoguchi's YAML knowledge base.

* ``faq-csv`` — the Digital Agency's 自治体標準オープンデータセット FAQ CSV (UTF-8, with or
  without BOM, or Shift_JIS/cp932). Columns are found by name, with the variants cities use
  (質問/FAQ質問/Question, 回答/Answer, 分類/カテゴリ, 所管部署/担当部署, 電話番号, URL/参照URL…).
* ``garbage-csv`` — a 5374.jp-style sorting table (item, category, notes, kana).
* ``beir`` — a BEIR ``corpus.jsonl`` (title = question, text = answer).

Each returns a YAML-ready dict; ``write_yaml`` writes it atomically. Every problem names
the file and line.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import KnowledgeBaseError

FORMATS = ("faq-csv", "garbage-csv", "beir")

_FAQ_COLUMNS = {
    "id": ("id", "faq番号", "番号", "no", "no."),
    "question": ("質問", "faq質問", "質問内容", "question", "q", "title"),
    "answer": ("回答", "faq回答", "回答内容", "answer", "a", "text"),
    "category": ("分類", "カテゴリ", "カテゴリー", "大分類", "category"),
    "department": ("所管部署", "担当部署", "担当課", "問い合わせ先", "部署", "department"),
    "phone": ("電話番号", "問い合わせ先電話番号", "連絡先電話番号", "phone", "tel"),
    "url": ("url", "参照url", "関連url", "ページurl", "source_url", "リンク"),
}
_GARBAGE_COLUMNS = {
    "item": ("item", "name", "品名", "品目", "ごみの名前", "名称"),
    "category": ("category", "label", "type", "分別", "区分", "分別区分", "出し方"),
    "notes": ("notes", "notice", "注意点", "備考", "出し方のポイント"),
    "kana": ("kana", "furigana", "読み方", "ふりがな", "よみがな"),
}
# Japanese category words → madoguchi categories (first match wins; unknown → general).
_CATEGORY_WORDS = (
    ("childcare", ("子育て", "保育", "児童", "子ども", "子供", "妊娠", "出産", "育児")),
    ("garbage", ("ごみ", "ゴミ", "リサイクル", "環境")),
    ("disaster", ("防災", "災害", "避難", "危機")),
    ("tourism", ("観光", "イベント", "交通", "文化")),
    ("relocation", ("移住", "定住", "住まい", "住宅", "就職", "起業")),
    ("procedures", ("届", "証明", "住民", "戸籍", "税", "保険", "年金", "マイナンバー", "手続")),
)


def read_csv(path: Path, encoding: str = "auto") -> tuple[list[dict[str, str]], str]:
    """Rows of a CSV file as dicts keyed by lower-cased header, and the encoding used.

    ``auto`` tries UTF-8 (BOM or not), then cp932 (Shift_JIS with Windows extensions).
    """
    data = path.read_bytes()
    candidates = ("utf-8-sig", "cp932") if encoding == "auto" else (encoding,)
    for name in candidates:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]
        return rows, name
    raise KnowledgeBaseError([f"{path}:0: not UTF-8 or Shift_JIS text; pass --encoding"])


def _column(headers: list[str], aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        if alias in headers:
            return alias
    return None


def _columns(path: Path, rows: list[dict[str, str]], spec: dict, required: tuple[str, ...]) -> dict:
    headers = list(rows[0]) if rows else []
    found = {key: _column(headers, aliases) for key, aliases in spec.items()}
    missing = [k for k in required if not found[k]]
    if missing:
        raise KnowledgeBaseError(
            [f"{path}:1: no column for {', '.join(missing)} (headers: {', '.join(headers)})"]
        )
    return found


def _category(text: str) -> str:
    for category, words in _CATEGORY_WORDS:
        if any(w in text for w in words):
            return category
    return "general"


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "dept"
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    used.add(slug)
    return slug


def import_faq_csv(path: Path, source_url: str, encoding: str = "auto") -> dict[str, Any]:
    """Entries (and departments) from a 自治体標準オープンデータセット FAQ CSV."""
    rows, _ = read_csv(path, encoding)
    cols = _columns(path, rows, _FAQ_COLUMNS, ("question", "answer"))
    departments: dict[str, dict[str, Any]] = {}
    keys_by_name: dict[str, str] = {}
    entries, problems, used = [], [], set()
    for line, row in enumerate(rows, start=2):
        question, answer = row.get(cols["question"], ""), row.get(cols["answer"], "")
        if not question or not answer:
            problems.append(f"{path}:{line}: row without a question or an answer")
            continue
        dept_name = row.get(cols["department"] or "", "")
        dept_key = "general"
        if dept_name:
            if dept_name not in keys_by_name:
                keys_by_name[dept_name] = f"imported-{_slug(f'{len(keys_by_name) + 1:03d}', used)}"
                departments[keys_by_name[dept_name]] = {
                    "name": {"ja": dept_name},
                    "phone": row.get(cols["phone"] or "", ""),
                }
            dept_key = keys_by_name[dept_name]
        raw_id = row.get(cols["id"] or "", "") or str(line - 1)
        url = row.get(cols["url"] or "", "")
        entries.append({
            "id": f"{path.stem}.{raw_id}",
            "category": _category(row.get(cols["category"] or "", "") + question),
            "department": dept_key,
            "source_url": url if url.startswith(("http://", "https://")) else source_url,
            "questions": {"ja": [question]},
            "answers": {"ja": answer},
        })
    if problems:
        raise KnowledgeBaseError(problems)
    return {"departments": departments, "entries": entries} if departments else {"entries": entries}


def import_garbage_csv(
    path: Path, source_url: str, department: str = "general", encoding: str = "auto"
) -> dict[str, Any]:
    """A garbage_items table from a 5374.jp-style CSV (item, category, notes, kana)."""
    rows, _ = read_csv(path, encoding)
    cols = _columns(path, rows, _GARBAGE_COLUMNS, ("item", "category"))
    categories: dict[str, dict[str, Any]] = {}
    keys_by_label: dict[str, str] = {}
    items, problems, used_ids, used_cats = [], [], set(), set()
    for line, row in enumerate(rows, start=2):
        item, label = row.get(cols["item"], ""), row.get(cols["category"], "")
        if not item or not label:
            problems.append(f"{path}:{line}: row without an item or a category")
            continue
        if label not in keys_by_label:
            keys_by_label[label] = _slug(f"cat-{len(keys_by_label) + 1}", used_cats)
            categories[keys_by_label[label]] = {"name": {"ja": label}, "how": {"ja": ""}}
        entry: dict[str, Any] = {
            "id": _slug(f"item-{line - 1}", used_ids),
            "category": keys_by_label[label],
            "name": {"ja": item},
        }
        if cols["kana"] and row.get(cols["kana"]):
            entry["kana"] = row[cols["kana"]]
        if cols["notes"] and row.get(cols["notes"]):
            entry["notes"] = {"ja": row[cols["notes"]]}
        items.append(entry)
    if problems:
        raise KnowledgeBaseError(problems)
    return {
        "source_url": source_url,
        "department": department,
        "garbage_categories": categories,
        "garbage_items": items,
    }


def import_beir(path: Path, source_url: str) -> dict[str, Any]:
    """Entries from a BEIR corpus.jsonl (or a directory holding one)."""
    from retrieval.evaluate import read_jsonl

    corpus = path / "corpus.jsonl" if path.is_dir() else path
    entries = []
    for row in read_jsonl(corpus):
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "").strip()
        entries.append({
            "id": f"beir.{row['_id']}",
            "category": "general",
            "department": "general",
            "source_url": str(row.get("url") or source_url),
            "questions": {"ja": [title or text[:80]]},
            "answers": {"ja": text or title},
        })
    return {"entries": entries}


def write_yaml(data: dict[str, Any], out: Path, header: str) -> None:
    """Write ``data`` as a KB YAML file, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    tmp.write_text(f"# {header}\n{body}", encoding="utf-8")
    os.replace(tmp, out)

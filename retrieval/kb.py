"""Knowledge base: the city's FAQ entries, loaded from YAML and validated.

Layout of a KB directory (see docs/knowledge-base.md):

* ``departments.yml`` — ``departments: {key: {name: {lang: …}, phone, hours: {lang: …}}}``;
  the key ``general`` is the city's information desk, used when the bot does not know.
* any other ``*.yml`` — ``entries: [{id, category, department, source_url, tags,
  questions: {lang: [..]}, answers: {lang: ..}, valid_from, valid_until}]``.

Every problem found is reported with its file and line, all at once, so a city editing its
KB fixes everything in one pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from retrieval.errors import KnowledgeBaseError

LANGUAGES: tuple[str, ...] = (
    "ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl",
)
LANGUAGE_NAMES: dict[str, str] = {
    "ja": "日本語", "ja-easy": "やさしい日本語", "en": "English", "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文", "ko": "한국어", "vi": "Tiếng Việt", "pt": "Português",
    "es": "Español", "th": "ไทย", "tl": "Tagalog",
}
CATEGORIES: tuple[str, ...] = (
    "childcare", "relocation", "tourism", "procedures", "garbage", "disaster", "general",
)
LINE_KEY = "__line__"  # where LineLoader records each mapping's line


@dataclass(frozen=True)
class Department:
    """A city department residents can be sent to."""

    key: str
    name: dict[str, str]
    phone: str
    hours: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One FAQ entry with its questions and answers in every language it has."""

    id: str
    category: str
    department: str
    source_url: str
    questions: dict[str, tuple[str, ...]]
    answers: dict[str, str]
    tags: tuple[str, ...] = ()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    file: str = ""
    line: int = 0

    def is_valid_on(self, day: dt.date) -> bool:
        """Whether the entry is in force on ``day``."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)


@dataclass(frozen=True)
class KnowledgeBase:
    """All entries and departments of one city, plus a hash of the files they came from."""

    entries: tuple[Entry, ...]
    departments: dict[str, Department]
    digest: str

    def entry(self, entry_id: str) -> Entry:
        """The entry with this id (KeyError if absent)."""
        return self._by_id[entry_id]

    @property
    def _by_id(self) -> dict[str, Entry]:
        cache = self.__dict__.get("_by_id_cache")
        if cache is None:
            cache = {e.id: e for e in self.entries}
            object.__setattr__(self, "_by_id_cache", cache)
        return cache

    def department(self, key: str) -> Department:
        """The department with this key, or the general desk if unknown."""
        return self.departments.get(key) or self.departments["general"]


class LineLoader(yaml.SafeLoader):
    """A SafeLoader that records the line of every mapping under ``__line__``."""


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LineLoader)  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 0
        problems.append(f"{path}:{line}: YAML syntax error: {exc.problem}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:0: cannot read file: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}:1: expected a mapping at the top of the file")
        return None
    return data


def load_kb(path: Path) -> KnowledgeBase:
    """Load and validate every YAML file of a KB directory.

    Args:
        path: the KB directory (``nlu_data/kb`` for the sample city).

    Returns:
        The validated knowledge base.

    Raises:
        KnowledgeBaseError: listing every problem with file and line.
    """
    if not path.is_dir():
        raise KnowledgeBaseError([f"{path}:0: knowledge base directory not found"])
    files = sorted(path.rglob("*.yml")) + sorted(path.rglob("*.yaml"))
    problems: list[str] = []
    digest = hashlib.sha256()
    departments: dict[str, Department] = {}
    raw_entries: list[tuple[Path, dict[str, Any]]] = []
    generated: list[Entry] = []
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file.read_bytes())
        data = _read_yaml(file, problems)
        if data is None:
            continue
        for key, dep in (data.get("departments") or {}).items():
            if key == LINE_KEY:
                continue
            departments[key] = _department(file, key, dep, problems)
        for item in data.get("entries") or []:
            raw_entries.append((file, item))
        if data.get("garbage_items"):
            from retrieval.garbage import garbage_entries

            generated.extend(garbage_entries(file, data, problems))
    if "general" not in departments:
        problems.append(f"{path}:0: no 'general' department (the fallback contact) is defined")
    entries = _entries(raw_entries, generated, departments, problems)
    if problems:
        raise KnowledgeBaseError(problems)
    return KnowledgeBase(tuple(entries), departments, digest.hexdigest()[:16])


def _department(file: Path, key: str, raw: Any, problems: list[str]) -> Department:
    line = raw.get(LINE_KEY, 0) if isinstance(raw, dict) else 0
    if not isinstance(raw, dict) or not raw.get("name"):
        problems.append(f"{file}:{line}: department '{key}' needs a name")
        return Department(key, {}, "")
    if key == "general" and not raw.get("phone"):
        # The general desk is who residents are sent to when nothing else fits.
        problems.append(f"{file}:{line}: the 'general' department needs a phone")
    name = lang_map(f"{file}:{line}", raw.get("name"), f"department '{key}' name", problems)
    hours = lang_map(f"{file}:{line}", raw.get("hours") or {}, f"department '{key}' hours", problems)
    return Department(key, name, str(raw.get("phone") or ""), hours)


def lang_map(where: str, raw: Any, what: str, problems: list[str]) -> dict[str, str]:
    """``{language: text}`` from a YAML mapping; problems are appended with ``where``."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: {what} must map language codes to text")
        return {}
    out: dict[str, str] = {}
    for lang, text in raw.items():
        if lang == LINE_KEY:
            continue
        if lang not in LANGUAGES:
            problems.append(
                f"{where}: {what}: unknown language code '{lang}' "
                f"(expected one of {', '.join(LANGUAGES)})"
            )
        elif text:
            out[lang] = str(text).strip()
    return out


def _entries(
    raw_entries: list[tuple[Path, dict[str, Any]]],
    generated: list[Entry],
    departments: dict[str, Department],
    problems: list[str],
) -> list[Entry]:
    seen: dict[str, str] = {}
    entries = []
    built = [_entry(file, raw, departments, problems) for file, raw in raw_entries]
    for entry in [*built, *(_checked(e, departments, problems) for e in generated)]:
        if entry is None:
            continue
        where = f"{entry.file}:{entry.line}"
        if entry.id in seen:
            problems.append(f"{where}: duplicate entry id '{entry.id}' (first at {seen[entry.id]})")
            continue
        seen[entry.id] = where
        entries.append(entry)
    return entries


def _entry(
    file: Path, raw: Any, departments: dict[str, Department], problems: list[str]
) -> Entry | None:
    if not isinstance(raw, dict):
        problems.append(f"{file}:0: an entry must be a mapping, got {type(raw).__name__}")
        return None
    line = raw.get(LINE_KEY, 0)
    where = f"{file}:{line}"
    entry_id = str(raw.get("id") or "").strip()
    if not entry_id:
        problems.append(f"{where}: entry without an 'id'")
        return None
    label = f"entry '{entry_id}'"
    answers = lang_map(where, raw.get("answers"), f"{label} answers", problems)
    questions = _questions(file, line, raw.get("questions"), label, problems)
    if "ja" not in answers or "ja" not in questions:
        problems.append(f"{where}: {label} needs a Japanese ('ja') question and answer")
    url = str(raw.get("source_url") or "")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"{where}: {label} source_url '{url}' is not an http(s) URL")
    category = str(raw.get("category") or "")
    if category not in CATEGORIES:
        problems.append(
            f"{where}: {label} category '{category}' is not one of {', '.join(CATEGORIES)}"
        )
    department = str(raw.get("department") or "general")
    if department not in departments:
        problems.append(f"{where}: {label} department '{department}' is not in departments.yml")
    return Entry(
        id=entry_id,
        category=category,
        department=department,
        source_url=url,
        questions=questions,
        answers=answers,
        tags=tuple(str(t) for t in raw.get("tags") or ()),
        valid_from=_date(raw.get("valid_from"), where, label, problems),
        valid_until=_date(raw.get("valid_until"), where, label, problems),
        file=str(file),
        line=line,
    )


def _checked(entry: Entry, departments: dict[str, Department], problems: list[str]) -> Entry:
    """The checks of ``_entry`` for entries generated from tables (garbage items)."""
    where = f"{entry.file}:{entry.line}: entry '{entry.id}'"
    if "ja" not in entry.answers:
        problems.append(f"{where} needs a Japanese ('ja') name")
    parsed = urlparse(entry.source_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"{where} source_url '{entry.source_url}' is not an http(s) URL")
    if entry.department not in departments:
        problems.append(f"{where} department '{entry.department}' is not in departments.yml")
    return entry


def _questions(
    file: Path, line: int, raw: Any, label: str, problems: list[str]
) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        problems.append(f"{file}:{line}: {label} questions must map language codes to lists")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for lang, items in raw.items():
        if lang == LINE_KEY:
            continue
        if lang not in LANGUAGES:
            problems.append(f"{file}:{line}: {label} questions: unknown language code '{lang}'")
            continue
        values = [items] if isinstance(items, str) else list(items or [])
        cleaned = tuple(str(q).strip() for q in values if str(q).strip())
        if cleaned:
            out[lang] = cleaned
    return out


def _date(raw: Any, where: str, label: str, problems: list[str]) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        problems.append(f"{where}: {label} date '{raw}' is not YYYY-MM-DD")
        return None


def save_snapshot(kb: KnowledgeBase, directory: Path) -> None:
    """Keep a copy of a valid KB beside its index (see ``load_snapshot``)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "kb-snapshot.pickle.tmp"
    tmp.write_bytes(pickle.dumps(kb, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, directory / "kb-snapshot.pickle")


def load_snapshot(directory: Path) -> KnowledgeBase | None:
    """The last valid KB saved beside the index, or None. The file is written only by
    ``save_snapshot`` into the service's own data directory."""
    path = directory / "kb-snapshot.pickle"
    try:
        kb = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, see above
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        return None
    return kb if isinstance(kb, KnowledgeBase) else None

"""Knowledge-base loading: the sample KB is valid, and every kind of mistake is reported
with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import LANGUAGES, KnowledgeBaseError, load_kb

ROOT = Path(__file__).resolve().parents[2]

DEPARTMENTS = """\
departments:
  general:
    name: {ja: 総合案内, en: Information desk}
    phone: 0299-00-1000
    hours: {ja: 平日 9時〜17時, en: Weekdays 9-17}
"""

GOOD_ENTRY = """\
  - id: a.one
    category: childcare
    department: general
    source_url: https://www.city.example.jp/a
    questions:
      ja: [保育園の申し込み]
    answers:
      ja: 12月10日までです。
"""


def write_kb(tmp_path: Path, entries: str) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "departments.yml").write_text(DEPARTMENTS, encoding="utf-8")
    (kb / "faq.yml").write_text("entries:\n" + entries, encoding="utf-8")
    return kb


def test_sample_kb_is_valid_and_multilingual() -> None:
    kb = load_kb(ROOT / "nlu_data" / "kb")
    assert len(kb.entries) >= 20
    for entry in kb.entries:
        assert "ja" in entry.answers and entry.source_url.startswith("https://")
        assert entry.department in kb.departments
    nursery = [e for e in kb.entries if "保育" in " ".join(e.questions["ja"])]
    assert nursery and "en" in nursery[0].answers
    assert set(nursery[0].answers) <= set(LANGUAGES)


def test_duplicate_id_names_both_places(tmp_path: Path) -> None:
    kb = write_kb(tmp_path, GOOD_ENTRY + GOOD_ENTRY)
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(kb)
    message = str(err.value)
    assert "duplicate entry id 'a.one'" in message
    assert "faq.yml:10" in message and "faq.yml:2" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("ja: 12月10日までです。", "en: Until Dec 10."), "needs a Japanese"),
        (("https://www.city.example.jp/a", "ftp//nowhere"), "is not an http(s) URL"),
        (("ja: [保育園の申し込み]", "jp: [保育園の申し込み]"), "unknown language code 'jp'"),
        (("category: childcare", "category: sports"), "category 'sports'"),
        (("department: general", "department: nowhere"), "department 'nowhere'"),
    ],
)
def test_entry_mistakes_are_reported_with_line(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    kb = write_kb(tmp_path, GOOD_ENTRY.replace(*change))
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(kb)
    assert expected in str(err.value)
    assert "faq.yml:2:" in str(err.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    kb = write_kb(tmp_path, GOOD_ENTRY + "  - id: [unclosed\n")
    with pytest.raises(KnowledgeBaseError) as err:
        load_kb(kb)
    assert "faq.yml:" in str(err.value) and "YAML syntax error" in str(err.value)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_kb(tmp_path / "nope")

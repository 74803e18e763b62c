"""整文 rules: each one on plain strings, and the clerk's own rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech import RulesError, clean_text, load_rules
from speech.clean import clean_segments, council_number, kanji_to_int
from speech.types import Segment

RULES = load_rules()


@pytest.mark.parametrize(
    ("verbatim", "cleaned"),
    [
        ("えー、令和七年度の予算案について", "令和７年度の予算案について。"),
        ("あのー 第一号議案は 三十名が賛成", "第１号議案は、30名が賛成。"),
        ("定例 会を開きます", "定例会を開きます。"),
        ("開会いたします 本日は 予算を審議します", "開会いたします。本日は、予算を審議します。"),
        ("わ、わたくしから説明します", "わたくしから説明します。"),
        ("まあ、予算、予算案について", "予算案について。"),
        ("十分に審議しました", "十分に審議しました。"),
        ("十時十分に再開します", "10時10分に再開します。"),
        ("同一人物です", "同一人物です。"),
        ("一般会計は2024年に12億円です", "一般会計は2024年に12億円です。"),
        ("質問します?", "質問します？"),
    ],
)
def test_clean_text(verbatim: str, cleaned: str) -> None:
    assert clean_text(verbatim, RULES) == cleaned


def test_numbers() -> None:
    assert kanji_to_int("二千二十四") == 2024
    assert kanji_to_int("二〇二四") == 2024
    assert kanji_to_int("十二") == 12
    assert council_number("7") == "７" and council_number("３０") == "30"


def test_segments_keep_verbatim_and_drop_pure_fillers() -> None:
    segs = clean_segments([Segment(0, 1, "えー、"), Segment(1, 2, "えー、開会します")], RULES)
    assert [(s.text, s.text_verbatim) for s in segs] == [("開会します。", "えー、開会します")]


def test_clerk_rules_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "fillers: [ほにゃ]\nstutters: false\nnumerals: {enabled: false}\n"
        "punctuation: {end_with_period: false}\nreplace:\n  - {from: 'かすみの市', to: '霞野市'}\n",
        encoding="utf-8",
    )
    custom = load_rules(rules)
    assert clean_text("ほにゃ、かすみの市の一号", custom) == "霞野市の一号"
    rules.write_text("replace:\n  - {to: x}\n", encoding="utf-8")
    with pytest.raises(RulesError, match="'from'"):
        load_rules(rules)
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")

"""Reading form answers in eleven languages, the language rule, and the forms' KB rules."""

from __future__ import annotations

import pytest

from actions import language, parsing, rules  # bot/actions, see conftest


@pytest.mark.parametrize("text, expected", [
    ("北区です", "kita"), ("I live in Kita-ku", "kita"), ("quận Kita", "kita"), ("기타구에 살아요", "kita"),
    ("ちゅうおうく", "chuo"), ("Chūō", "chuo"), ("เขตนิชิ", "nishi"), ("東區", "higashi"), ("minami", "minami"),
    ("北区と南区", None), ("たぶんあっち", None), ("", None), ("asdfgh", None),
])
def test_district_names_in_every_script(text: str, expected: str | None) -> None:
    assert parsing.district(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2歳", 2), ("8 months", 0), ("1 tuổi", 1), ("6 tháng tuổi", 0), ("3 anos", 3), ("赤ちゃん", 0),
    ("1 ขวบ", 1), ("2さい", 2), ("4", 4), ("30", None), ("わかりません", None),
])
def test_child_age(text: str, expected: int | None) -> None:
    assert parsing.child_age(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("4月", 4), ("from October", 10), ("tháng 10", 10), ("mayo", 5), ("Abril", 4), ("7", 7),
    ("来年の4月から", 4), ("10월부터", 10), ("ตุลาคม", 10), ("someday", None),
])
def test_month(text: str, expected: int | None) -> None:
    assert parsing.month(text) == expected


def test_relocation_answers_free_text_and_button_keys() -> None:
    assert parsing.moved_from("東京23区に住んでいました") == "tokyo23"
    assert parsing.moved_from("tokyo23") == "tokyo23"
    assert parsing.moved_from("大阪") is None
    assert parsing.moved_when("3ヶ月前") == "within_year"
    assert parsing.moved_when("2 years ago") == "over_year"
    assert parsing.moved_when("まだです") == "not_yet"
    assert parsing.work_status("not working") == "none"
    assert parsing.work_status("起業する予定") == "business"
    assert parsing.work_status("会社員です") == "employed"


def test_feedback_rating_and_wordless_messages() -> None:
    assert parsing.rating("👎") == "down" and parsing.rating("役に立たなかった") == "down"
    assert parsing.rating("👍") == "up" and parsing.rating("very clear, thanks") == "up"
    for typed in ("didnt help", "not correct", "no sirvio", "nao ajudou", "hindi po nakatulong",
                  "không giúp gì", "ตอบไม่ตรงคำถาม", "도움 안 됐어요"):
        assert parsing.rating(typed) == "down", typed
    for typed in ("thank you, that was right", "cảm ơn, rất hữu ích", "ขอบคุณ ชัดเจนมาก"):
        assert parsing.rating(typed) == "up", typed
    assert not parsing.has_words("😀😀🎉") and not parsing.has_words("？！")
    assert parsing.has_words("ごみ") and parsing.has_words("trash")


def test_explicit_language_choice_wins_over_detection() -> None:
    chat_switch = language.resolve({"lang": "ja", "lang_source": "detected"}, "en", "user", None)
    assert chat_switch.lang == "en"
    detected = language.resolve({"lang": "ko", "lang_source": "detected"}, "ja", "detected", None)
    assert detected.lang == "ko"
    new_ui = language.resolve({"lang": "vi", "lang_source": "ui"}, "en", "user", "ja")
    assert (new_ui.lang, new_ui.source) == ("vi", "ui")
    same_ui = language.resolve({"lang": "ja", "lang_source": "ui"}, "en", "user", "ja")
    assert same_ui.lang == "en"  # the widget repeating its default does not undo a switch
    in_form = language.resolve({"lang": "ja", "lang_source": "detected"}, "en", "detected", None, in_form=True)
    assert in_form.lang == "en"  # "北区" as a form answer does not switch an English chat
    assert language.resolve({}, None, None, None).lang == "ja"


def test_nursery_deadline_follows_the_kb_rule() -> None:
    assert rules.nursery_deadline(4) == (12, 10)
    assert rules.nursery_deadline(10) == (9, 10)
    assert rules.nursery_deadline(1) == (12, 10)
    with pytest.raises(ValueError, match="1–12"):
        rules.nursery_deadline(13)


def test_relocation_verdict_names_the_failing_condition() -> None:
    assert rules.relocation_verdict("tokyo23", "within_year", "employed") is None
    assert rules.relocation_verdict("tokyo23", "not_yet", "business") is None
    assert rules.relocation_verdict("elsewhere", "within_year", "employed") == "tokyo23"
    assert rules.relocation_verdict("tokyo23", "over_year", "employed") == "within_year"
    assert rules.relocation_verdict("tokyo23", "within_year", "none") == "work"

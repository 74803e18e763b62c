"""Language identification: scripts, kanji-only Japanese, 简/繁, and the UI's word wins."""

from __future__ import annotations

import pytest

from retrieval import detect_language, normalize_language_code


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("保育園の申し込みはいつまでですか", "ja"),
        ("保育所 申込", "ja"),  # kanji-only keywords are Japanese, not Chinese
        ("住民票", "ja"),
        # Japanese forms hanzidentifier calls simplified (当) or a mix (当 + 請): Japanese
        # when Sudachi knows every word and no Chinese function word stands alone.
        ("児童手当", "ja"),
        ("児童手当 申請 期限", "ja"),
        ("儿童补贴", "zh-Hans"),
        ("坏了的行李箱", "zh-Hans"),
        ("我想申请托儿所", "zh-Hans"),
        ("我想申請托兒所", "zh-Hant"),
        ("어린이집 신청은 언제까지예요?", "ko"),
        ("สมัครเนอสเซอรี่ได้ถึงเมื่อไหร่", "th"),
        ("When is the deadline for nursery school?", "en"),
        ("Khi nào hạn nộp đơn nhà trẻ?", "vi"),
        ("Quando é o prazo para a creche?", "pt"),
        # â, ê and ô are Portuguese letters too, not only Vietnamese ones.
        ("o que levar no exame de 4 meses do bebê", "pt"),
        ("como tirar o atestado de residência para o meu avô", "pt"),
        ("quanto é a pensão nacional por mês", "pt"),
        ("giấy chứng nhận cư trú", "vi"),
        ("¿Cuándo es la fecha límite para la guardería?", "es"),
        ("Kailan ang deadline ng aplikasyon sa nursery?", "tl"),
        # Taglish: English nouns, Tagalog grammar words; lingua alone says English.
        ("daycare application deadline kailan", "tl"),
        ("bulky garbage pickup fee magkano", "tl"),
        ("child allowance form saan", "tl"),
        ("tax certificate online pwede ba", "tl"),
        # ... and English stays English.
        ("Where is the PO box for tax forms?", "en"),
        ("Is there information in Hindi?", "en"),
        ("Where do I pay my water bill?", "en"),
    ],
)
def test_detects_supported_languages(text: str, lang: str) -> None:
    assert detect_language(text).lang == lang


def test_language_given_by_the_channel_wins() -> None:
    assert detect_language("保育園", given="en").lang == "en"
    assert detect_language("hello", given="zh-TW").lang == "zh-Hant"
    # An unsupported code from the UI is ignored, not trusted.
    assert detect_language("保育園の申し込み", given="de").lang == "ja"


def test_text_without_letters_falls_back_to_default() -> None:
    assert detect_language("😀👍", default="ja").lang == "ja"


def test_normalizes_codes() -> None:
    assert normalize_language_code("pt_BR") == "pt"
    assert normalize_language_code("fil") == "tl"
    assert normalize_language_code("xx") is None

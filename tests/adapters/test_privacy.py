"""Personal data is masked before it is logged or stored."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from adapters import privacy
from adapters.privacy import PiiMaskingFilter, mask_pii


@pytest.mark.parametrize("text, expected", [
    ("電話は090-1234-5678です", "電話は[PHONE]です"),
    ("０９０－１２３４－５６７８に電話ください", "[PHONE]に電話ください"),
    ("call 0299-00-1000 please", "call [PHONE] please"),
    ("+81 90 1234 5678", "[PHONE]"),
    ("私のマイナンバーは123456789012です", "私のマイナンバーは[MYNUMBER]です"),
    ("1234 5678 9012", "[MYNUMBER]"),
    ("mail: taro.yamada+gomi@example.co.jp", "mail: [EMAIL]"),
    ("住所は霞野市北区緑町1-2-3です", "住所は[ADDRESS]です"),
    ("緑町1丁目2番3号に住んでいます", "[ADDRESS]に住んでいます"),
    ("I live at 2-5-8 Midori-cho", "I live at [ADDRESS] Midori-cho"),
])
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text", [
    "保育園の申し込みは12月10日まで", "2026-04-01から", "4月から3歳の子", "1,000,000 yen", "北区のごみの日",
])
def test_ordinary_questions_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_log_records_are_masked() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "resident said %s", ("090-1234-5678",), None)
    assert PiiMaskingFilter().filter(record)
    assert record.getMessage() == "resident said [PHONE]"


def test_privacy_module_is_stdlib_only_for_the_rasa_side() -> None:
    # bot/tracker_store.py loads this file inside Rasa's environment.
    tree = ast.parse(Path(privacy.__file__).read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "logging", "re", "unicodedata"}


def test_cli_installs_masking_on_the_root_handler() -> None:
    import subprocess
    import sys

    code = (
        "import logging, sys\n"
        "from adapters import cli\n"
        "sys.argv = ['madoguchi', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "logging.getLogger('uvicorn.access').warning('GET /api/search?q=090-1234-5678 mail a@b.jp')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "090-1234-5678" not in done.stderr and "a@b.jp" not in done.stderr
    assert "GET /api/search" in done.stderr

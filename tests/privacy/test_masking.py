"""``mask_pii`` on seeded personal data as residents type it, the check-digit rule the
generator relies on, and the two stores/log paths that used to keep raw text."""

from __future__ import annotations

import logging
import random
import sys

import pytest

from adapters.line.store import Failure, FailureLog, LineStore
from adapters.privacy import PiiMaskingFilter, mask_pii
from tests.privacy.pii import Scanner, generate, is_my_number, my_number_check_digit

SEED = 20261125


def test_check_digit_matches_the_official_rule() -> None:
    # Worked by hand from the ordinance: 1·6 + 0·5 + … (Q = 2..7 then 2..6 from the right).
    assert my_number_check_digit("12345678901") == 8
    assert is_my_number("123456789018") and not is_my_number("123456789012")
    rng = random.Random(SEED)
    for _ in range(200):
        first = "".join(rng.choice("0123456789") for _ in range(11))
        digit = my_number_check_digit(first)
        # Exactly one check digit makes a valid number.
        assert [d for d in range(10) if is_my_number(first + str(d))] == [digit]


@pytest.mark.parametrize("seed", [SEED, SEED + 1, SEED + 2])
def test_seeded_personal_data_is_masked(seed: int) -> None:
    values = generate(seed, per_kind=25)
    scanner = Scanner(values)
    leaks = [leak for p in values for leak in scanner.leaks(mask_pii(p.message).encode(), p.message)]
    assert not leaks, "\n".join(leaks)
    # Non-vacuous: the same scanner finds every value in the unmasked messages.
    for p in values:
        assert scanner.leaks(p.message.encode(), "raw"), p


def test_every_twelve_digit_number_is_masked_even_with_a_wrong_check_digit() -> None:
    # A mistyped My Number is still personal data: mask_pii does not check the digit.
    assert mask_pii("番号は123456789018です") == "番号は[MYNUMBER]です"
    assert mask_pii("番号は123456789012です") == "番号は[MYNUMBER]です"
    assert mask_pii("受付番号 12345678901") != "受付番号 [MYNUMBER]"  # 11 digits: not one


def test_dashes_typed_by_an_ime_do_not_hide_a_number() -> None:
    assert mask_pii("０９０ー１２３４ー５６７８") == "[PHONE]"
    assert mask_pii("090‐1234‐5678") == "[PHONE]"
    assert mask_pii("1234−5678−9018") == "[MYNUMBER]"


def test_tracebacks_are_masked_too() -> None:
    try:
        raise ValueError("cannot parse '090-1234-5678' for taro@example.jp")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert PiiMaskingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "ValueError" in text and "[PHONE]" in text and "[EMAIL]" in text
    assert "090-1234-5678" not in text and "taro@example.jp" not in text


def test_undelivered_line_answers_are_kept_masked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = LineStore(tmp_path / "line.sqlite3")
    event = {
        "webhookEventId": "01HZZZZZZ123456789012345",
        "source": {"type": "user", "userId": "U0123456789abcdef0123456789abcdef"},
        "message": {"type": "text", "id": "123456789012345678", "text": "電話は090-1234-5678です"},
    }
    FailureLog(store).add(Failure(1.0, event["webhookEventId"], "U1", "HTTP 500", event, []))
    (kept,) = FailureLog(store).entries()
    store.close()
    assert kept.event["message"]["text"] == "電話は[PHONE]です"
    # Ids are kept exactly (an operator needs them to re-send).
    assert kept.event["message"]["id"] == "123456789012345678"
    assert kept.event["source"] == event["source"]
    assert b"090-1234-5678" not in (tmp_path / "line.sqlite3").read_bytes()

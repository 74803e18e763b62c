"""Rosters a clerk writes, and voices remembered between sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech import RosterError, load_roster, parse_roster
from speech.roster import VoicePrint, VoicePrintStore, hotwords, load_agenda, match_names


def test_csv_with_japanese_headers_and_defaults(tmp_path: Path) -> None:
    roster = parse_roster("\ufeff氏名,役職,敬称\n山田 太郎,議長,\n田中美咲,３番,議員\n", ".csv", tmp_path)
    assert roster.names() == ("山田 太郎", "田中美咲")
    assert roster.get("山田 太郎").role == "議長" and roster.get("山田 太郎").honorific == "君"
    assert roster.get("田中美咲").honorific == "議員"


def test_yaml_roster_with_voice(tmp_path: Path) -> None:
    (tmp_path / "yamada.wav").write_bytes(b"RIFF")
    path = tmp_path / "roster.yaml"
    path.write_text("speakers:\n  - {name: 山田太郎, role: 議長, voice: yamada.wav}\n", "utf-8")
    entry = load_roster(path).entries[0]
    assert entry.voice == tmp_path / "yamada.wav"


def test_duplicate_names_are_an_error_naming_both_rows(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("name,role\n山田太郎,議長\n佐藤花子,市長\n山田太郎,３番\n", "utf-8")
    with pytest.raises(RosterError, match=r"roster.csv: roster lists '山田太郎' twice \(rows 2 and 4\)"):
        load_roster(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("name,role\n,議長\n", "row 2 has no name"), ("name,role\n", "no entries")],
)
def test_bad_rosters(text: str, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        parse_roster(text)


def test_missing_voice_sample(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("name,role,voice\n山田太郎,議長,nope.wav\n", "utf-8")
    with pytest.raises(RosterError, match="voice sample of 山田太郎 not found"):
        load_roster(path)


def test_hotwords_and_agenda(tmp_path: Path) -> None:
    agenda = tmp_path / "agenda.txt"
    agenda.write_text("# 議事日程\n議案第12号\n\n霞野市子ども条例\n", "utf-8")
    roster = parse_roster("name,role\n山田 太郎,議長\n田中美咲,議長\n")
    assert hotwords(roster, load_agenda(agenda)) == (
        "山田太郎", "議長", "田中美咲", "議案第12号", "霞野市子ども条例"
    )


def test_store_remembers_and_matches(tmp_path: Path) -> None:
    store = VoicePrintStore(tmp_path / "voiceprints.json")
    assert store.load() == {}
    a, b = np.eye(4, dtype=np.float32)[:2]
    store.remember([VoicePrint("山田太郎", "議長", a), VoicePrint("佐藤花子", "市長", b)])
    prints = store.load()
    assert set(prints) == {"山田太郎", "佐藤花子"} and prints["山田太郎"].role == "議長"
    cents = np.array([[0.1, 0.99, 0, 0], [0, 0, 1, 0], [0.98, 0.1, 0, 0]])
    named = match_names(cents, list(prints.values()), threshold=0.8)
    assert {k: v.name for k, v in named.items()} == {0: "佐藤花子", 2: "山田太郎"}
    (tmp_path / "voiceprints.json").write_text("{broken", "utf-8")
    with pytest.raises(RosterError, match="unreadable"):
        store.load()

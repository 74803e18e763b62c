"""Pure formatting rules: timestamps, speaker labels, 会議録 paragraphs, subtitles, JSON."""

from __future__ import annotations

import pytest

from speech import (
    MeetingInfo,
    Minutes,
    Segment,
    Speaker,
    Transcript,
    UnsupportedFormatError,
    Word,
    build_minutes,
    format_timestamp,
    minutes_to_dict,
    render_minutes,
    render_srt,
    render_transcript,
    render_vtt,
    speaker_label,
)
from speech.export import check_formats, output_name


@pytest.mark.parametrize(
    ("seconds", "fmt", "expected"),
    [
        (0.0, "transcript", "00:00:00.00"),
        (1.2, "transcript", "00:00:01.20"),
        (3661.5, "transcript", "01:01:01.50"),
        (59.999, "transcript", "00:01:00.00"),
        (62.5, "srt", "00:01:02,500"),
        (62.5, "vtt", "00:01:02.500"),
        (7325.042, "srt", "02:02:05,042"),
    ],
)
def test_format_timestamp(seconds: float, fmt, expected: str) -> None:
    assert format_timestamp(seconds, fmt) == expected


def test_format_timestamp_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="-1"):
        format_timestamp(-1.0)
    with pytest.raises(ValueError, match="'ass'"):
        format_timestamp(1.0, "ass")  # type: ignore[arg-type]


def test_render_transcript_lines() -> None:
    segs = [
        Segment(1.2, 4.8, " これより本会議を開会いたします。"),
        Segment(5.0, 7.25, "審議します。"),
    ]
    assert render_transcript(segs) == (
        "[00:00:01.20 → 00:00:04.80] これより本会議を開会いたします。\n"
        "[00:00:05.00 → 00:00:07.25] 審議します。\n"
    )
    assert render_transcript([]) == ""


@pytest.mark.parametrize(
    ("speaker", "label"),
    [
        (Speaker("A"), "発言者A"),
        (Speaker("chair", name="山田太郎", role="議長"), "議長（山田太郎君）"),
        (Speaker("m3", name="佐藤花子", role="３番"), "３番（佐藤花子君）"),
        (Speaker("x", name="竹野兼主", role="議長", honorific="議員"), "議長（竹野兼主議員）"),
        (Speaker("mayor", role="市長"), "市長"),
    ],
)
def test_speaker_label(speaker: Speaker, label: str) -> None:
    assert speaker_label(speaker) == label


def _minutes() -> Minutes:
    roster = (
        Speaker("chair", name="山田太郎", role="議長"),
        Speaker("mayor", name="森智広", role="市長"),
    )
    segs = (
        Segment(0.0, 2.0, "ただいまから本会議を開きます。", speaker="chair"),
        Segment(2.0, 4.0, "日程第１、議案第１号を議題とします。", speaker="chair"),
        Segment(4.0, 6.0, "予算案を御説明申し上げます。", speaker="mayor"),
        Segment(6.0, 7.0, "以上です。", speaker="chair"),
    )
    return Minutes(
        MeetingInfo(title="令和7年3月定例会", date="令和7年3月3日", place="本会議場"), roster, segs
    )


def test_render_minutes_joins_turns_and_labels_speakers() -> None:
    lines = render_minutes(_minutes()).splitlines()
    assert lines[:3] == ["会議名　令和7年3月定例会", "日時　令和7年3月3日", "場所　本会議場"]
    speeches = [line for line in lines if line.startswith("○")]
    assert speeches == [
        "○議長（山田太郎君）　ただいまから本会議を開きます。日程第１、議案第１号を議題とします。",
        "○市長（森智広君）　予算案を御説明申し上げます。",
        "○議長（山田太郎君）　以上です。",
    ]


def test_build_minutes_defaults_to_speaker_a() -> None:
    transcript = Transcript(
        (Segment(0, 1, "開会します。"), Segment(1, 2, "審議します。")), 2.0, "ja", 1.0
    )
    minutes = build_minutes(transcript, MeetingInfo(title="t", source="t.wav", duration=2.0))
    assert [s.speaker for s in minutes.segments] == ["A", "A"]
    assert minutes.speakers == (Speaker("A"),)
    text = render_minutes(minutes)
    assert "○発言者A　開会します。審議します。\n" in text
    assert "録音　t.wav（00:00:02）" in text
    assert "日時" not in text  # unknown header facts are left out


def test_subtitles() -> None:
    minutes = _minutes()
    srt = render_srt(minutes)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,000\nただいまから本会議を開きます。\n\n2\n")
    vtt = render_vtt(minutes)
    assert vtt.startswith(
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v 議長（山田太郎君）>ただいまから"
    )
    assert "<v 市長（森智広君）>予算案を御説明申し上げます。" in vtt


def test_json_schema() -> None:
    seg = Segment(0.5, 1.5, "開会", (Word(0.5, 1.0, "開", 0.9), Word(1.0, 1.5, "会", 0.8)), "A")
    data = minutes_to_dict(Minutes(MeetingInfo(title="t"), (Speaker("A"),), (seg,)))
    assert set(data) == {"meeting", "speakers", "segments"}
    assert data["speakers"] == [{"id": "A", "name": None, "role": None}]
    (out,) = data["segments"]
    assert set(out) == {"start", "end", "speaker", "text", "text_verbatim", "words"}
    assert out["text_verbatim"] == out["text"] == "開会"
    assert out["words"][1] == {"start": 1.0, "end": 1.5, "word": "会", "probability": 0.8}


def test_formats() -> None:
    assert check_formats(["TXT", " json", "txt"]) == ("txt", "json")
    with pytest.raises(UnsupportedFormatError, match="pdf"):
        check_formats(["txt", "pdf"])
    assert output_name("meeting", "txt") == "meeting.minutes.txt"
    assert output_name("meeting", "transcript") == "meeting.transcript.txt"

"""Job folders survive a restart; exports round-trip; DOCX carries Japanese fonts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from speech import (
    JobError,
    MeetingInfo,
    Minutes,
    Segment,
    Speaker,
    SpeechError,
    SpeechSettings,
    Word,
    load_minutes_json,
    minutes_to_dict,
    render_minutes,
    write_exports,
)
from speech.checkpoint import ChunkResult, JobDir, audio_identity, fingerprint
from speech.layout import stage_direction
from speech.vad import Span

MINUTES = Minutes(
    MeetingInfo(title="霞野市議会定例会", date="令和7年6月10日", place="議場", attendees=("議長　山田太郎",)),
    (Speaker("A", "山田太郎", "議長"), Speaker("B"), Speaker("C", "田中美咲", "３番", "議員")),
    (
        Segment(0.0, 2.0, "ただいまから会議を開きます。", (Word(0.0, 0.5, "ただ", 0.9),), "A", "えー、ただいまから会議を開きます"),
        Segment(2.5, 3.0, "異議なし。", (), "B"),
        Segment(3.5, 6.0, "質問します。", (), "C"),
    ),
)


def test_job_dir_round_trip_and_identity(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x" * 10)
    job = JobDir(tmp_path / "job")
    settings_print = fingerprint(SpeechSettings(), ("議長",))
    state = job.open(audio_identity(audio), settings_print)
    assert state["language"] is None and job.load_chunk(0) is None
    result = ChunkResult(
        0, 0.0, 300.0, MINUTES.segments[:1], (Span(0.1, 1.6),), np.ones((1, 256), np.float32), "ja", 1.5
    )
    job.save_chunk(result)
    loaded = job.load_chunk(0)
    assert loaded is not None and loaded.segments[0].words == MINUTES.segments[0].words
    assert loaded.windows == (Span(0.1, 1.6),) and loaded.embeddings.shape == (1, 256)
    # Same recording, same settings: checkpoints kept; other settings: cleared.
    job.open(audio_identity(audio), settings_print)
    assert job.load_chunk(0) is not None
    job.open(audio_identity(audio), fingerprint(SpeechSettings(beam_size=1), ()))
    assert job.load_chunk(0) is None
    other = tmp_path / "b.wav"
    other.write_bytes(b"y")
    with pytest.raises(JobError, match="belongs to"):
        job.open(audio_identity(other), settings_print)


def test_minutes_layout_header_attendees_and_stage_directions() -> None:
    text = render_minutes(MINUTES, timestamps=True)
    assert "会議名　霞野市議会定例会" in text and "出席者（1名）" in text
    assert "○議長（山田太郎君）　ただいまから会議を開きます。" in text
    assert "　　　　〔「異議なし」と呼ぶ者あり〕" in text
    assert "○３番（田中美咲議員）　質問します。" in text
    assert "［00:00:03］" in text
    assert stage_direction("（拍手）") == "〔拍手〕" and stage_direction("拍手します") is None


def test_json_round_trip(tmp_path: Path) -> None:
    write_exports(MINUTES, tmp_path, "m", ["json"])
    data = json.loads((tmp_path / "m.json").read_text("utf-8"))
    assert data["segments"][0]["text_verbatim"] == "えー、ただいまから会議を開きます"
    assert data["segments"][1]["text_verbatim"] == "異議なし。"
    assert load_minutes_json(tmp_path / "m.json") == MINUTES
    data["speakers"][1]["name"] = "佐藤花子"  # the clerk names 発言者B
    (tmp_path / "m.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    assert load_minutes_json(tmp_path / "m.json").speaker("B").name == "佐藤花子"
    del data["segments"][0]["start"]
    (tmp_path / "m.json").write_text(json.dumps(data), "utf-8")
    with pytest.raises(SpeechError, match="does not follow the export schema"):
        load_minutes_json(tmp_path / "m.json")
    assert minutes_to_dict(MINUTES)["meeting"]["attendees"] == ["議長　山田太郎"]


def test_docx_sets_east_asian_font(tmp_path: Path) -> None:
    (path,) = write_exports(MINUTES, tmp_path, "m", ["docx"])
    xml = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    assert "○議長（山田太郎君）　ただいまから会議を開きます。" in xml
    assert 'w:eastAsia="游明朝"' in xml
    styles = zipfile.ZipFile(path).read("word/styles.xml").decode("utf-8")
    assert 'w:eastAsia="游明朝"' in styles


def test_srt_and_vtt_name_speakers(tmp_path: Path) -> None:
    write_exports(MINUTES, tmp_path, "m", ["vtt", "srt"])
    vtt = (tmp_path / "m.vtt").read_text("utf-8")
    assert vtt.startswith("WEBVTT") and "<v 議長（山田太郎君）>ただいまから" in vtt
    assert "<v 発言者B>異議なし。" in vtt
    assert "00:00:02,500 --> 00:00:03,000" in (tmp_path / "m.srt").read_text("utf-8")


def test_remember_names_given_in_the_editor(tmp_path: Path) -> None:
    from speech import remember_speakers
    from speech.roster import VoicePrintStore

    job = tmp_path / "job"
    job.mkdir()
    np.savez(job / "speakers.npz", A=np.eye(3)[0], B=np.eye(3)[1], C=np.eye(3)[2])
    write_exports(MINUTES, tmp_path, "m", ["json"])
    data = json.loads((tmp_path / "m.json").read_text("utf-8"))
    data["speakers"][1].update(name="佐藤花子", role="市長")
    (tmp_path / "m.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    settings = SpeechSettings(data_dir=tmp_path / "data")
    assert remember_speakers(tmp_path / "m.json", job, settings) == ["山田太郎", "佐藤花子", "田中美咲"]
    prints = VoicePrintStore(tmp_path / "data" / "voiceprints.json").load()
    assert prints["佐藤花子"].role == "市長" and prints["佐藤花子"].embedding[1] == pytest.approx(1)
    with pytest.raises(SpeechError, match="no speaker voices"):
        remember_speakers(tmp_path / "m.json", tmp_path, settings)

"""The minutes job end to end with the real Whisper base model on synthesized speech."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech import (
    AudioFileNotFound,
    NoSpeechError,
    NotAudioError,
    OutputDirError,
    SpeechSettings,
    run_minutes_job,
)


@pytest.mark.slow
def test_job_transcribes_meeting(
    meeting_wav: Path, speech_settings: SpeechSettings, tmp_path: Path
) -> None:
    progress: list[tuple[float, float]] = []
    out = tmp_path / "out"
    result = run_minutes_job(
        meeting_wav,
        out,
        speech_settings,
        ("txt", "transcript", "json", "srt", "vtt"),
        on_progress=lambda done, total: progress.append((done, total)),
    )

    assert sorted(p.name for p in out.iterdir()) == [
        "honkaigi.json",
        "honkaigi.minutes.txt",
        "honkaigi.srt",
        "honkaigi.transcript.txt",
        "honkaigi.vtt",
    ]
    assert result.language == "ja" and result.audio_duration == pytest.approx(7, abs=1.5)
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1] == result.audio_duration
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)

    minutes = (out / "honkaigi.minutes.txt").read_text(encoding="utf-8")
    speech_lines = [line for line in minutes.splitlines() if line.startswith("○")]
    assert len(speech_lines) == 1 and speech_lines[0].startswith("○発言者A　")
    for word in ("本会議", "開会", "予算"):
        assert word in speech_lines[0]

    data = json.loads((out / "honkaigi.json").read_text(encoding="utf-8"))
    assert data["meeting"]["source"] == "honkaigi.wav"
    assert data["speakers"] == [{"id": "A", "name": None, "role": None}]
    starts = [w["start"] for s in data["segments"] for w in s["words"]]
    assert starts and starts == sorted(starts)
    for seg in data["segments"]:
        assert 0 <= seg["start"] < seg["end"] <= result.audio_duration + 0.5
        assert seg["speaker"] == "A" and seg["text_verbatim"].strip()
        assert set(seg["words"][0]) == {"start", "end", "word", "probability"}
    assert "<v 発言者A>" in (out / "honkaigi.vtt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_silence_is_a_clear_error_not_hallucinations(
    silence_wav, speech_settings: SpeechSettings, tmp_path: Path
) -> None:
    with pytest.raises(NoSpeechError, match=r"quiet.wav: no speech found in 5.0 s"):
        run_minutes_job(silence_wav("quiet.wav", 5), tmp_path / "out", speech_settings)
    assert not (tmp_path / "out").exists()


def test_bad_input_fails_before_the_model_is_needed(tmp_path: Path) -> None:
    # The model path does not exist: an audio error proves the audio was checked first.
    settings = SpeechSettings(model_path=tmp_path / "no-model")
    fake = tmp_path / "meeting.wav"
    fake.write_text("not audio")
    with pytest.raises(NotAudioError):
        run_minutes_job(fake, tmp_path / "out", settings)
    with pytest.raises(AudioFileNotFound):
        run_minutes_job(tmp_path / "missing.wav", tmp_path / "out", settings)
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file(
    silence_wav, speech_settings: SpeechSettings, tmp_path: Path
) -> None:
    blocker = tmp_path / "minutes"
    blocker.write_text("a file, not a folder")
    audio = silence_wav("quiet.wav", 1)
    with pytest.raises(OutputDirError, match="not a directory"):
        run_minutes_job(audio, blocker, speech_settings)
    with pytest.raises(OutputDirError, match="cannot create output directory"):
        run_minutes_job(audio, blocker / "sub", speech_settings)


@pytest.mark.slow
def test_failure_while_writing_leaves_nothing(
    meeting_wav: Path, speech_settings: SpeechSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from speech import export

    def explode(minutes, timestamps):
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(export._WRITERS, "json", explode)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("clerk's notes")
    with pytest.raises(OSError, match="No space left"):
        run_minutes_job(meeting_wav, out, speech_settings)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]

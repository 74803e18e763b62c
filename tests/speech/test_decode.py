"""Probing recordings: bad inputs fail fast with a message naming the file and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from speech import AudioFileNotFound, EmptyAudioError, NotAudioError, probe_audio


def test_probe_reads_duration(silence_wav) -> None:
    info = probe_audio(silence_wav("quiet.wav", 2.5))
    assert info.duration == pytest.approx(2.5)
    assert (info.sample_rate, info.channels) == (16_000, 1)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileNotFound, match="nope.wav: no such file"):
        probe_audio(tmp_path / "nope.wav")


def test_text_file_renamed_wav(tmp_path: Path) -> None:
    fake = tmp_path / "meeting.wav"
    fake.write_text("議事日程（第１号）\n", encoding="utf-8")
    with pytest.raises(NotAudioError, match="meeting.wav is not an audio file ffmpeg can read"):
        probe_audio(fake)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(EmptyAudioError, match=r"empty \(0 bytes\)"):
        probe_audio(empty)


def test_wav_without_samples(silence_wav) -> None:
    with pytest.raises(EmptyAudioError, match="duration 0"):
        probe_audio(silence_wav("header-only.wav", 0))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(NotAudioError, match="is not a file"):
        probe_audio(tmp_path)

"""Probing recordings: bad inputs fail fast with a message naming the file and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import numpy as np

from speech import (
    AudioFileNotFound,
    AudioTooLongError,
    EmptyAudioError,
    NotAudioError,
    probe_audio,
)
from speech.decode import stream_chunks


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


def test_choose_cut_picks_the_quiet_stretch() -> None:
    import numpy as np

    from speech.decode import choose_cut

    loud = np.ones(16_000, dtype=np.float32)
    loud[9_000:9_800] = 0.0
    cut = choose_cut(loud, 4_000, 16_000, window=400)
    assert 9_000 <= cut <= 9_800
    with pytest.raises(ValueError, match="lo < hi"):
        choose_cut(loud, 5, 5)


def test_stream_chunks_cover_the_recording_exactly(silence_wav) -> None:
    from speech.decode import SAMPLE_RATE, stream_chunks

    chunks = list(stream_chunks(silence_wav("long.wav", 95), chunk_seconds=40, search_seconds=5))
    assert [c.index for c in chunks] == [0, 1, 2]
    assert chunks[0].start == 0 and 35 <= chunks[0].duration <= 40
    for a, b in zip(chunks, chunks[1:]):
        assert b.start == pytest.approx(a.end)
    assert sum(len(c.samples) for c in chunks) == 95 * SAMPLE_RATE


def test_video_without_audio_stream(tmp_path: Path) -> None:
    import av
    import numpy as np

    path = tmp_path / "camera.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height = 32, 32
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with pytest.raises(NotAudioError, match="camera.mp4 has no audio stream"):
        probe_audio(path)


def test_truncated_file_is_not_audio(tmp_path: Path, silence_wav) -> None:
    whole = silence_wav("whole.wav", 1).read_bytes()
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + whole[100:300])
    with pytest.raises((NotAudioError, EmptyAudioError)):
        probe_audio(broken)


def _ogg(path: Path, seconds: float, freq: float) -> bytes:
    """An Opus-in-Ogg tone, written with PyAV; returns the file's bytes."""
    import av

    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        t = np.arange(int(seconds * 48_000)) / 48_000
        tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = 48_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path.read_bytes()


def test_a_header_that_lies_about_the_duration_is_stopped_at_the_limit(tmp_path: Path) -> None:
    # A chained Ogg (30 s stream, then a 2 s one): ffmpeg reads the duration from the last
    # page, so the header says 2 s while 32 s decode.
    liar = tmp_path / "liar.ogg"
    liar.write_bytes(_ogg(tmp_path / "a.ogg", 30, 440) + _ogg(tmp_path / "b.ogg", 2, 220))
    assert probe_audio(liar).duration < 3

    with pytest.raises(AudioTooLongError, match=r"liar\.ogg is longer than the longest"):
        for _ in stream_chunks(liar, 40.0, max_seconds=10.0):
            pass
    decoded = sum(c.duration for c in stream_chunks(liar, 40.0, max_seconds=60.0))
    assert decoded == pytest.approx(32, abs=0.1)


def test_a_recording_over_the_limit_fails_before_the_model_is_needed(
    silence_wav, tmp_path: Path
) -> None:
    from speech import SpeechSettings, run_minutes_job

    settings = SpeechSettings(
        model_path=tmp_path / "no-model", data_dir=tmp_path / "data", max_audio_seconds=5.0
    )
    with pytest.raises(AudioTooLongError, match=r"over 6\.0 s of audio, limit 5\.0 s"):
        run_minutes_job(silence_wav("long.wav", 6.0), tmp_path / "out", settings)
    assert not (tmp_path / "out").exists()

"""``madoguchi minutes transcribe`` as a clerk meets it.

One clear line and exit code 2 on mistakes, no traceback, no stray files; the files on success.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli_minutes import _standalone

REPO_ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _run(*args: str | Path):
    return runner.invoke(_standalone(), ["minutes", "transcribe", *map(str, args)])


def _assert_one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "meeting.wav"
    text.write_text("議事日程（第１号）\n", encoding="utf-8")
    empty = tmp_path / "empty.wav"
    empty.touch()
    return {
        "missing": (tmp_path / "nope.wav", "no such file"),
        "text": (text, "is not an audio file ffmpeg can read"),
        "empty": (empty, "is empty (0 bytes)"),
    }


@pytest.mark.parametrize("case", ["missing", "text", "empty"])
def test_bad_audio(case: str, tmp_path: Path) -> None:
    audio, expected = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    _assert_one_line_error(_run(audio, "-o", out), expected)
    assert not out.exists()


def test_unwritable_out_dir(silence_wav, tmp_path: Path) -> None:
    audio = silence_wav("quiet.wav", 1)
    blocker = tmp_path / "minutes.txt"
    blocker.write_text("a file where the folder should be")
    _assert_one_line_error(_run(audio, "-o", blocker), "is not a directory")
    _assert_one_line_error(_run(audio, "-o", blocker / "out"), "cannot create output directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minutes.txt", "quiet.wav"]


def test_unknown_format_and_missing_model(silence_wav, tmp_path: Path) -> None:
    audio = silence_wav("quiet.wav", 1)
    _assert_one_line_error(_run(audio, "-o", tmp_path / "o", "--format", "txt,pdf"), "pdf")
    result = _run(audio, "-o", tmp_path / "o", "--model", tmp_path / "none")
    _assert_one_line_error(result, "madoguchi models install")
    assert not (tmp_path / "o").exists()


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    fake = tmp_path / "meeting.wav"
    fake.write_text("not audio")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters.cli_minutes",
            "minutes",
            "transcribe",
            str(fake),
            "-o",
            str(tmp_path / "out"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: meeting.wav is not an audio file ffmpeg can read: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_transcribe_writes_files(
    meeting_wav: Path, speech_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_SPEECH__DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "out"
    result = _run(
        meeting_wav, "-o", out, "--model", speech_settings.model_path, "--format", "txt,srt"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        str(out / "honkaigi.minutes.txt"),
        str(out / "honkaigi.srt"),
    ]
    assert "○発言者A　" in (out / "honkaigi.minutes.txt").read_text(encoding="utf-8")
    assert "real time" in result.stderr


def test_roster_with_duplicate_names(silence_wav, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,role\n山田太郎,議長\n山田太郎,３番\n", encoding="utf-8")
    result = _run(silence_wav("quiet.wav", 1), "-o", tmp_path / "out", "--roster", roster)
    _assert_one_line_error(result, "roster lists '山田太郎' twice (rows 2 and 3)")
    assert not (tmp_path / "out").exists()


def test_silence_only(
    silence_wav, speech_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MADOGUCHI_SPEECH__DATA_DIR", str(tmp_path / "data"))
    result = _run(
        silence_wav("quiet.wav", 3), "-o", tmp_path / "out", "--model", speech_settings.model_path
    )
    _assert_one_line_error(result, "quiet.wav: no speech found in 3.0 s of audio")
    assert not (tmp_path / "out").exists()
    assert not list((tmp_path / "data").glob("jobs/*"))


def test_video_without_audio(tmp_path: Path) -> None:
    import av
    import numpy as np

    video = tmp_path / "camera.mp4"
    with av.open(str(video), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height = 32, 32
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    _assert_one_line_error(_run(video, "-o", tmp_path / "out"), "camera.mp4 has no audio stream")
    assert not (tmp_path / "out").exists()


def test_workers_and_threads_reach_the_settings(silence_wav, tmp_path: Path) -> None:
    from adapters.cli_minutes import _speech_settings

    settings = _speech_settings(None, "auto", workers=3, threads=1)
    assert (settings.workers, settings.cpu_threads, settings.language) == (3, 1, None)
    defaults = _speech_settings(None, None)
    assert (defaults.workers, defaults.cpu_threads) == (2, 1)

    result = _run(silence_wav("quiet.wav", 1.0), "-o", tmp_path / "out", "--workers", "0")
    assert result.exit_code == 2 and "--workers" in result.output
    assert not (tmp_path / "out").exists()

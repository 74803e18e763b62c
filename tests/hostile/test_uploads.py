"""Hostile uploads (issue 8): file names that try to leave the upload folder, sizes that lie,
and recordings that are small on the wire but hours (or days) long once decoded.

File names are generated (path separators of every kind, ``..``, NUL, bidi overrides,
full-width dots and slashes, names longer than a file system allows) and every upload must
end up as one file directly inside its own folder under ``clerk/uploads``, nothing written
anywhere else. Duration limits are checked from the container header before anything is
decoded, after the first chunk when the header is in it.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from adapters.line.handlers import VoiceTooLong
from tests.hostile.fuzzing import Tally, generate

_TRICKS = st.sampled_from([
    "..", ".", "/", "\\", "\x00", "../", "..\\", "%2e%2e%2f", "..%c0%af", "\u202e", "\u2215",
    "\uff0e\uff0e\uff0f", "\u2024\u2024/", "~", "C:", "\\\\?\\", "\ufeff", " ", "\n", "etc",
    "passwd", "/etc/passwd", ".wav", "あ" * 90, "x" * 200, "\u0301", "con", "clerk.db",
])
FILENAMES = (
    st.lists(_TRICKS | st.text(max_size=12), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda s: 1 <= len(s) <= 255)
)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_generated_file_names_never_leave_the_upload_folder(
    gateway: TestClient, clerk_headers: dict[str, str], fuzz_settings: Any
) -> None:
    data = Path(fuzz_settings.storage.data_dir)
    uploads = (data / "clerk" / "uploads").resolve()
    before = _files(data)
    store = gateway.app.state.clerk_store  # type: ignore[attr-defined]
    tally = Tally("POST /api/clerk/uploads (hostile file names)")
    stored: list[Path] = []

    def upload(name: str) -> None:
        r = tally.send(gateway, "POST", "/api/clerk/uploads", json={"filename": name, "size": 10},
                       headers=clerk_headers)
        assert r is not None and r.status_code == 201, (name, r and r.text)
        stored.append(store.upload(r.json()["id"]).path)

    generate(FILENAMES, 300, upload)
    tally.check(minimum=250)
    for path in stored:
        assert path.resolve().parent.parent == uploads, path
        assert path.is_file() and len(path.name.encode()) <= 255
        assert path.name not in ("", ".", "..") and "/" not in path.name and "\0" not in path.name
    new = _files(data) - before
    assert new and all(p.resolve().is_relative_to(uploads) for p in new), sorted(
        p for p in new if not p.resolve().is_relative_to(uploads)
    )


def _declare(gateway: TestClient, h: dict[str, str], size: int, name: str = "x.wav") -> Any:
    return gateway.post("/api/clerk/uploads", json={"filename": name, "size": size}, headers=h)


def _send(gateway: TestClient, h: dict[str, str], data: bytes, declared: int | None = None) -> Any:
    r = _declare(gateway, h, declared or len(data))
    assert r.status_code == 201, r.text
    upload_id = r.json()["id"]
    return upload_id, gateway.put(f"/api/clerk/uploads/{upload_id}?offset=0", content=data,
                                  headers=h)


@pytest.mark.parametrize("size", [0, -1, 8 * 1024**3 + 1, 10**30])
def test_impossible_declared_sizes_are_refused_at_once(
    gateway: TestClient, clerk_headers: dict[str, str], size: int
) -> None:
    r = _declare(gateway, clerk_headers, size)
    assert r.status_code in (400, 413, 422), r.text


def test_a_chunk_longer_than_declared_is_refused_and_not_kept(
    gateway: TestClient, clerk_headers: dict[str, str]
) -> None:
    upload_id, r = _send(gateway, clerk_headers, _wav_header(1000) + b"\0" * 2000, declared=100)
    assert r.status_code == 413
    store = gateway.app.state.clerk_store  # type: ignore[attr-defined]
    assert store.upload(upload_id).path.stat().st_size == 0


def _wav_header(data_bytes: int, rate: int = 16_000) -> bytes:
    """A 16-bit mono PCM WAV header announcing ``data_bytes`` of samples."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", min(36 + data_bytes, 0xFFFFFFFF)) + b"WAVE"
            + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))


def _flac(seconds: float, rate: int = 8000) -> bytes:
    """Real FLAC-encoded silence at 8 kHz: about 11 KB a minute (PCM: 960 KB)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate)
        stream.layout = "mono"
        block = 4096
        zeros = np.zeros((1, block), dtype=np.int16)
        for i in range(int(seconds * rate / block)):
            frame = av.AudioFrame.from_ndarray(zeros, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, i * block
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _claiming(flac: bytes, samples: int) -> bytes:
    """``flac`` with STREAMINFO's total-samples field (36 bits at byte 21) set to ``samples``."""
    head = int.from_bytes(flac[18:26], "big")
    head = (head & ~((1 << 36) - 1)) | samples
    return flac[:18] + head.to_bytes(8, "big") + flac[26:]


def test_a_wav_header_claiming_37_hours_is_measured_by_the_bytes_sent(
    gateway: TestClient, clerk_headers: dict[str, str]
) -> None:
    # PCM cannot be compressed: ffmpeg bounds a WAV's duration by its size, so a lying
    # header buys nothing — the recording is what was sent (1 s), not what it claims.
    data = _wav_header(0xFFFFFF00) + b"\0" * 32_000
    _, r = _send(gateway, clerk_headers, data)
    assert r.status_code == 200 and r.json()["duration"] == pytest.approx(1.0), r.text


def test_a_tiny_flac_claiming_13_hours_is_refused_after_its_first_chunk(
    gateway: TestClient, clerk_headers: dict[str, str]
) -> None:
    small = _claiming(_flac(1.0), 13 * 3600 * 8000)
    # Declared as 100 MB: the first chunk (the whole file, ~8 KB) must be enough to refuse it.
    upload_id, r = _send(gateway, clerk_headers, small, declared=100_000_000)
    assert r.status_code == 413 and "13:00:00" in r.json()["detail"], r.text
    assert len(small) < 16 * 1024


def test_compressed_silence_longer_than_the_limit_is_refused(
    gateway: TestClient, clerk_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = gateway.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings.clerk, "max_recording_s", 60.0)
    bomb = _flac(10 * 60)  # ten minutes of audio, 80 times smaller than decoded
    assert len(bomb) * 50 < 10 * 60 * 8000 * 2
    _, r = _send(gateway, clerk_headers, bomb)
    assert r.status_code == 413 and "0:09:5" in r.json()["detail"], r.text
    _, ok = _send(gateway, clerk_headers, _flac(30))
    assert ok.status_code == 200 and ok.json()["complete"], ok.text


def test_a_line_voice_message_over_the_limit_is_not_transcribed(gateway: TestClient) -> None:
    bot = gateway.app.state.line.bot  # type: ignore[attr-defined]
    with pytest.raises(VoiceTooLong):
        bot._transcribe_bytes(_flac(6 * 60))  # LINE's limit is 5 minutes  # raises before Whisper is even loaded
    assert gateway.app.state.line._transcriber is None  # type: ignore[attr-defined]

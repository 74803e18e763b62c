"""Job folders: per-chunk checkpoints that make a killed minutes job resumable.

A six-hour session takes the better part of an hour to transcribe; a power cut, a reboot or a
clerk's Ctrl-C must not cost it all. Each finished chunk leaves two files in the job folder:
``chunk-00007.json`` (its segments and words, and the chunk's span) and ``chunk-00007.npz``
(its embedding windows and their speaker embeddings). Both are written to a temp name and
renamed, the JSON last, so a chunk is either wholly there or not at all. On restart the job
re-decodes the recording (cheap next to Whisper; chunk boundaries depend only on the samples, so
they come out identical), loads finished chunks instead of recomputing them, and continues; the
final clustering and layout run over all chunks either way, so a resumed run gives the same
minutes as an uninterrupted one.

``job.json`` records which recording and which settings the checkpoints belong to; a folder made
for another recording is refused, one made with other settings is cleared and started over.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from speech.config import SpeechSettings
from speech.errors import JobError
from speech.types import Segment, Word
from speech.vad import Span

_VERSION = 1


@dataclass(frozen=True)
class ChunkResult:
    """Everything the job keeps of one chunk."""

    index: int
    start: float
    end: float
    segments: tuple[Segment, ...]
    windows: tuple[Span, ...]
    embeddings: np.ndarray
    language: str
    speech_seconds: float


def fingerprint(settings: SpeechSettings, hotwords: tuple[str, ...]) -> dict[str, Any]:
    """The settings a checkpoint's content depends on."""
    return {
        "version": _VERSION,
        "model": str(settings.model_path.resolve()),
        "compute_type": settings.compute_type,
        "beam_size": settings.beam_size,
        "language": settings.language,
        "chunk_seconds": settings.chunk_seconds,
        "piece_seconds": settings.piece_seconds,
        "diarize": settings.diarize,
        "speaker_model": str(settings.speaker_model_path or ""),
        "hotwords": list(hotwords),
    }


def audio_identity(audio: Path) -> dict[str, Any]:
    """Name, size and modification time: enough to notice a different or changed recording."""
    st = audio.stat()
    return {"path": str(audio.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def default_job_dir(data_dir: Path, audio: Path) -> Path:
    """``<data_dir>/jobs/<stem>-<hash of path and size>``: one folder per recording."""
    ident = audio_identity(audio)
    digest = hashlib.sha1(f"{ident['path']}\0{ident['size']}".encode()).hexdigest()[:12]
    return data_dir / "jobs" / f"{audio.stem}-{digest}"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class JobDir:
    """A job folder: its identity file and chunk checkpoints."""

    def __init__(self, path: Path) -> None:
        """Use ``path`` (not touched until ``open``)."""
        self.path = path

    def open(self, identity: dict[str, Any], settings_print: dict[str, Any]) -> dict[str, Any]:
        """Create or reuse the folder; return its state (``{"language": …}`` etc.).

        Raises:
            JobError: The folder belongs to another recording or cannot be written.
        """
        state_file = self.path / "job.json"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else None
        except (OSError, ValueError) as exc:
            raise JobError(f"cannot use job folder {self.path}: {exc}") from exc
        if state is not None and state.get("audio", {}).get("path") != identity["path"]:
            raise JobError(
                f"job folder {self.path} belongs to {state['audio'].get('path')}, not "
                f"{identity['path']}; choose another --job-dir"
            )
        if state is None or state.get("audio") != identity or state.get("settings") != settings_print:
            self._clear_chunks()
            state = {"audio": identity, "settings": settings_print, "language": None}
            self.save_state(state)
        return state

    def save_state(self, state: dict[str, Any]) -> None:
        """Write ``job.json`` atomically."""
        _atomic_write(self.path / "job.json", json.dumps(state, ensure_ascii=False).encode())

    def _clear_chunks(self) -> None:
        for p in self.path.glob("chunk-*"):
            p.unlink(missing_ok=True)

    def _base(self, index: int) -> Path:
        return self.path / f"chunk-{index:05d}"

    def save_chunk(self, result: ChunkResult) -> None:
        """Checkpoint one finished chunk (embeddings first, then the JSON that marks it done)."""
        base = self._base(result.index)
        buf = _npz_bytes(
            windows=np.array([[w.start, w.end] for w in result.windows], np.float64).reshape(-1, 2),
            embeddings=result.embeddings.astype(np.float32),
        )
        _atomic_write(base.with_suffix(".npz"), buf)
        doc = {
            "index": result.index,
            "start": result.start,
            "end": result.end,
            "language": result.language,
            "speech_seconds": result.speech_seconds,
            "segments": [_segment_to_json(s) for s in result.segments],
        }
        _atomic_write(base.with_suffix(".json"), json.dumps(doc, ensure_ascii=False).encode())

    def load_chunk(self, index: int) -> ChunkResult | None:
        """The checkpoint of chunk ``index``, or ``None`` if it is not (wholly) there."""
        base = self._base(index)
        try:
            doc = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
            with np.load(base.with_suffix(".npz")) as data:
                windows = tuple(Span(float(a), float(b)) for a, b in data["windows"])
                embeddings = data["embeddings"].copy()
        except (OSError, ValueError, KeyError):
            return None
        return ChunkResult(
            doc["index"],
            doc["start"],
            doc["end"],
            tuple(_segment_from_json(s) for s in doc["segments"]),
            windows,
            embeddings,
            doc["language"],
            doc.get("speech_seconds", 0.0),
        )

    def remove(self) -> None:
        """Delete the whole job folder."""
        shutil.rmtree(self.path, ignore_errors=True)


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _segment_to_json(seg: Segment) -> dict[str, Any]:
    return {
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "words": [[w.start, w.end, w.word, w.probability] for w in seg.words],
    }


def _segment_from_json(doc: dict[str, Any]) -> Segment:
    words = tuple(Word(float(a), float(b), str(c), float(d)) for a, b, c, d in doc["words"])
    return Segment(float(doc["start"]), float(doc["end"]), doc["text"], words)

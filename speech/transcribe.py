"""Whisper transcription: recording in, typed ``Transcript`` out, with progress reports.

``Transcriber`` follows the house pattern: the constructor only keeps settings, ``warm_up()``
loads the CTranslate2 model (about a second for base, 0.5 GB), so building one in a request
handler or a test costs nothing. faster-whisper's own ``Segment`` objects are converted to our
frozen dataclasses here, at the edge, so nothing downstream depends on faster-whisper.

Decoding options are fixed for Japanese council audio: word timestamps (the editor and later
diarization align on them), Silero VAD (long silences in council sessions are where Whisper
hallucinates), and the usual hallucination guards with ``condition_on_previous_text=False`` so one
bad window cannot repeat itself through the rest of a two-hour session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speech.config import SpeechSettings
from speech.decode import load_audio
from speech.models import ensure_model
from speech.types import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

ProgressCallback = Callable[[float, float], None]
"""Called as ``on_progress(done_seconds, total_seconds)`` in audio time."""

_DECODE_OPTIONS: dict[str, Any] = {
    "word_timestamps": True,
    "condition_on_previous_text": False,
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "no_speech_threshold": 0.6,
    # Skip silent stretches over 2 s where a window's text looks hallucinated
    # (needs word timestamps); the VAD removes most of them already.
    "hallucination_silence_threshold": 2.0,
}


class Transcriber:
    """Transcribes recordings with the configured Whisper model."""

    def __init__(self, settings: SpeechSettings) -> None:
        """Keep the settings; nothing is loaded until ``warm_up()``."""
        self.settings = settings
        self._model: WhisperModel | None = None

    def warm_up(self) -> None:
        """Load the Whisper model (idempotent).

        Raises:
            ModelNotFoundError: ``settings.model_path`` is missing or incomplete.
        """
        if self._model is not None:
            return
        from faster_whisper import WhisperModel  # heavy import, deferred until needed

        path = ensure_model(self.settings)
        self._model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            local_files_only=True,
        )

    def transcribe(self, path: Path, on_progress: ProgressCallback | None = None) -> Transcript:
        """Transcribe one recording.

        Args:
            path: The recording (any format PyAV reads).
            on_progress: Called after each segment with audio seconds done and total.

        Returns:
            The ``Transcript``, segments in time order, ``speaker`` left ``None``.

        Raises:
            NotAudioError, EmptyAudioError: The file cannot be decoded.
            ModelNotFoundError: The model is not installed (when not warmed up yet).
        """
        self.warm_up()
        if self._model is None:  # for the type checker; warm_up() either sets it or raises
            raise RuntimeError("Whisper model failed to load")
        audio = load_audio(path)
        raw_segments, info = self._model.transcribe(
            audio,
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            vad_filter=self.settings.vad,
            **_DECODE_OPTIONS,
        )
        segments = tuple(_collect(raw_segments, info.duration, on_progress))
        return Transcript(segments, info.duration, info.language, info.language_probability)


def _collect(
    raw: Iterable[Any], total: float, on_progress: ProgressCallback | None
) -> Iterator[Segment]:
    """Convert faster-whisper segments lazily, reporting progress as each one arrives."""
    for seg in raw:
        text = seg.text.strip()
        if text:
            yield _to_segment(seg, text)
        if on_progress is not None:
            on_progress(min(float(seg.end), total), total)
    if on_progress is not None:
        on_progress(total, total)


def _to_segment(seg: Any, text: str) -> Segment:
    words = tuple(
        Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in seg.words or ()
    )
    return Segment(float(seg.start), float(seg.end), text, words)

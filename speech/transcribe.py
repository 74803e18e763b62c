"""Whisper transcription: one chunk of speech in, typed ``Segment`` values out.

``Transcriber`` follows the house pattern: the constructor only keeps settings, ``warm_up()``
loads the CTranslate2 model (about a second for base, 0.5 GB), so building one in a request
handler or a test costs nothing. faster-whisper's own ``Segment`` objects are converted to our
frozen dataclasses here, at the edge, so nothing downstream depends on faster-whisper.

Decoding options are fixed for Japanese council audio: word timestamps (the editor and
diarization align on them), Silero VAD (long silences in council sessions are where Whisper
hallucinates), and the usual hallucination guards (compression ratio, log-probability,
no-speech) with no text carried from window to window, so one bad window cannot repeat itself
through the rest of a two-hour session. On top of Whisper's own
guards, ``drop_word_loops`` cuts a word n-gram repeated over and over (the classic base-model
loop, 「ありがとうございます」×40) down to two occurrences.

The job decodes the recording chunk by chunk (``decode.stream_chunks``) and finds speech once
(``vad.detect_speech``); ``transcribe_chunk`` then feeds Whisper only the speech, glued together,
and maps every time back to the recording, the way faster-whisper's own ``vad_filter`` does, so
Silero runs once per chunk instead of twice. ``hotwords`` (names from the roster, bill titles
from the agenda) bias decoding towards the council's vocabulary; a glossary as
``initial_prompt`` made Japanese CER worse on these machines, hotwords helped.

Both cores: CTranslate2 with two threads on the small base model kept only ~1.3 cores busy
(one ``generate`` at a time, short matrices). So the model is loaded with
``settings.workers`` replicas of ``settings.cpu_threads`` threads each, and ``submit_chunk``
hands a chunk to a thread pool and returns at once (CTranslate2 releases the GIL;
faster-whisper documents concurrent ``transcribe`` calls as the use of ``num_workers``): the
job starts the next chunk while this one runs. Optionally (``settings.piece_seconds``) a
chunk's speech is also cut at VAD pauses into pieces decoded concurrently (``split_pieces``,
pure: the cut depends only on the spans, never on the worker count or on timing), which helps
recordings of one or two chunks; results are put back in order either way.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from speech.config import SpeechSettings
from speech.decode import SAMPLE_RATE, AudioChunk, load_audio
from speech.models import ensure_model
from speech.types import Segment, Transcript, Word
from speech.vad import Span

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

ProgressCallback = Callable[[float, float], None]
"""Called as ``on_progress(done_seconds, total_seconds)`` in audio time."""

_DECODE_OPTIONS: dict[str, Any] = {
    "word_timestamps": True,
    # No context between windows: one bad window cannot repeat itself to the end of a chunk,
    # and on the benchmark's first chunk context made CER worse (0.166 vs 0.116 without
    # hotwords) and decoding slower; hotwords (roster + agenda) gave 0.091.
    "condition_on_previous_text": False,
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "no_speech_threshold": 0.6,
    # Skip silent stretches over 2 s where a window's text looks hallucinated
    # (needs word timestamps); the VAD removes most of them already.
    "hallucination_silence_threshold": 2.0,
}


@dataclass(frozen=True)
class ChunkTranscript:
    """What Whisper heard in one chunk; times are from the start of the recording."""

    segments: tuple[Segment, ...]
    language: str
    language_probability: float


def split_pieces(spans: Sequence[Span], piece_seconds: float) -> tuple[tuple[Span, ...], ...]:
    """Group speech spans into consecutive pieces of about ``piece_seconds`` of speech each.

    Cuts fall only between spans (at VAD pauses), at the span boundaries nearest to equal
    shares of the total speech. Pure and deterministic.

    Args:
        spans: Disjoint speech spans in time order.
        piece_seconds: Target speech per piece (> 0).

    Returns:
        Non-empty pieces covering ``spans`` in order (none for no spans).
    """
    if piece_seconds <= 0:
        raise ValueError(f"piece_seconds must be > 0, got {piece_seconds}")
    if not spans:
        return ()
    ends = np.cumsum([s.duration for s in spans])  # speech before boundary i + 1
    n = max(1, min(len(spans), int(round(ends[-1] / piece_seconds))))
    cuts = [0]
    for k in range(1, n):
        target = ends[-1] * k / n
        i = int(np.argmin(np.abs(ends[:-1] - target))) + 1  # cut before spans[i]
        if cuts[-1] < i < len(spans):
            cuts.append(i)
    cuts.append(len(spans))
    return tuple(tuple(spans[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))


class PendingTranscript:
    """A chunk being transcribed in the background, piece by piece."""

    def __init__(
        self,
        futures: Sequence[Future[tuple[list[Segment], Any]]],
        language: str,
        probability: float | None,
    ) -> None:
        """Wrap the pieces' futures, in time order."""
        self._futures = tuple(futures)
        self._language = language
        self._probability = probability

    def result(self, on_segment: Callable[[float], None] | None = None) -> ChunkTranscript:
        """Wait for every piece; ``on_segment`` is called (in this thread) as pieces finish."""
        segments: list[Segment] = []
        language, probability = self._language, self._probability
        for future in self._futures:
            piece, info = future.result()
            if probability is None:  # language detected by Whisper on the first piece
                language, probability = info.language, info.language_probability
            segments += piece
            if on_segment is not None:
                for seg in piece:
                    on_segment(seg.end)
        return ChunkTranscript(tuple(segments), language or "", probability or 0.0)

    def cancel(self) -> None:
        """Drop the pieces that have not started (a running piece finishes in the background)."""
        for future in self._futures:
            future.cancel()


class Transcriber:
    """Transcribes recordings or chunks of them with the configured Whisper model."""

    def __init__(self, settings: SpeechSettings) -> None:
        """Keep the settings; nothing is loaded until ``warm_up()``."""
        self.settings = settings
        self._model: WhisperModel | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

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
            num_workers=self.settings.workers,
            local_files_only=True,
        )

    def close(self) -> None:
        """Stop the decoding threads (pieces not yet started are dropped); idempotent."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.workers, thread_name_prefix="whisper"
                )
            return self._pool

    def _loaded(self) -> WhisperModel:
        self.warm_up()
        if self._model is None:  # for the type checker; warm_up() either sets it or raises
            raise RuntimeError("Whisper model failed to load")
        return self._model

    def transcribe_chunk(
        self,
        chunk: AudioChunk,
        speech: Sequence[Span],
        hotwords: Sequence[str] = (),
        language: str | None = None,
        on_segment: Callable[[float], None] | None = None,
    ) -> ChunkTranscript:
        """Transcribe the speech spans of one chunk and wait for the result.

        Args:
            chunk: The decoded chunk.
            speech: Speech spans, chunk-relative seconds, disjoint and in order.
            hotwords: Words to bias decoding towards (names, bill titles).
            language: Language code; ``None`` detects it from this chunk's speech.
            on_segment: Called with the recording time reached after each segment.

        Returns:
            Segments with word timestamps, in recording time.
        """
        return self.submit_chunk(chunk, speech, hotwords, language).result(on_segment)

    def submit_chunk(
        self,
        chunk: AudioChunk,
        speech: Sequence[Span],
        hotwords: Sequence[str] = (),
        language: str | None = None,
    ) -> PendingTranscript:
        """Start transcribing the speech spans of one chunk; returns at once.

        The speech is split into pieces at pauses (``split_pieces``) that the worker threads
        decode concurrently; ``PendingTranscript.result()`` puts them back in order. Arguments
        as for ``transcribe_chunk``.
        """
        lang = language or self.settings.language
        if not speech:
            return PendingTranscript((), lang or "", 0.0)
        model = self._loaded()
        probability = None if lang is None else 1.0
        every = self.settings.piece_seconds
        pieces = split_pieces(speech, every) if every else (tuple(speech),)
        if lang is None and len(pieces) > 1:
            # As Whisper itself would: from the first 30 s of the chunk's speech, so every
            # piece is decoded in the same language.
            compact, _ = compact_speech(chunk.samples, speech[: _spans_within(speech, 30.0)])
            lang, probability, _ = model.detect_language(compact)
        words = " ".join(hotwords) or None
        pool = self._executor()
        futures = [pool.submit(self._piece, model, chunk, p, words, lang) for p in pieces]
        return PendingTranscript(futures, lang or "", probability)

    def _piece(
        self,
        model: WhisperModel,
        chunk: AudioChunk,
        spans: Sequence[Span],
        hotwords: str | None,
        language: str | None,
    ) -> tuple[list[Segment], Any]:
        """Decode one piece (runs in a worker thread); segments in recording time."""
        compact, mapper = compact_speech(chunk.samples, spans)
        raw, info = model.transcribe(
            compact,
            language=language,
            beam_size=self.settings.beam_size,
            vad_filter=False,
            hotwords=hotwords,
            **_DECODE_OPTIONS,
        )
        segments = []
        for seg in raw:
            converted = _to_chunk_segment(seg, mapper, chunk.start)
            if converted is not None:
                segments.append(converted)
        return segments, info

    def transcribe(self, path: Path, on_progress: ProgressCallback | None = None) -> Transcript:
        """Transcribe one short recording in one go (tests, previews; jobs go by chunk).

        Args:
            path: The recording (any format PyAV reads).
            on_progress: Called after each segment with audio seconds done and total.

        Returns:
            The ``Transcript``, segments in time order, ``speaker`` left ``None``.
        """
        model = self._loaded()
        audio = load_audio(path)
        raw_segments, info = model.transcribe(
            audio,
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            vad_filter=self.settings.vad,
            **_DECODE_OPTIONS,
        )
        segments = tuple(_collect(raw_segments, info.duration, on_progress))
        return Transcript(segments, info.duration, info.language, info.language_probability)


class TimeMap:
    """Maps times in glued-together speech back to times in the chunk (pure)."""

    def __init__(self, spans: Sequence[Span]) -> None:
        """``spans``: the chunk-relative spans that were glued, in order."""
        self._spans = tuple(spans)
        self._compact_starts: list[float] = []
        total = 0.0
        for span in self._spans:
            self._compact_starts.append(total)
            total += span.duration
        self.total = total

    def to_chunk(self, t: float, anchor: float | None = None) -> float:
        """Chunk time of compact time ``t``; ``anchor`` (compact) picks the span, default ``t``."""
        if not self._spans:
            return t
        key = t if anchor is None else anchor
        i = max(0, bisect.bisect_right(self._compact_starts, key) - 1)
        span = self._spans[i]
        return min(span.end, span.start + max(0.0, t - self._compact_starts[i]))


def _spans_within(spans: Sequence[Span], seconds: float) -> int:
    """How many leading spans it takes to hold ``seconds`` of speech (at least one)."""
    total = 0.0
    for i, span in enumerate(spans):
        total += span.duration
        if total >= seconds:
            return i + 1
    return len(spans)


def compact_speech(samples: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray, TimeMap]:
    """Glue the samples of ``spans`` together; return them and the map back to chunk time."""
    pieces = [
        samples[int(round(s.start * SAMPLE_RATE)) : int(round(s.end * SAMPLE_RATE))]
        for s in spans
    ]
    kept = [Span(s.start, s.start + len(p) / SAMPLE_RATE) for s, p in zip(spans, pieces, strict=True)]
    compact = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return compact.astype(np.float32, copy=False), TimeMap(kept)


def drop_word_loops(words: Sequence[Word], max_n: int = 8, keep: int = 2, min_repeats: int = 4) -> tuple[Word, ...]:
    """Cut any word n-gram repeated ``min_repeats`` or more times in a row down to ``keep``.

    Args:
        words: Words in order.
        max_n: Longest n-gram checked.
        keep: Occurrences kept of a looping n-gram.
        min_repeats: Repetitions that count as a loop (a clerk's 「はい、はい」 is not one).

    Returns:
        The words without the loops.
    """
    out = list(words)
    for n in range(1, max_n + 1):
        i = 0
        while i + n <= len(out):
            gram = [w.word.strip() for w in out[i : i + n]]
            reps = 1
            while [w.word.strip() for w in out[i + reps * n : i + (reps + 1) * n]] == gram:
                reps += 1
            if reps >= min_repeats:
                del out[i + keep * n : i + reps * n]
            i += 1
    return tuple(out)


def _to_chunk_segment(seg: Any, mapper: TimeMap, offset: float) -> Segment | None:
    words = []
    for w in seg.words or ():
        mid = (float(w.start) + float(w.end)) / 2
        start = mapper.to_chunk(float(w.start), mid) + offset
        end = max(start, mapper.to_chunk(float(w.end), mid) + offset)
        words.append(Word(round(start, 3), round(end, 3), w.word, float(w.probability)))
    kept = drop_word_loops(words)
    if kept:
        text = "".join(w.word for w in kept).strip()
        start, end = kept[0].start, kept[-1].end
    else:
        text = seg.text.strip()
        start = mapper.to_chunk(float(seg.start)) + offset
        end = mapper.to_chunk(float(seg.end), float(seg.start)) + offset
    if not text:
        return None
    return Segment(round(start, 3), round(max(end, start), 3), text, kept)


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

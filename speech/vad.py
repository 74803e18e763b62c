"""Voice activity: where in a chunk someone speaks, found once and used twice.

Silero VAD (the ONNX model bundled inside faster-whisper, no download) runs once per chunk. Its
spans feed Whisper (only speech is decoded: silence is where Whisper hallucinates, and skipping it
is most of the speed-up on council audio with long pauses) and diarization (speaker embeddings
are taken from fixed-length windows inside the spans). Everything after the model call is a pure
function on ``Span`` values, tested directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from speech.decode import SAMPLE_RATE


@dataclass(frozen=True)
class Span:
    """A stretch of time in seconds (``start < end``)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class VadParams:
    """How Silero's frame probabilities become spans."""

    threshold: float = 0.5
    min_silence_ms: int = 500
    speech_pad_ms: int = 200
    min_speech_ms: int = 250


def detect_speech(samples: np.ndarray, params: VadParams = VadParams()) -> tuple[Span, ...]:
    """Speech spans of ``samples`` (16 kHz mono), in seconds from the first sample.

    Args:
        samples: The chunk.
        params: Thresholds.

    Returns:
        Spans in time order, not overlapping.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps  # heavy import

    if len(samples) == 0:
        return ()
    options = VadOptions(
        threshold=params.threshold,
        min_silence_duration_ms=params.min_silence_ms,
        speech_pad_ms=params.speech_pad_ms,
        min_speech_duration_ms=params.min_speech_ms,
    )
    found = get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
    return merge_spans(Span(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in found)


def merge_spans(spans: Iterable[Span], max_gap: float = 0.0) -> tuple[Span, ...]:
    """Sort spans and merge those that overlap or are at most ``max_gap`` seconds apart.

    Args:
        spans: Any spans.
        max_gap: Gaps up to this length are bridged.

    Returns:
        Disjoint spans in time order.
    """
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.end <= span.start:
            continue
        if merged and span.start - merged[-1].end <= max_gap:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return tuple(merged)


def windows(
    spans: Sequence[Span], length: float = 1.5, step: float = 1.5, min_length: float = 0.6
) -> tuple[Span, ...]:
    """Cut speech spans into windows for speaker embeddings.

    A span shorter than ``length`` (but at least ``min_length``) becomes one window; longer ones
    are tiled every ``step`` seconds, the last window ending on the span's end so no speech is
    left without a speaker.

    Args:
        spans: Disjoint speech spans.
        length: Window length in seconds.
        step: Distance between window starts.
        min_length: Spans shorter than this get no window (too short to tell voices apart).

    Returns:
        Windows in time order.
    """
    if length <= 0 or step <= 0:
        raise ValueError(f"length and step must be > 0, got length={length}, step={step}")
    out: list[Span] = []
    for span in spans:
        if span.duration < min_length:
            continue
        if span.duration <= length:
            out.append(span)
            continue
        start = span.start
        while start + length < span.end:
            out.append(Span(start, start + length))
            start += step
        tail = Span(max(span.start, span.end - length), span.end)
        if not out or out[-1] != tail:
            out.append(tail)
    return tuple(out)


def shift(spans: Iterable[Span], offset: float) -> tuple[Span, ...]:
    """Move spans by ``offset`` seconds (chunk-relative → recording time)."""
    return tuple(Span(s.start + offset, s.end + offset) for s in spans)

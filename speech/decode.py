"""Audio in: check a recording cheaply before the expensive work, then decode it for Whisper.

A clerk who points the tool at the wrong file should hear so in a second, not after the model
has loaded, so ``probe_audio`` opens the container with PyAV (the machine has no ffmpeg binary;
PyAV bundles the libraries), checks for an audio stream and reads its duration from the header.
``stream_chunks`` then decodes to 16 kHz mono float32 *as a stream*: a six-hour session is
never in memory whole (one chunk, a few minutes, plus one PyAV frame). Chunk boundaries are put
at the quietest stretch near the target length (``choose_cut``, pure), so a cut rarely splits a
word; they depend only on the samples, so a resumed job re-derives exactly the same chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from speech.errors import AudioFileNotFound, AudioTooLongError, EmptyAudioError, NotAudioError

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioInfo:
    """What the container header says about a recording."""

    path: Path
    duration: float
    sample_rate: int
    channels: int
    codec: str


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioFileNotFound(f"{path}: no such file")
    if not path.is_file():
        raise NotAudioError(f"{path} is not a file (expected an audio recording such as .wav)")
    if not os.access(path, os.R_OK):
        raise NotAudioError(f"{path} cannot be read: permission denied")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path} is empty (0 bytes)")


def _duration(
    container: av.container.InputContainer,
    stream: av.audio.AudioStream,
    max_seconds: float | None = None,
) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    # Headerless streams (raw ADTS, some OGG): count the samples; slower, but still cheaper
    # than finding out after the model has loaded. Counting stops once past ``max_seconds``.
    if not stream.sample_rate:
        return 0.0
    samples = 0
    for frame in container.decode(stream):
        samples += frame.samples
        if max_seconds is not None and samples / stream.sample_rate > max_seconds:
            break
    return samples / stream.sample_rate


def probe_audio(path: Path, max_seconds: float | None = None) -> AudioInfo:
    """Check that ``path`` is a readable recording with audio, and read its duration.

    Args:
        path: The recording.
        max_seconds: Where to stop counting samples of a stream without a duration in its
            header (the duration returned is then just past it); ``None``: count them all.

    Returns:
        Its ``AudioInfo``.

    Raises:
        AudioFileNotFound: No such file.
        NotAudioError: Not a file, unreadable, not a media file, or no audio stream.
        EmptyAudioError: 0 bytes, or an audio stream of zero length.
    """
    _check_file(path)
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.audio:
                raise NotAudioError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            duration = _duration(container, stream, max_seconds)
            info = AudioInfo(
                path, duration, stream.sample_rate or 0, stream.channels or 0, stream.codec.name
            )
    except av.FFmpegError as exc:
        raise NotAudioError(f"{path.name} is not an audio file ffmpeg can read: {exc}") from exc
    if info.duration <= 0:
        raise EmptyAudioError(f"{path.name} holds no audio (duration 0 s)")
    return info


def load_audio(path: Path) -> np.ndarray:
    """Decode ``path`` to mono float32 samples at 16 kHz, as Whisper expects.

    Args:
        path: A recording that passed ``probe_audio``.

    Returns:
        The samples, in [-1, 1].

    Raises:
        NotAudioError: The stream turned out to be corrupt while decoding.
        EmptyAudioError: Decoding produced no samples.
    """
    from faster_whisper import decode_audio  # heavy import, deferred until needed

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.FFmpegError as exc:
        raise NotAudioError(f"{path.name} could not be decoded: {exc}") from exc
    if audio.size == 0:
        raise EmptyAudioError(f"{path.name} decoded to no samples")
    return audio


@dataclass(frozen=True)
class AudioChunk:
    """A piece of the recording: ``samples`` at 16 kHz starting ``start`` seconds in."""

    index: int
    start: float
    samples: np.ndarray

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / SAMPLE_RATE

    @property
    def end(self) -> float:
        """End time in seconds from the start of the recording."""
        return self.start + self.duration


def choose_cut(samples: np.ndarray, lo: int, hi: int, window: int = SAMPLE_RATE // 5) -> int:
    """Index in ``[lo, hi)`` at the middle of the quietest ``window``-sample stretch.

    Pure and deterministic (ties go to the latest stretch, nearer the target length).

    Args:
        samples: Mono samples.
        lo: First allowed cut index.
        hi: One past the last allowed cut index; ``lo < hi <= len(samples)``.
        window: Length of the stretches compared, in samples.

    Returns:
        The cut index.
    """
    if not 0 <= lo < hi <= len(samples):
        raise ValueError(f"need 0 <= lo < hi <= {len(samples)}, got lo={lo}, hi={hi}")
    region = samples[lo:hi].astype(np.float64)
    n = len(region) // window
    if n == 0:
        return hi - 1 if hi - 1 > lo else lo
    energy = (region[: n * window] ** 2).reshape(n, window).sum(axis=1)
    best = n - 1 - int(np.argmin(energy[::-1]))
    return lo + best * window + window // 2


def _pcm_frames(path: Path) -> Iterator[np.ndarray]:
    """Decoded 16 kHz mono float32 blocks, one per resampled PyAV frame."""
    with av.open(str(path), mode="r") as container:
        if not container.streams.audio:
            raise NotAudioError(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def check_duration(path: Path, seconds: float, max_seconds: float | None) -> None:
    """Refuse a recording longer than ``max_seconds`` (``None``: no limit).

    Raises:
        AudioTooLongError: It is.
    """
    if max_seconds is not None and seconds > max_seconds:
        raise AudioTooLongError(
            f"{path.name} is longer than the longest recording accepted: over {seconds:.1f} s "
            f"of audio, limit {max_seconds:.1f} s (speech setting max_audio_seconds)"
        )


def stream_chunks(
    path: Path,
    chunk_seconds: float,
    search_seconds: float = 20.0,
    max_seconds: float | None = None,
) -> Iterator[AudioChunk]:
    """Decode ``path`` chunk by chunk; each chunk is about ``chunk_seconds`` long.

    A chunk ends at the quietest point of its last ``search_seconds``; the rest carries over.
    ``max_seconds`` is checked against the samples actually decoded, not the header: a file
    whose header claims ten seconds but holds days of audio stops at the limit.

    Args:
        path: A recording that passed ``probe_audio``.
        chunk_seconds: Target chunk length (> search_seconds).
        search_seconds: How far before the target the cut may move.
        max_seconds: Longest recording accepted, or ``None``.

    Yields:
        ``AudioChunk`` values in order, covering the recording without gaps or overlap.

    Raises:
        NotAudioError: The stream is corrupt or has no audio.
        EmptyAudioError: Decoding produced no samples at all.
        AudioTooLongError: More than ``max_seconds`` of audio decoded.
    """
    target = int(chunk_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), target // 2)
    pending: list[np.ndarray] = []
    size = 0
    offset = 0
    index = 0
    try:
        for block in _pcm_frames(path):
            pending.append(block)
            size += len(block)
            check_duration(path, (offset + size) / SAMPLE_RATE, max_seconds)
            while size >= target:
                buf = np.concatenate(pending)
                cut = choose_cut(buf, target - search, target)
                yield AudioChunk(index, offset / SAMPLE_RATE, buf[:cut])
                index, offset = index + 1, offset + cut
                pending, size = [buf[cut:]], len(buf) - cut
    except av.FFmpegError as exc:
        raise NotAudioError(f"{path.name} could not be decoded: {exc}") from exc
    if size:
        yield AudioChunk(index, offset / SAMPLE_RATE, np.concatenate(pending))
    elif index == 0:
        raise EmptyAudioError(f"{path.name} decoded to no samples")

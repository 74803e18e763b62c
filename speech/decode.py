"""Audio in: check a recording cheaply before the expensive work, then decode it for Whisper.

A clerk who points the tool at the wrong file should hear so in a second, not after the model
has loaded, so ``probe_audio`` opens the container with PyAV (the machine has no ffmpeg binary;
PyAV bundles the libraries), checks for an audio stream and reads its duration from the header.
``load_audio`` then decodes to 16 kHz mono float32 with faster-whisper's PyAV-based decoder;
streaming, chunked decoding for multi-hour recordings can replace it here without touching the
transcriber.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from speech.errors import AudioFileNotFound, EmptyAudioError, NotAudioError

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


def _duration(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    # Headerless streams (raw ADTS, some OGG): count the samples; slower, but still cheaper
    # than finding out after the model has loaded.
    samples = sum(frame.samples for frame in container.decode(stream))
    return samples / stream.sample_rate if stream.sample_rate else 0.0


def probe_audio(path: Path) -> AudioInfo:
    """Check that ``path`` is a readable recording with audio, and read its duration.

    Args:
        path: The recording.

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
            duration = _duration(container, stream)
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

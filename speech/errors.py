"""Errors of the minutes pipeline.

Every failure a clerk can cause (a wrong path, a file that is not audio, a folder that cannot be
written, a model that was never installed) is a ``SpeechError`` subclass whose message names the
bad value and what was expected. Adapters turn them into one-line CLI errors or HTTP 4xx answers;
anything else escaping the package is a bug.
"""

from __future__ import annotations


class SpeechError(Exception):
    """Base class of every error the ``speech`` package raises on purpose."""


class AudioFileNotFound(SpeechError):
    """The audio path does not exist."""


class NotAudioError(SpeechError):
    """The file exists but is unreadable, not a media file, or has no audio stream."""


class EmptyAudioError(SpeechError):
    """The file is empty (0 bytes) or its audio stream holds no samples."""


class AudioTooLongError(SpeechError):
    """The recording is longer than the longest one accepted (header or decoded samples)."""


class ModelNotFoundError(SpeechError):
    """The configured Whisper model directory is missing or incomplete."""


class OutputDirError(SpeechError):
    """The output directory cannot be created or written."""


class UnsupportedFormatError(SpeechError):
    """An export format was asked for that this version cannot write."""


class NoSpeechError(SpeechError):
    """The recording decodes but holds no speech (silence, noise, music only)."""


class RosterError(SpeechError):
    """The roster, agenda or voice-print store is unreadable or inconsistent."""


class RulesError(SpeechError):
    """The 整文 rules file is unreadable or malformed."""


class JobError(SpeechError):
    """The job folder belongs to another recording or cannot be used."""

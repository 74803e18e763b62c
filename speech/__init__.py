"""madoguchi's minutes pipeline: council recordings in, 会議録 and subtitles out, offline.

Stages, one module each: ``decode`` (probe and decode audio) → ``transcribe`` (Whisper) →
``layout`` (会議録 text, pure) → ``export`` (files) → ``job`` (the whole run, atomic outputs).
``models`` assembles the Whisper base model shipped in two PyPI wheels. Others import from here.
"""

from speech.config import SpeechSettings
from speech.decode import AudioInfo, probe_audio
from speech.errors import (
    AudioFileNotFound,
    EmptyAudioError,
    ModelNotFoundError,
    NotAudioError,
    OutputDirError,
    SpeechError,
    UnsupportedFormatError,
)
from speech.export import DEFAULT_FORMATS, FORMATS, minutes_to_dict, write_exports
from speech.job import MinutesResult, run_minutes_job
from speech.layout import (
    build_minutes,
    format_timestamp,
    render_minutes,
    render_srt,
    render_transcript,
    render_vtt,
    speaker_label,
)
from speech.models import assemble_whisper_base, ensure_model
from speech.transcribe import Transcriber
from speech.types import MeetingInfo, Minutes, Segment, Speaker, Transcript, Word

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "AudioFileNotFound",
    "AudioInfo",
    "EmptyAudioError",
    "MeetingInfo",
    "Minutes",
    "MinutesResult",
    "ModelNotFoundError",
    "NotAudioError",
    "OutputDirError",
    "Segment",
    "Speaker",
    "SpeechError",
    "SpeechSettings",
    "Transcriber",
    "Transcript",
    "UnsupportedFormatError",
    "Word",
    "assemble_whisper_base",
    "build_minutes",
    "ensure_model",
    "format_timestamp",
    "minutes_to_dict",
    "probe_audio",
    "render_minutes",
    "render_srt",
    "render_transcript",
    "render_vtt",
    "run_minutes_job",
    "speaker_label",
    "write_exports",
]

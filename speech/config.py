"""Settings of the minutes pipeline (the ``speech`` group of madoguchi's Settings).

A plain pydantic model: ``adapters.settings.Settings`` nests it, so it is filled from
``MADOGUCHI_SPEECH__*`` variables, but ``speech`` never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class SpeechSettings(BaseModel):
    """Where the Whisper model lives and how to run it."""

    model_path: Path = Field(
        default=Path("var/models/whisper-base"),
        description="A CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json).",
    )
    compute_type: str = "int8"
    cpu_threads: int = Field(
        default=1,
        ge=0,
        description="CTranslate2 threads per Whisper worker (0: CTranslate2's default).",
    )
    workers: int = Field(
        default=2,
        ge=1,
        description="Whisper replicas decoding pieces of speech concurrently; with cpu_threads "
        "per worker, the cores used. Two single-threaded workers kept both cores of a 2-core "
        "server busy, one two-threaded worker only ~1.3 of them.",
    )
    piece_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Speech per piece when a chunk's speech is cut at pauses and its pieces "
        "decoded by several workers at once; None: a chunk is one piece and the workers take "
        "consecutive chunks. Cutting made one-chunk recordings 1.7× faster (5-min slice) but "
        "cost 25-40 % more CPU and +0.004 CER on the dev meeting, so it is off by default. "
        "Part of the result (checkpoints depend on it), unlike workers and cpu_threads.",
    )
    beam_size: int = 5
    language: str | None = "ja"
    vad: bool = True
    data_dir: Path = Field(
        default=Path("var/speech"),
        description="Job checkpoints (jobs/) and the voice-print store (voiceprints.json).",
    )
    chunk_seconds: float = Field(
        default=300.0,
        gt=30,
        description="Audio decoded and checkpointed per step; bounds memory and lost work.",
    )
    max_audio_seconds: float | None = Field(
        default=12 * 3600,
        gt=0,
        description="Longest recording accepted (header and decoded samples); None: no limit. "
        "The clerk app's uploads stop at clerk.max_recording_s (also 12 h by default).",
    )
    diarize: bool = True
    speaker_model_path: Path | None = Field(
        default=None,
        description="A resemblyzer-shaped encoder .npz; default: the weights shipped in speech/.",
    )
    speaker_threshold: float = Field(
        default=0.93,
        description="Similarity of two speakers' mean voices (≥ 9 s each) at which they are one.",
    )
    enroll_threshold: float = Field(
        default=0.75, description="Similarity needed to put a known name on a voice."
    )
    rules_path: Path | None = Field(
        default=None, description="整文 rules YAML; default: speech/cleanup_rules.yaml."
    )

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
    cpu_threads: int = 2
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

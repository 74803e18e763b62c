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

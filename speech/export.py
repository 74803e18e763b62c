"""Exports: turn ``Minutes`` into files (会議録 TXT, timestamped transcript, SRT, VTT, JSON).

Rendering is pure (``layout`` for text, ``minutes_to_dict`` here for JSON); ``write_exports``
is the only function touching disk, and it writes into whatever directory the job gives it (a
staging directory, so a failed job leaves nothing half-written). A new format (DOCX is next)
is one renderer plus one entry in ``_WRITERS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from speech.errors import UnsupportedFormatError
from speech.layout import render_minutes, render_srt, render_transcript, render_vtt
from speech.types import Minutes, Segment

FORMATS = ("txt", "transcript", "json", "srt", "vtt")
DEFAULT_FORMATS = ("txt", "transcript", "json")

_SUFFIXES = {
    "txt": ".minutes.txt",
    "transcript": ".transcript.txt",
    "json": ".json",
    "srt": ".srt",
    "vtt": ".vtt",
}


def _segment_dict(seg: Segment) -> dict[str, Any]:
    return {
        "start": round(seg.start, 3),
        "end": round(seg.end, 3),
        "speaker": seg.speaker,
        "text": seg.text,
        # Until 整文 (clean-up) exists the cleaned text is the verbatim text.
        "text_verbatim": seg.text,
        "words": [
            {
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "word": w.word,
                "probability": round(w.probability, 4),
            }
            for w in seg.words
        ],
    }


def minutes_to_dict(minutes: Minutes) -> dict[str, Any]:
    """The JSON export as a dict, in DESIGN.md's schema; times in seconds."""
    m = minutes.meeting
    return {
        "meeting": {
            "title": m.title,
            "date": m.date,
            "place": m.place,
            "source": m.source,
            "duration": m.duration,
        },
        "speakers": [{"id": s.id, "name": s.name, "role": s.role} for s in minutes.speakers],
        "segments": [_segment_dict(s) for s in minutes.segments],
    }


def render_json(minutes: Minutes) -> str:
    """The JSON export as text (UTF-8, Japanese left readable)."""
    return json.dumps(minutes_to_dict(minutes), ensure_ascii=False, indent=2) + "\n"


_WRITERS: dict[str, Callable[[Minutes], str]] = {
    "txt": render_minutes,
    "transcript": lambda m: render_transcript(m.segments),
    "json": render_json,
    "srt": render_srt,
    "vtt": render_vtt,
}


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """Validate and de-duplicate export format names, keeping their order.

    Raises:
        UnsupportedFormatError: A name is not one of ``FORMATS`` or none was given.
    """
    names = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in names if f not in _WRITERS]
    if unknown or not names:
        raise UnsupportedFormatError(
            f"unsupported export format {', '.join(unknown) or '(none)'}; "
            f"expected one or more of {', '.join(FORMATS)}"
        )
    return names


def output_name(stem: str, fmt: str) -> str:
    """The default file name of format ``fmt`` for a recording named ``stem``."""
    return stem + _SUFFIXES[fmt]


def write_exports(
    minutes: Minutes, directory: Path, stem: str, formats: Sequence[str]
) -> list[Path]:
    """Write each requested format into ``directory`` as ``<stem><suffix>``.

    Args:
        minutes: What to write.
        directory: An existing, writable directory.
        stem: File name stem, usually the recording's.
        formats: Names from ``FORMATS``.

    Returns:
        The written paths, in the order of ``formats``.
    """
    written = []
    for fmt in check_formats(formats):
        path = directory / output_name(stem, fmt)
        path.write_text(_WRITERS[fmt](minutes), encoding="utf-8")
        written.append(path)
    return written

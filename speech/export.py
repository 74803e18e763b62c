"""Exports: turn ``Minutes`` into files (会議録 TXT and DOCX, transcript, SRT, VTT, JSON).

Rendering is pure (``layout`` for text, ``minutes_to_dict`` here for JSON, ``docx_document``
builds an in-memory document); ``write_exports`` is the only function touching disk, and it
writes into whatever directory the job gives it (a staging directory, so a failed job leaves
nothing half-written). A new format is one renderer plus one entry in ``_WRITERS``.

The JSON export is also the editor's exchange format: ``load_minutes_json`` reads it back
(after a clerk corrected names or words) into ``Minutes``, so every other format can be
re-rendered from the edited file.

DOCX: Word picks the font of Japanese characters from the run's ``w:eastAsia`` attribute, not
from ``font.name``; without it a Japanese Word falls back to its UI font and a non-Japanese one
may show tofu. So the East Asian font (游明朝, with MS 明朝 as the classic council choice) is set
on the styles and on every run.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from speech.errors import SpeechError, UnsupportedFormatError
from speech.layout import (
    minutes_lines,
    render_header,
    render_minutes,
    render_srt,
    render_transcript,
    render_vtt,
)
from speech.types import MeetingInfo, Minutes, Segment, Speaker, Word

FORMATS = ("txt", "docx", "transcript", "json", "srt", "vtt")
EAST_ASIAN_FONT = "游明朝"
DEFAULT_FORMATS = ("txt", "transcript", "json")

_SUFFIXES = {
    "txt": ".minutes.txt",
    "docx": ".minutes.docx",
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
        "text_verbatim": seg.text_verbatim,
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
            "attendees": list(m.attendees),
        },
        "speakers": [
            {"id": s.id, "name": s.name, "role": s.role}
            | ({"honorific": s.honorific} if s.honorific != "君" else {})
            for s in minutes.speakers
        ],
        "segments": [_segment_dict(s) for s in minutes.segments],
    }


def render_json(minutes: Minutes) -> str:
    """The JSON export as text (UTF-8, Japanese left readable)."""
    return json.dumps(minutes_to_dict(minutes), ensure_ascii=False, indent=2) + "\n"


def _set_east_asian(target: Any, font: str) -> None:
    """Set the Latin and East Asian font of a style or run (python-docx only sets Latin)."""
    from docx.oxml.ns import qn

    target.font.name = font
    rpr = target.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def docx_bytes(minutes: Minutes, timestamps: bool = False, font: str = EAST_ASIAN_FONT) -> bytes:
    """The 会議録 as a Word document: header, 出席者, then one paragraph per turn."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    for name in ("Normal", "Title"):
        _set_east_asian(doc.styles[name], font)
    doc.styles["Normal"].font.size = Pt(10.5)
    doc.add_paragraph(minutes.meeting.title or "会議録", style="Title")
    for line in [*render_header(minutes.meeting), "─" * 30]:
        _set_east_asian(doc.add_paragraph().add_run(line), font)
    for _kind, line in minutes_lines(minutes, timestamps):
        _set_east_asian(doc.add_paragraph().add_run(line), font)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


_WRITERS: dict[str, Callable[[Minutes, bool], str | bytes]] = {
    "txt": render_minutes,
    "docx": docx_bytes,
    "transcript": lambda m, _ts: render_transcript(m.segments),
    "json": lambda m, _ts: render_json(m),
    "srt": lambda m, _ts: render_srt(m),
    "vtt": lambda m, _ts: render_vtt(m),
}


def _meeting_from(doc: dict[str, Any]) -> MeetingInfo:
    duration = doc.get("duration")
    return MeetingInfo(
        title=_text(doc.get("title"), "meeting.title"),
        date=_text(doc.get("date"), "meeting.date"),
        place=_text(doc.get("place"), "meeting.place"),
        source=_text(doc.get("source"), "meeting.source"),
        duration=None if duration is None else _seconds(duration, "meeting.duration"),
        attendees=tuple(str(_text(a, "meeting.attendees[]")) for a in doc.get("attendees") or ()),
    )


def _text(value: Any, where: str) -> str | None:
    """``value`` if it is text or null (an edited document may hold anything)."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{where} must be text or null, not {type(value).__name__}")


def _seconds(value: Any, where: str) -> float:
    """``value`` as a finite number of seconds (NaN or infinity cannot be laid out)."""
    if isinstance(value, bool):
        raise TypeError(f"{where} must be a number of seconds, not a boolean")
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{where} must be a finite number of seconds, not {value!r}")
    return seconds


def minutes_from_dict(data: dict[str, Any]) -> Minutes:
    """Inverse of ``minutes_to_dict``.

    Raises:
        SpeechError: A required key is missing or has the wrong type (named in the message).
    """
    try:
        speakers = tuple(
            Speaker(
                str(s["id"]),
                _text(s.get("name"), "speaker name") or None,
                _text(s.get("role"), "speaker role") or None,
                _text(s.get("honorific"), "speaker honorific") or "君",
            )
            for s in data["speakers"]
        )
        segments = tuple(
            Segment(
                _seconds(seg["start"], "segment start"),
                _seconds(seg["end"], "segment end"),
                str(seg["text"]),
                tuple(
                    Word(
                        _seconds(w["start"], "word start"),
                        _seconds(w["end"], "word end"),
                        str(w["word"]),
                        float(w.get("probability", 1.0)),
                    )
                    for w in seg.get("words") or ()
                ),
                _text(seg.get("speaker"), "segment speaker"),
                _text(seg.get("text_verbatim"), "segment text_verbatim")
                if seg.get("text_verbatim") != seg["text"]
                else None,
            )
            for seg in data["segments"]
        )
        meeting = _meeting_from(data.get("meeting") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpeechError(
            f"minutes JSON does not follow the export schema ({type(exc).__name__}: {exc}); "
            "expected meeting, speakers[id,name,role], segments[start,end,speaker,text,…]"
        ) from exc
    unknown = {s.speaker for s in segments if s.speaker} - {s.id for s in speakers}
    if unknown:
        raise SpeechError(f"minutes JSON: segments name speakers not in speakers[]: {sorted(unknown)}")
    return Minutes(meeting, speakers, segments)


def load_minutes_json(path: Path) -> Minutes:
    """Read a (possibly clerk-edited) JSON export back into ``Minutes``.

    Raises:
        SpeechError: Unreadable file, invalid JSON, or not the export schema.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SpeechError(f"cannot read minutes JSON {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SpeechError(f"minutes JSON {path} must be an object with meeting, speakers, segments")
    return minutes_from_dict(data)


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
    minutes: Minutes,
    directory: Path,
    stem: str,
    formats: Sequence[str],
    timestamps: bool = False,
) -> list[Path]:
    """Write each requested format into ``directory`` as ``<stem><suffix>``.

    Args:
        minutes: What to write.
        directory: An existing, writable directory.
        stem: File name stem, usually the recording's.
        formats: Names from ``FORMATS``.
        timestamps: Put turn start times into the 会議録 (TXT, DOCX).

    Returns:
        The written paths, in the order of ``formats``.
    """
    written = []
    for fmt in check_formats(formats):
        path = directory / output_name(stem, fmt)
        content = _WRITERS[fmt](minutes, timestamps)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return written

"""会議録 layout: pure functions from typed values to text.

No I/O here, so every formatting rule (timestamps, speaker labels, how consecutive segments of one
speaker merge into one speech) is tested directly. The 会議録 conventions follow the National Diet
form most municipal systems copy: a speech starts a line with ○, then the label
(``議長（山田太郎君）``), a full-width space, and the words; one paragraph per turn.

Stage directions (〔拍手〕, 〔「異議なし」と呼ぶ者あり〕) are printed where the audio tells them:
a turn that is nothing but 「異議なし」 is the floor answering the chair, and bracketed
non-speech that Whisper sometimes emits (（拍手）, [笑]) becomes a 〔 〕 line. The header carries
会議名, 日時, 場所 and the 出席者 from the roster, as the preamble of real minutes does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from speech.types import MeetingInfo, Minutes, Segment, Speaker, Transcript

TimestampFormat = Literal["transcript", "srt", "vtt"]

SPEECH_MARK = "○"
FULL_WIDTH_SPACE = "　"
DEFAULT_SPEAKER = Speaker(id="A")
_RULE = "─" * 30
# ticks per second, separator before the fraction, digits of the fraction
_TIME_STYLES = {"transcript": (100, ".", 2), "srt": (1000, ",", 3), "vtt": (1000, ".", 3)}


def format_timestamp(seconds: float, fmt: TimestampFormat = "transcript") -> str:
    """Format a time in seconds as ``HH:MM:SS.cc`` (transcript), ``,mmm`` (SRT) or ``.mmm`` (VTT).

    Args:
        seconds: Non-negative time from the start of the recording.
        fmt: ``"transcript"``, ``"srt"`` or ``"vtt"``.

    Returns:
        The formatted time, e.g. ``00:01:02.50`` / ``00:01:02,500`` / ``00:01:02.500``.

    Raises:
        ValueError: ``seconds`` is negative or ``fmt`` unknown.
    """
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    if fmt not in _TIME_STYLES:
        raise ValueError(f"fmt must be 'transcript', 'srt' or 'vtt', got {fmt!r}")
    scale, sep, width = _TIME_STYLES[fmt]
    ticks = round(seconds * scale)
    whole, frac = divmod(ticks, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{frac:0{width}d}"


def speaker_label(speaker: Speaker) -> str:
    """The label after ○: ``議長（山田太郎君）``, ``議長``, ``（山田太郎君）`` or ``発言者A``."""
    if speaker.name:
        return f"{speaker.role or ''}（{speaker.name}{speaker.honorific}）"
    if speaker.role:
        return speaker.role
    return f"発言者{speaker.id}"


def build_minutes(
    transcript: Transcript, meeting: MeetingInfo, speakers: Sequence[Speaker] = ()
) -> Minutes:
    """Attach a header and a roster to a transcript.

    Segments without a speaker go to ``発言者A`` (diarization is not there yet), which is then
    added to the roster.

    Args:
        transcript: What Whisper heard.
        meeting: Header facts.
        speakers: Known roster; may be empty.

    Returns:
        ``Minutes`` whose every segment names a speaker in ``speakers``.
    """
    segments = tuple(
        s if s.speaker else Segment(s.start, s.end, s.text, s.words, DEFAULT_SPEAKER.id)
        for s in transcript.segments
    )
    roster = list(speakers)
    used = {s.speaker for s in segments if s.speaker}
    known = {s.id for s in roster}
    roster += [Speaker(id=sid) for sid in sorted(used - known)]
    return Minutes(meeting, tuple(roster), segments)


@dataclass(frozen=True)
class Turn:
    """Consecutive segments of one speaker: one ○ paragraph of the minutes."""

    speaker: str | None
    start: float
    end: float
    text: str


def turns(segments: Iterable[Segment]) -> list[Turn]:
    """Join consecutive segments of one speaker into turns (stage directions stand alone)."""
    out: list[Turn] = []
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        joinable = out and out[-1].speaker == seg.speaker
        if joinable and stage_direction(text) is None and stage_direction(out[-1].text) is None:
            last = out[-1]
            out[-1] = Turn(last.speaker, last.start, seg.end, _join(last.text, text))
        else:
            out.append(Turn(seg.speaker, seg.start, seg.end, text))
    return out


def speaker_turns(segments: Iterable[Segment]) -> list[tuple[str | None, str]]:
    """Join consecutive segments of one speaker into ``(speaker_id, text)`` turns."""
    return [(t.speaker, t.text) for t in turns(segments)]


def _join(left: str, right: str) -> str:
    # Japanese needs no space between sentences; keep one only between Latin words.
    if left and right and left[-1].isascii() and right[0].isascii() and left[-1].isalnum():
        return f"{left} {right}"
    return left + right


_NO_OBJECTION = re.compile(r"^[「『]?(?:異議|意義|異義)(?:なし|無し|ありません)[」』]?[。！!、]*$")
_BRACKETED = re.compile(r"^[\[［(（〔【]\s*([^\]］)）〕】]{1,12}?)\s*[\]］)）〕】][。]*$")


def stage_direction(text: str) -> str | None:
    """The 〔 〕 line a turn stands for, or ``None`` if it is speech.

    ``異議なし`` alone → ``〔「異議なし」と呼ぶ者あり〕``; ``（拍手）``/``[拍手]`` → ``〔拍手〕``.
    """
    text = text.strip()
    if _NO_OBJECTION.match(text):
        return "〔「異議なし」と呼ぶ者あり〕"
    m = _BRACKETED.match(text)
    if m:
        return f"〔{m.group(1)}〕"
    return None


def render_transcript(segments: Iterable[Segment]) -> str:
    """One line per segment: ``[00:00:01.20 → 00:00:04.80] text``."""
    lines = [
        f"[{format_timestamp(s.start)} → {format_timestamp(s.end)}] {s.text.strip()}"
        for s in segments
    ]
    return "\n".join(lines) + "\n" if lines else ""


def render_header(meeting: MeetingInfo) -> list[str]:
    """The header block: 会議名, 日時, 場所 (when known), the recording, then 出席者."""
    rows = [("会議名", meeting.title), ("日時", meeting.date), ("場所", meeting.place)]
    lines = [f"{key}{FULL_WIDTH_SPACE}{value}" for key, value in rows if value]
    if meeting.source:
        length = f"（{format_timestamp(meeting.duration)[:8]}）" if meeting.duration else ""
        lines.append(f"録音{FULL_WIDTH_SPACE}{meeting.source}{length}")
    if meeting.attendees:
        lines += ["", f"出席者（{len(meeting.attendees)}名）"]
        lines += [f"{FULL_WIDTH_SPACE * 2}{name}" for name in meeting.attendees]
    return lines


STAGE_INDENT = FULL_WIDTH_SPACE * 4


def minutes_lines(minutes: Minutes, timestamps: bool = False) -> list[tuple[str, str]]:
    """The body as ``(kind, line)`` pairs, kind ``speech``/``stage``/``time``; shared by TXT/DOCX."""
    body: list[tuple[str, str]] = []
    for turn in turns(minutes.segments):
        if timestamps:
            body.append(("time", f"［{format_timestamp(turn.start)[:8]}］"))
        stage = stage_direction(turn.text)
        if stage is not None:
            body.append(("stage", f"{STAGE_INDENT}{stage}"))
            continue
        speaker = minutes.speaker(turn.speaker) or Speaker(id=turn.speaker or DEFAULT_SPEAKER.id)
        body.append(("speech", f"{SPEECH_MARK}{speaker_label(speaker)}{FULL_WIDTH_SPACE}{turn.text}"))
    return body


def render_minutes(minutes: Minutes, timestamps: bool = False) -> str:
    """Lay out minutes as 会議録 text: header, a rule, then one ○ paragraph per speaker turn.

    Args:
        minutes: Header, roster and attributed segments.
        timestamps: Put ``［HH:MM:SS］`` above each turn.

    Returns:
        The text, ending with a newline.
    """
    lines = [*render_header(minutes.meeting), _RULE, ""]
    lines += [line for _, line in minutes_lines(minutes, timestamps)]
    return "\n".join(lines) + "\n"


def _cue_text(minutes: Minutes, seg: Segment, voice: bool) -> str:
    if not voice:
        return seg.text.strip()
    speaker = minutes.speaker(seg.speaker) or DEFAULT_SPEAKER
    return f"<v {speaker_label(speaker)}>{seg.text.strip()}"


def render_srt(minutes: Minutes) -> str:
    """SubRip subtitles: numbered cues with ``HH:MM:SS,mmm`` times."""
    cues = [
        f"{i}\n{format_timestamp(s.start, 'srt')} --> {format_timestamp(s.end, 'srt')}\n"
        f"{_cue_text(minutes, s, voice=False)}\n"
        for i, s in enumerate(minutes.segments, start=1)
    ]
    return "\n".join(cues)


def render_vtt(minutes: Minutes) -> str:
    """WebVTT subtitles; each cue names its speaker with a ``<v Name>`` voice span."""
    cues = [
        f"{format_timestamp(s.start, 'vtt')} --> {format_timestamp(s.end, 'vtt')}\n"
        f"{_cue_text(minutes, s, voice=True)}\n"
        for s in minutes.segments
    ]
    return "\n".join(["WEBVTT\n", *cues])

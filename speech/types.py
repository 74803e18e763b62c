"""The typed values that travel between the stages of the minutes pipeline.

They live in one module because every stage shares them: ``transcribe`` produces ``Segment`` and
``Word``; diarization (later) fills ``Segment.speaker`` and the ``Speaker`` roster; ``layout``
and ``export`` read ``Minutes``. All are frozen so a stage returns new values instead of
mutating what another stage still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """One word (for Japanese, usually one or two characters) with its time in seconds."""

    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """One stretch of speech: times in seconds from the start of the recording.

    ``text`` is what the minutes print (整文 once clean-up ran); ``verbatim`` keeps what was
    said word for word (全文), ``None`` meaning "same as ``text``".
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    verbatim: str | None = None

    @property
    def text_verbatim(self) -> str:
        """The verbatim text (全文)."""
        return self.text if self.verbatim is None else self.verbatim


@dataclass(frozen=True)
class Transcript:
    """What Whisper heard in one recording."""

    segments: tuple[Segment, ...]
    duration: float
    language: str
    language_probability: float


@dataclass(frozen=True)
class Speaker:
    """A person in the minutes. ``id`` is what ``Segment.speaker`` refers to.

    ``role`` is the office as printed in 会議録 (議長, 市長, ３番); ``name`` the full name;
    ``honorific`` follows the name inside the brackets (君 in most assemblies, 議員 in some).
    """

    id: str
    name: str | None = None
    role: str | None = None
    honorific: str = "君"


@dataclass(frozen=True)
class MeetingInfo:
    """Header facts of the minutes; unknown ones stay ``None`` and are left out."""

    title: str | None = None
    date: str | None = None
    place: str | None = None
    source: str | None = None
    duration: float | None = None
    attendees: tuple[str, ...] = ()


@dataclass(frozen=True)
class Minutes:
    """A meeting ready for layout and export: header, roster and attributed segments."""

    meeting: MeetingInfo
    speakers: tuple[Speaker, ...]
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    def speaker(self, speaker_id: str | None) -> Speaker | None:
        """Return the roster entry with this id, or ``None``."""
        return next((s for s in self.speakers if s.id == speaker_id), None)

"""Typed results of the retriever."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class FaqHit:
    """One ranked knowledge-base entry for a query."""

    entry_id: str
    score: float  # fused score, used for ranking only
    dense: float  # best cosine similarity of the entry's vectors
    lexical: float  # BM25 score (0 when no term matched)
    question: str  # the entry's question in the asker's language (or the fallback's)
    category: str


@dataclass(frozen=True)
class Contact:
    """Whom to call: a department's name, phone and office hours in the asker's language."""

    department: str
    phone: str
    hours: str


@dataclass(frozen=True)
class Suggestion:
    """A related or clarifying question the resident can tap."""

    entry_id: str
    question: str


@dataclass(frozen=True)
class Answer:
    """What the resident is told.

    ``kind`` is "answer" (confident), "clarify" (two entries too close to choose: ask which)
    or "unknown" (an honest "I don't know" plus who to call).
    """

    kind: Literal["answer", "clarify", "unknown"]
    lang: str  # the asker's language
    text: str
    confidence: float
    contact: Contact
    entry_id: str | None = None
    source_url: str | None = None
    answer_lang: str | None = None  # language the text is actually in (may be a fallback)
    note: str | None = None  # shown when the answer is not in the asker's language
    suggestions: tuple[Suggestion, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class FieldScores:
    """The best cosine of each candidate entry (rows) in each field (columns: ``q:ja``,
    ``a:en``, …); NaN where the entry has no text in that field."""

    entries: tuple[str, ...]
    names: tuple[str, ...]
    matrix: np.ndarray

    def of(self, entry_id: str) -> dict[str, float]:
        """One entry's fields (those it has)."""
        row = self.matrix[self.entries.index(entry_id)]
        return {n: float(x) for n, x in zip(self.names, row, strict=True) if not math.isnan(x)}

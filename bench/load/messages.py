"""Simulated residents and what they ask, drawn from the evaluation queries in ``bench/data``.

Each resident writes in one language and asks one to four questions in a row (a short
conversation, so Rasa sees follow-ups on an existing tracker as well as new ones), through
either the REST chat or LINE. The questions are the hand-written FAQ queries of
``faq_queries.jsonl`` and ``faq_queries_dev_xl.jsonl`` (about 4,000 distinct strings in
Japanese, English, Chinese, Korean, Vietnamese, Portuguese, Spanish, Thai and Tagalog, in-scope
and out-of-scope), taken in a seeded shuffled order per language so a run of 10,000 messages
repeats each string only two or three times and two runs with the same seed send the same
traffic.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
QUERY_FILES = (DATA / "faq_queries.jsonl", DATA / "faq_queries_dev_xl.jsonl")
# LINE's profile API reports these codes; the gateway normalises them (zh-TW → zh-Hant…).
LINE_PROFILE_LANG = {"zh-Hans": "zh-CN", "zh-Hant": "zh-TW", "tl": "fil"}


@dataclass(frozen=True)
class Query:
    text: str
    lang: str


@dataclass
class Resident:
    """One simulated resident: a channel, a language and the questions asked in order."""

    index: int
    channel: str  # "rest" or "line"
    lang: str
    questions: list[Query] = field(default_factory=list)
    run: str = ""

    @property
    def sender(self) -> str:
        """REST sender id (also the bare-Rasa sender, with another prefix)."""
        return f"load-{self.run}-{self.index}"

    @property
    def line_user(self) -> str:
        """A LINE user id: "U" and 32 hex digits."""
        return "U" + uuid.uuid5(uuid.NAMESPACE_URL, f"madoguchi-load/{self.run}/{self.index}").hex

    @property
    def line_profile_lang(self) -> str:
        return LINE_PROFILE_LANG.get(self.lang, self.lang)


def load_queries(paths: tuple[Path, ...] = QUERY_FILES) -> dict[str, list[Query]]:
    """Distinct query texts by language."""
    by_lang: dict[str, dict[str, Query]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            text = row["text"].strip()
            if text:
                by_lang.setdefault(row["lang"], {})[text] = Query(text, row["lang"])
    return {lang: list(texts.values()) for lang, texts in sorted(by_lang.items())}


def _cycle(queries: list[Query], rng: random.Random) -> Iterator[Query]:
    while True:
        order = list(queries)
        rng.shuffle(order)
        yield from order


def residents(messages: int, line_share: float, seed: int = 8, run: str = "") -> list[Resident]:
    """Residents asking ``messages`` questions in all; about ``line_share`` of them on LINE.

    Languages are weighted by how many distinct queries each has (Japanese the most).
    """
    rng = random.Random(seed)
    pools = load_queries()
    langs = list(pools)
    weights = [len(pools[lang]) for lang in langs]
    streams = {lang: _cycle(pools[lang], random.Random(f"{seed}/{lang}")) for lang in langs}
    out: list[Resident] = []
    left = messages
    while left > 0:
        lang = rng.choices(langs, weights)[0]
        channel = "line" if rng.random() < line_share else "rest"
        count = min(left, rng.randint(1, 4))
        resident = Resident(len(out), channel, lang, run=run)
        resident.questions = [next(streams[lang]) for _ in range(count)]
        out.append(resident)
        left -= count
    return out

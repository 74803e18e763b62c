"""The retriever: knowledge base → hybrid search → an answer in the asker's language.

``Retriever(settings)`` is cheap; ``warm_up()`` loads the KB, the embedder and the index
(building the index only when the KB or embedder changed). After that ``search`` and
``answer`` are pure reads, safe to call from several threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace

from retrieval.align import CrossLingualAlignment
from retrieval.config import RetrievalSettings
from retrieval.embed import Embedder, make_embedder
from retrieval.errors import IndexNotReadyError, QueryError
from retrieval.fuse import QueryScores, confidence, features, fuse_scores
from retrieval.index import FORMAT_VERSION, DenseIndex, Manifest, VectorCache
from retrieval.errors import KnowledgeBaseError
from retrieval.kb import Entry, KnowledgeBase, load_kb, load_snapshot, save_snapshot
from retrieval.langid import detect_language, normalize_language_code
from retrieval.lexical import LexicalIndex
from retrieval.messages import fallback_note, unknown_text
from retrieval.types import Answer, Contact, FaqHit, FieldScores, Suggestion

log = logging.getLogger(__name__)
# Answer fallback order when the asker's language is missing: English, then Japanese.
_FALLBACK = ("en", "ja")


@dataclass(frozen=True)
class _State:
    kb: KnowledgeBase
    dense: DenseIndex
    lexical: LexicalIndex
    align: CrossLingualAlignment

    @classmethod
    def of(cls, kb: KnowledgeBase, dense: DenseIndex) -> _State:
        """The state serving ``kb`` from ``dense``: lexical indexes and cross-lingual
        features derived from them (after a build, a load or a live add/remove)."""
        return cls(kb, dense, _lexical(kb), CrossLingualAlignment(dense))


class Retriever:
    """Hybrid (FAISS dense + BM25) FAQ retriever over one city's knowledge base."""

    def __init__(self, settings: RetrievalSettings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(
            settings.embedder,
            settings.threads,
            settings.model_path,
            settings.query_prefix,
            settings.passage_prefix,
            settings.native_dir if settings.native_engine else None,
        )
        self._state: _State | None = None
        self._lock = threading.Lock()
        # Set when the KB files are invalid and an older, valid KB is being served.
        self.kb_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._state is not None

    @property
    def kb(self) -> KnowledgeBase:
        return self._require().kb

    def warm_up(
        self,
        force_rebuild: bool = False,
        kb: KnowledgeBase | None = None,
        fallback_to_snapshot: bool = False,
    ) -> bool:
        """Load the KB and the index, building the index if it is missing or stale.

        Args:
            force_rebuild: rebuild the index even if the saved one is current.
            kb: an already loaded knowledge base (evaluation, imports); by default the one
                at ``settings.kb_path``.
            fallback_to_snapshot: a service starting with broken KB files serves the last
                good KB instead of failing (see ``_load_kb_or_snapshot``).

        Returns:
            True if the index was (re)built, False if a saved one was loaded.

        Raises:
            KnowledgeBaseError: the KB is invalid; an index already serving keeps serving.
        """
        with self._lock:
            self.embedder.warm_up()
            detect_language("warm up the Latin-script detector")  # loads lingua's models once
            kb = kb or self._load_kb_or_snapshot(fallback_to_snapshot)
            expected = Manifest(
                FORMAT_VERSION, self.embedder.name, self.embedder.version, kb.digest, 0
            )
            dense = None if force_rebuild else DenseIndex.load(self.settings.index_dir, expected)
            built = dense is None
            if dense is None:
                log.info("building the FAQ index for %d entries", len(kb.entries))
                dense = DenseIndex.build(kb, self.embedder, self._cache())
                dense.save(self.settings.index_dir)
                save_snapshot(kb, self.settings.index_dir)
            self._state = _State.of(kb, dense)
            return built

    def _load_kb_or_snapshot(self, fallback: bool) -> KnowledgeBase:
        """The KB from its files; if they are broken and the service is (re)starting, the
        last good KB saved beside the index, so residents keep getting answers while the
        city fixes the file (the error stays visible in ``kb_error`` and /api/health)."""
        try:
            kb = load_kb(self.settings.kb_path)
        except KnowledgeBaseError as exc:
            usable = fallback and self._state is None
            snapshot = load_snapshot(self.settings.index_dir) if usable else None
            if snapshot is None:
                raise
            log.error("knowledge base is invalid; serving the last good one: %s", exc)
            self.kb_error = str(exc)
            return snapshot
        self.kb_error = None
        return kb

    def upsert_entry(self, entry: Entry) -> None:
        """Add or replace one entry in the live index without a rebuild."""
        with self._lock:
            state = self._require()
            entries = tuple(e for e in state.kb.entries if e.id != entry.id) + (entry,)
            kb = replace(state.kb, entries=entries, digest=f"live-{len(entries)}")
            state.dense.add_entry(entry, self._cache())
            self._state = _State.of(kb, state.dense)

    def remove_entry(self, entry_id: str) -> bool:
        """Remove one entry from the live index; False if it was not there."""
        with self._lock:
            state = self._require()
            entries = tuple(e for e in state.kb.entries if e.id != entry_id)
            if len(entries) == len(state.kb.entries):
                return False
            state.dense.remove_entry(entry_id)
            kb = replace(state.kb, entries=entries, digest=f"live-{len(entries)}")
            self._state = _State.of(kb, state.dense)
            return True

    def _cache(self) -> VectorCache:
        name = f"vectors-{self.embedder.name}.npz"
        return VectorCache(
            self.settings.vector_cache_dir / name, self.embedder, self.settings.build_workers
        )

    def scores(self, query: str, lang: str | None = None) -> QueryScores:
        """Raw scores of ``query`` for the entries in force today: each candidate entry's best
        cosine per field, and BM25. ``lang``: the query's language (detected when not given);
        it picks the lexical index and the fields the fusion leans on.

        Raises:
            QueryError: the query is empty (after trimming).
        """
        state = self._require()
        text = _clean_query(query, self.settings.max_query_chars)
        lang = lang or detect_language(text).lang
        vector = self.embedder.embed_queries([text])[0]
        entries = state.kb.entries
        lexical = {entries[i].id: s for i, s in state.lexical.scores(text, lang).items()}
        # Han-only text detected as Chinese may be Japanese too (児童手当): read it both ways.
        lexical_ja = (
            {entries[i].id: s for i, s in state.lexical.japanese_scores(text).items()}
            if lang in ("zh-Hans", "zh-Hant") else {}
        )
        tags = {entries[i].id: s for i, s in state.lexical.tag_scores(text).items()}
        chars = {entries[i].id: s for i, s in state.lexical.char_scores(text, lang).items()}
        n = self.settings.lexical_candidates
        also = [*sorted(lexical, key=lexical.__getitem__, reverse=True)[:n],
                *sorted(tags, key=tags.__getitem__, reverse=True)[:n]]
        fields = state.dense.field_scores(vector, self.settings.dense_candidates, also)
        today = dt.date.today()
        expired = {e.id for e in entries if not e.is_valid_on(today)}
        if expired:
            fields = _without(fields, expired)
            lexical = {i: s for i, s in lexical.items() if i not in expired}
            lexical_ja = {i: s for i, s in lexical_ja.items() if i not in expired}
        # Queries not in Japanese also get the cross-lingual features (retrieval/align.py).
        aligned = (
            state.align.features(
                vector, lang, fields.entries, self.settings.discriminant_features
            )
            if lang not in ("ja", "ja-easy") and self.settings.cross_lingual_features else None
        )
        return QueryScores(lang, fields, lexical, lexical_ja, tags, chars, aligned)

    def rank(self, scores: QueryScores, lang: str, top_k: int) -> list[FaqHit]:
        """Fuse raw scores into ranked hits (``settings.fusion``); questions shown in ``lang``,
        the weights chosen by the language the query is written in (``scores.lang``)."""
        kb = self._require().kb
        weight = (
            self.settings.lexical_weight
            if scores.lang in ("ja", "ja-easy")
            else self.settings.lexical_weight_other
        )
        fused = fuse_scores(
            scores, self.settings.fusion, weight, self.settings.field_weights,
            self.settings.field_weights_xl,
        )
        dense = scores.dense
        ordered = sorted(fused.items(), key=lambda kv: (kv[1], dense.get(kv[0], 0.0)), reverse=True)
        return [
            FaqHit(
                entry_id=eid,
                score=score,
                dense=dense.get(eid, 0.0),
                lexical=scores.lexical.get(eid, 0.0),
                question=_question(kb.entry(eid), lang),
                category=kb.entry(eid).category,
            )
            for eid, score in ordered[:top_k]
        ]

    def search(self, query: str, lang: str | None = None, top_k: int | None = None) -> list[FaqHit]:
        """Entries ranked best first for ``query``.

        Raises:
            QueryError: the query is empty (after trimming).
        """
        text = _clean_query(query, self.settings.max_query_chars)
        # The language asked for (UI, channel) picks the answer's language; the lexical
        # matching follows the language the query is actually written in.
        query_lang = detect_language(text).lang
        lang = (normalize_language_code(lang) if lang else None) or query_lang
        return self.rank(self.scores(query, query_lang), lang, top_k or self.settings.top_k)

    def answer(self, query: str, lang: str | None = None) -> Answer:
        """The best answer for ``query`` in the asker's language, or an honest "I don't know"."""
        state = self._require()
        text = _clean_query(query, self.settings.max_query_chars)
        query_lang = detect_language(text).lang
        lang = (normalize_language_code(lang) if lang else None) or query_lang
        scores = self.scores(query, query_lang)
        hits = self.rank(scores, lang, max(self.settings.top_k, 5))
        if not hits:
            return self._unknown(state.kb, lang, 0.0, ())
        top = hits[0]
        conf = confidence(
            features(top.entry_id, scores.dense, scores.lexical), self.settings.confidence_coef
        )
        related = tuple(Suggestion(h.entry_id, h.question) for h in hits[1:4])
        if conf < self.settings.min_confidence:
            if conf >= self.settings.suggest_confidence:
                return self._did_you_mean(state.kb, lang, conf, hits[:3])
            return self._unknown(state.kb, lang, conf, related, top)
        entry = state.kb.entry(top.entry_id)
        text, answer_lang = _answer_text(entry, lang)
        kind = "answer"
        if len(hits) > 1 and top.dense - hits[1].dense < self.settings.clarify_margin:
            kind = "clarify"
            related = (Suggestion(top.entry_id, top.question), *related[:2])
        return Answer(
            kind=kind,
            lang=lang,
            text=text,
            confidence=conf,
            contact=_contact(state.kb, entry.department, lang),
            entry_id=entry.id,
            source_url=entry.source_url,
            answer_lang=answer_lang,
            note=fallback_note(lang, answer_lang) if answer_lang != lang else None,
            suggestions=related,
        )

    def contact(self, department: str, lang: str) -> Contact:
        """Whom to call for ``department`` (the general desk if unknown), in ``lang``."""
        return _contact(self._require().kb, department, lang)

    def _did_you_mean(
        self, kb: KnowledgeBase, lang: str, conf: float, hits: list[FaqHit]
    ) -> Answer:
        # Unsure, but not lost: offer the nearest questions as buttons, with the contact of
        # the best one's department in case none of them fits.
        contact = _contact(kb, kb.entry(hits[0].entry_id).department, lang)
        return Answer(
            kind="clarify",
            lang=lang,
            text=unknown_text(lang, contact),
            confidence=conf,
            contact=contact,
            suggestions=tuple(Suggestion(h.entry_id, h.question) for h in hits),
        )

    def _unknown(
        self,
        kb: KnowledgeBase,
        lang: str,
        conf: float,
        related: tuple[Suggestion, ...],
        best: FaqHit | None = None,
    ) -> Answer:
        # Send the resident to the department of the nearest entry if there is one: a weak
        # match on a topic still usually names the right office.
        department = kb.entry(best.entry_id).department if best else "general"
        contact = _contact(kb, department, lang)
        return Answer(
            kind="unknown",
            lang=lang,
            text=unknown_text(lang, contact),
            confidence=conf,
            contact=contact,
            suggestions=related,
        )

    def _require(self) -> _State:
        if self._state is None:
            raise IndexNotReadyError("the retriever is not warmed up; call warm_up() first")
        return self._state


def _lexical(kb: KnowledgeBase) -> LexicalIndex:
    # Each language's questions and answer, one text per entry: the character n-grams read
    # every language, the per-language BM25 all but Japanese (which has its own analyser).
    chars = {
        lang: ["\n".join([*e.questions.get(lang, ()), e.answers.get(lang, "")]) for e in kb.entries]
        for lang in sorted({lang for e in kb.entries for lang in e.questions})
    }
    by_lang = {lang: texts for lang, texts in chars.items() if lang not in ("ja", "ja-easy")}
    japanese = [_lexical_text(e, ("ja", "ja-easy")) for e in kb.entries]
    tags = [e.tags for e in kb.entries]
    return LexicalIndex([_lexical_text(e) for e in kb.entries], by_lang, japanese, tags, chars)


def _without(fields: FieldScores, expired: set[str]) -> FieldScores:
    keep = [i for i, e in enumerate(fields.entries) if e not in expired]
    entries = tuple(fields.entries[i] for i in keep)
    return FieldScores(entries, fields.names, fields.matrix[keep])


def _clean_query(query: str, limit: int) -> str:
    text = " ".join(query.split())[:limit]
    if not text:
        raise QueryError("the query is empty; type a question")
    return text


def _lexical_text(entry: Entry, langs: tuple[str, ...] | None = None) -> str:
    """The entry's questions, answers (in ``langs``, default all) and tags, one text."""
    parts = [q for lang, qs in entry.questions.items() if not langs or lang in langs for q in qs]
    parts.extend(a for lang, a in entry.answers.items() if not langs or lang in langs)
    parts.extend(entry.tags)
    return "\n".join(parts)


def _pick_lang(available: dict, lang: str) -> str:
    for candidate in (lang, *(["ja"] if lang == "ja-easy" else []), *_FALLBACK):
        if candidate in available:
            return candidate
    return next(iter(available))


def _question(entry: Entry, lang: str) -> str:
    return entry.questions[_pick_lang(entry.questions, lang)][0]


def _answer_text(entry: Entry, lang: str) -> tuple[str, str]:
    chosen = _pick_lang(entry.answers, lang)
    return entry.answers[chosen], chosen


def _contact(kb: KnowledgeBase, department: str, lang: str) -> Contact:
    dep = kb.department(department)
    if not dep.phone:  # a department without its own line: the general desk's
        dep = replace(dep, phone=kb.department("general").phone)
    name = dep.name[_pick_lang(dep.name, lang)] if dep.name else dep.key
    hours = dep.hours[_pick_lang(dep.hours, lang)] if dep.hours else ""
    return Contact(department=name, phone=dep.phone, hours=hours)


"""Fusing the dense and lexical rankings, and turning scores into a confidence.

Three fusions are offered and compared in bench/retrieval_quality.py on the dev split:
reciprocal-rank fusion (no weights at all), a weighted sum of the dense cosine and the
max-normalised BM25 score, and the default, a weighted sum over the entry's *fields*: its
best cosine among the question variants in the query's language, in Japanese, in English
and in any language, the same four for its answers, and BM25 (``fields``). One cosine taken
over all of an entry's texts lets a single stray paraphrase in some language win; asking
the entry to match in several of its fields at once is what lifted cross-lingual Hit@1
(the query in Korean should meet the Korean questions, the Japanese ones *and* the answer).
The weights are fitted on dev (a conditional-logit model, ``bench/retrieval_quality.py
--fit``) and mean the same on any KB: a field an entry lacks falls back to English, then
Japanese, so a Japanese-only KB simply gives the Japanese fields all the weight. Besides
BM25, a character n-gram TF-IDF cosine in the query's language
(retrieval.lexical.CharNgramIndex) meets inflected, compound and unaccented words that
whole-word BM25 misses (dev Hit@1: es 0.861 → 0.876, vi 0.876 → 0.891, mean over ten
languages 0.888 → 0.890; see bench/retrieval_quality.py).

The confidence is a logistic model over three features that mean the same thing on any
knowledge base — the top entry's cosine, its margin over the runner-up, and whether BM25
agrees — fitted on the dev split, never on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from retrieval.types import FieldScores

RRF_K = 60
# The dense features of an entry, in the order of ``RetrievalSettings.field_weights``.
FIELD_FEATURES = ("q_query", "q_ja", "q_en", "q_any", "a_query", "a_ja", "a_en", "a_any")
# ... followed by the lexical ones: BM25 in the query's language (Japanese-only text for a
# Japanese query), and BM25 of the Japanese analyser over the Japanese text for a Han-only
# query detected as Chinese (児童手当 is also valid Japanese; see LexicalIndex), and an
# exact match of a query word with one of the entry's tags (1 / entries with that tag), and
# the character n-gram TF-IDF cosine between the query and the entry's questions and answer
# in the query's language (retrieval.lexical.CharNgramIndex; raw cosine, 0..1).
LEXICAL_FEATURES = ("lexical", "lexical_ja", "tag", "chars")
# ... and, for queries not in Japanese, the same eight dense features with the query and the
# KB mapped into one space, the cosine to the entry's centroid, and the cosines to its mean
# question and to its closest question variant after whitening by the within-entry scatter
# (retrieval/align.py), weighted by ``RetrievalSettings.field_weights_xl``.
ALIGNED_FEATURES = (
    "al_q_query", "al_q_ja", "al_q_en", "al_q_any",
    "al_a_query", "al_a_ja", "al_a_en", "al_a_any", "centroid",
    "disc_centroid", "disc_best",
)
# The discriminant ones (``RetrievalSettings.discriminant_features`` off: zeros).
DISCRIMINANT_FEATURES = ("disc_centroid", "disc_best")


@dataclass(frozen=True)
class QueryScores:
    """Everything fusion looks at for one query.

    ``fields``: per candidate entry, the best cosine per field; ``lexical``: BM25 per entry
    in the query's language; ``lexical_ja``: BM25 per entry with the Japanese analyser
    (only for Han-only text not detected as Japanese); ``tags``: per entry whose tag a
    query word equals, how specific that tag is (0..1); ``chars``: per entry, the character
    n-gram cosine in the query's language.
    """

    lang: str
    fields: FieldScores
    lexical: Mapping[str, float]
    lexical_ja: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, float] = field(default_factory=dict)
    chars: Mapping[str, float] = field(default_factory=dict)
    # retrieval.align.ALIGNED_FEATURES of each candidate (rows as ``fields.entries``), for
    # queries not in Japanese when the KB has its cross-lingual alignment; else None.
    aligned: np.ndarray | None = None

    @cached_property
    def dense(self) -> dict[str, float]:
        """The best cosine per candidate entry over all its fields."""
        if not self.fields.entries:
            return {}
        best = np.nanmax(self.fields.matrix, axis=1).tolist()
        return dict(zip(self.fields.entries, best, strict=True))


def rrf(rankings: Sequence[Mapping[str, float]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion of several ``{id: score}`` rankings (higher score = better)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        ordered = sorted(ranking.items(), key=lambda kv: kv[1], reverse=True)
        for rank, (doc_id, _score) in enumerate(ordered, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def weighted(dense: Mapping[str, float], lexical: Mapping[str, float], weight: float) -> dict[str, float]:
    """Dense cosine plus ``weight`` × BM25 divided by the query's best BM25 score.

    Entries found only lexically get the lowest dense score seen for the query, so a strong
    keyword match can still surface an entry the dense side ranked past its cut-off.
    """
    floor = min(dense.values(), default=0.0)
    top_lexical = max(lexical.values(), default=0.0) or 1.0
    ids = set(dense) | set(lexical)
    return {i: dense.get(i, floor) + weight * lexical.get(i, 0.0) / top_lexical for i in ids}


def field_features(fields: Mapping[str, float], lang: str) -> tuple[float, ...]:
    """One entry's dense features (``FIELD_FEATURES``) from its best cosine per field."""
    names = tuple(fields)
    matrix = np.array([[fields[n] for n in names]], dtype=float).reshape(1, len(names))
    return tuple(float(x) for x in _dense_features(FieldScores(("e",), names, matrix), lang)[0])


def _dense_features(fields: FieldScores, lang: str) -> np.ndarray:
    """``FIELD_FEATURES`` of every candidate (rows). A language an entry lacks falls back
    to English, then Japanese, then its best field of the kind."""
    out = []
    for kind in ("q:", "a:"):
        cols = {n[2:]: j for j, n in enumerate(fields.names) if n.startswith(kind)}
        if not cols:
            out += [np.zeros(len(fields.entries))] * 4
            continue
        sub = fields.matrix[:, list(cols.values())]
        best = np.nan_to_num(np.nanmax(np.where(np.isnan(sub), -np.inf, sub), axis=1),
                             neginf=0.0)

        def pick(*langs: str, cols: dict[str, int] = cols, best: np.ndarray = best) -> np.ndarray:
            value = best
            for code in reversed(langs):  # the first language present wins
                if code in cols:
                    column = fields.matrix[:, cols[code]]
                    value = np.where(np.isnan(column), value, column)
            return value

        out += [pick(lang, "en", "ja"), pick("ja"), pick("en", "ja"), best]
    return np.stack(out, axis=1)


def feature_matrix(scores: QueryScores) -> np.ndarray:
    """``FIELD_FEATURES + LEXICAL_FEATURES`` of every candidate entry, rows in the order of
    ``scores.fields.entries`` (BM25 divided by the query's best BM25 score)."""
    entries = scores.fields.entries
    columns = [_dense_features(scores.fields, scores.lang)]
    for found in (scores.lexical, scores.lexical_ja):
        best = max(found.values(), default=0.0) or 1.0
        columns.append(np.array([[found.get(e, 0.0) / best] for e in entries]).reshape(-1, 1))
    for raw in (scores.tags, scores.chars):
        columns.append(np.array([[raw.get(e, 0.0)] for e in entries]).reshape(-1, 1))
    return np.hstack(columns)


def feature_matrix_xl(scores: QueryScores) -> np.ndarray:
    """``feature_matrix`` followed by the cross-lingual ``aligned`` features (zeros when
    the query has none)."""
    base = feature_matrix(scores)
    aligned = scores.aligned
    if aligned is None or len(aligned) != len(base):
        aligned = np.zeros((len(base), len(ALIGNED_FEATURES)))
    return np.hstack([base, aligned])


def fields_fusion(
    scores: QueryScores, weights: Sequence[float], weights_xl: Sequence[float] = ()
) -> dict[str, float]:
    """Weighted sum of each candidate entry's ``feature_matrix`` row (``weights`` in the
    order ``FIELD_FEATURES + LEXICAL_FEATURES``). Weights set before a feature was added
    (a shorter tuple in a city's settings) leave the newer features out (weight 0).
    A query with cross-lingual features (``scores.aligned``: not Japanese) is ranked over
    ``feature_matrix_xl`` with ``weights_xl`` instead, when those are given."""
    if not scores.fields.entries:
        return {}
    if scores.aligned is not None and len(weights_xl):
        matrix = feature_matrix_xl(scores)
        weights = weights_xl
    else:
        matrix = feature_matrix(scores)
    w = np.zeros(matrix.shape[1])
    given = np.asarray(weights, dtype=float)[: matrix.shape[1]]
    w[: len(given)] = given
    fused = matrix @ w
    return dict(zip(scores.fields.entries, fused.tolist(), strict=True))


def fuse_scores(
    scores: QueryScores, method: str, weight: float, field_weights: Sequence[float],
    field_weights_xl: Sequence[float] = (),
) -> dict[str, float]:
    """Fused scores of one query by ``method``: "fields" (the default), or one of ``fuse``'s
    over the entry's best cosine."""
    if method == "fields":
        return fields_fusion(scores, field_weights, field_weights_xl)
    return fuse(scores.dense, scores.lexical, method, weight)


def fuse(
    dense: Mapping[str, float], lexical: Mapping[str, float], method: str, weight: float
) -> dict[str, float]:
    """Fused scores by ``method`` ("weighted" or "rrf")."""
    if method == "rrf":
        return rrf([dense, lexical])
    if method == "dense":
        return dict(dense)
    if method == "lexical":
        return dict(lexical)
    return weighted(dense, lexical, weight)


@dataclass(frozen=True)
class Features:
    """What the confidence model looks at for the top entry of a query."""

    cosine: float  # dense similarity of the top entry
    margin: float  # its cosine minus the best other entry's
    lexical: float  # its BM25 score divided by the query's best BM25 score (0..1)

    def vector(self) -> tuple[float, float, float]:
        return (self.cosine, self.margin, self.lexical)


def features(top: str, dense: Mapping[str, float], lexical: Mapping[str, float]) -> Features:
    """Confidence features of entry ``top`` for one query's scores."""
    cosine = dense.get(top, min(dense.values(), default=0.0))
    others = [s for i, s in dense.items() if i != top]
    best_lexical = max(lexical.values(), default=0.0)
    share = lexical.get(top, 0.0) / best_lexical if best_lexical > 0 else 0.0
    return Features(cosine, cosine - max(others, default=cosine), share)


def confidence(feats: Features, coef: Sequence[float]) -> float:
    """logistic(coef[0] + coef[1:] · features)."""
    z = coef[0] + sum(c * x for c, x in zip(coef[1:], feats.vector(), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

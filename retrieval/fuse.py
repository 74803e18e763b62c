"""Fusing the dense and lexical rankings, and turning scores into a confidence.

Reciprocal-rank fusion needs no score normalisation and no weights fitted on a test set:
the two rankers' score scales differ wildly (cosine 0.7–0.95 vs unbounded BM25), ranks do
not. The confidence is read from the dense similarity of the top entry — the one signal
comparable across queries — by a logistic whose centre and slope are settings, fitted on
the dev split (bench/), never on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RRF_K = 60


def rrf(rankings: list[Mapping[str, float]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal-rank fusion of several ``{id: score}`` rankings (higher score = better)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        ordered = sorted(ranking.items(), key=lambda kv: kv[1], reverse=True)
        for rank, (doc_id, _score) in enumerate(ordered, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def confidence(dense_top: float, lexical_hit: bool, centre: float, slope: float) -> float:
    """Probability-like confidence that the top entry answers the query.

    Args:
        dense_top: cosine similarity of the top entry.
        lexical_hit: whether BM25 ranked the same entry first (agreement of both rankers).
        centre: cosine at which confidence is 0.5 without lexical agreement.
        slope: steepness of the logistic.
    """
    bonus = 0.02 if lexical_hit else 0.0
    return 1.0 / (1.0 + math.exp(-slope * (dense_top + bonus - centre)))

"""Fusing the dense and lexical rankings, and turning scores into a confidence.

Two fusions are offered and compared in bench/retrieval_quality.py on the dev split:
reciprocal-rank fusion (no weights at all) and a weighted sum of the dense cosine and the
max-normalised BM25 score. The confidence is a logistic model over three features that
mean the same thing on any knowledge base — the top entry's cosine, its margin over the
runner-up, and whether BM25 agrees — fitted on the dev split, never on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RRF_K = 60


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

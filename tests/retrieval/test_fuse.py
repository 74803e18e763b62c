"""Fusion over an entry's fields: language fallback, agreement across fields, tag matches."""

from __future__ import annotations

import numpy as np

from retrieval.fuse import FIELD_FEATURES, QueryScores, field_features, fields_fusion
from retrieval.types import FieldScores
from retrieval.lexical import LexicalIndex

WEIGHTS = (0.05, 0.14, 0.15, 0.13, 0.11, 0.12, 0.09, 0.21, 0.03, 0.01, 0.0)


def test_missing_language_falls_back_to_english_then_japanese() -> None:
    both = {"q:ja": 0.8, "q:en": 0.7, "q:ko": 0.9, "a:ja": 0.6}
    q_query, q_ja, q_en, q_any, a_query, a_ja, a_en, a_any = field_features(both, "ko")
    assert (q_query, q_ja, q_en, q_any) == (0.9, 0.8, 0.7, 0.9)
    assert (a_query, a_ja, a_en, a_any) == (0.6, 0.6, 0.6, 0.6)  # only Japanese: used for all
    japanese_only = field_features({"q:ja": 0.8, "a:ja": 0.6}, "vi")
    assert japanese_only[:4] == (0.8, 0.8, 0.8, 0.8)
    assert len(japanese_only) == len(FIELD_FEATURES)


def test_agreement_across_fields_beats_one_stray_paraphrase() -> None:
    # "stray": one question variant in some language happens to be closest; "steady" is
    # close in the query's language, in Japanese and in its answers.
    stray = {"q:ja": 0.80, "q:en": 0.80, "q:th": 0.95, "a:ja": 0.78, "a:en": 0.78, "a:ko": 0.78}
    steady = {"q:ja": 0.88, "q:en": 0.87, "q:ko": 0.90, "a:ja": 0.86, "a:en": 0.86, "a:ko": 0.87}
    names = tuple(sorted(set(stray) | set(steady)))
    matrix = np.array([[f.get(n, np.nan) for n in names] for f in (stray, steady)], dtype=np.float32)
    scores = QueryScores("ko", FieldScores(("stray", "steady"), names, matrix), {})
    assert scores.dense["stray"] > scores.dense["steady"]  # best single cosine: the stray one
    fused = fields_fusion(scores, WEIGHTS)
    assert fused["steady"] > fused["stray"]


def test_a_query_word_naming_a_tag_counts_by_how_specific_the_tag_is() -> None:
    index = LexicalIndex(["a", "b", "c"], {}, None, [["児童手当", "手当"], ["手当"], ["Child Allowance"]])
    assert index.tag_scores("児童手当") == {0: 1.0}
    assert index.tag_scores("手当 申請") == {0: 0.5, 1: 0.5}
    assert index.tag_scores("child  allowance") == {2: 1.0}
    assert index.tag_scores("児童手当の申請") == {}


def test_character_ngram_feature_and_weights_fitted_before_it() -> None:
    # The character n-gram cosine is the last feature; an older, shorter weight tuple
    # (from a city's settings) still ranks, with that feature left out.
    names = ("q:ja",)
    matrix = np.array([[0.80], [0.80]], dtype=np.float32)
    scores = QueryScores("es", FieldScores(("a", "b"), names, matrix), {}, chars={"b": 0.6})
    assert fields_fusion(scores, WEIGHTS)["a"] == fields_fusion(scores, WEIGHTS)["b"]
    fused = fields_fusion(scores, (*WEIGHTS, 0.06))
    assert fused["b"] > fused["a"]

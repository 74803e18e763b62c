"""Cross-lingual alignment learnt from the KB's own parallel questions (retrieval/align.py)."""

from __future__ import annotations

import faiss
import numpy as np

from retrieval.align import MIN_PAIRS, CrossLingualAlignment
from retrieval.fuse import ALIGNED_FEATURES, FIELD_FEATURES, LEXICAL_FEATURES, QueryScores, fields_fusion
from retrieval.index import DenseIndex, Manifest
from retrieval.types import FieldScores

DIM = 24


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _index(entries: int, seed: int = 0) -> tuple[DenseIndex, np.ndarray, np.ndarray]:
    """Each entry: a Japanese question, and a "Korean" one that is the same meaning rotated
    by a fixed rotation and shifted by a fixed language offset (plus a little noise)."""
    rng = np.random.default_rng(seed)
    meaning = _unit(rng.normal(size=(entries, DIM)))
    rotation, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    offset = 0.8 * _unit(rng.normal(size=DIM))
    korean = _unit(meaning @ rotation + offset + 0.02 * rng.normal(size=(entries, DIM)))
    vectors = np.vstack([meaning, korean]).astype(np.float32)
    rows = [f"e{i}" for i in range(entries)] * 2
    fields = ["q:ja"] * entries + ["q:ko"] * entries
    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    dense = DenseIndex(index, rows, fields, Manifest(3, "test", "1", "kb", len(rows)))
    return dense, meaning, lambda m: _unit(m @ rotation + offset)  # type: ignore[return-value]


def test_a_rotated_and_shifted_language_is_mapped_back_onto_japanese() -> None:
    dense, meaning, to_korean = _index(60)
    align = CrossLingualAlignment(dense)
    assert "ko" in align.maps
    entries = [f"e{i}" for i in range(60)]
    hits = 0
    for k in range(60):
        query = to_korean(meaning[k])  # a new Korean sentence meaning entry k
        feats = align.features(query, "ko", entries)
        q_ja = feats[:, ALIGNED_FEATURES.index("al_q_ja")]
        hits += int(np.argmax(q_ja) == k)
        # The raw Korean vector meets the Japanese question far less closely.
        assert q_ja[k] > float(meaning[k] @ query) + 0.2
    assert hits == 60


def test_a_language_with_too_few_parallel_questions_keeps_the_identity() -> None:
    dense, _, _ = _index(MIN_PAIRS - 1)
    align = CrossLingualAlignment(dense)
    assert align.maps == {}
    q = _unit(np.arange(DIM, dtype=np.float32) + 1)
    expected = _unit(q - align.means["q:ko"])
    assert np.allclose(align.query_vector(q, "ko"), expected, atol=1e-6)


def test_a_removed_entry_leaves_the_alignment_and_its_features() -> None:
    dense, meaning, _ = _index(40)
    dense.remove_entry("e3")
    align = CrossLingualAlignment(dense)
    feats = align.features(meaning[0], "ko", ["e0", "e3"])
    assert feats.shape == (2, len(ALIGNED_FEATURES))
    assert np.isfinite(feats[0]).all()
    assert feats[1, -1] == 0.0  # no centroid for an entry no longer in the index


def test_only_queries_with_aligned_features_use_the_cross_lingual_weights() -> None:
    names = ("q:ja",)
    matrix = np.array([[0.80], [0.79]], dtype=np.float32)
    fields = FieldScores(("a", "b"), names, matrix)
    weights = (1.0,) + (0.0,) * 11
    aligned = np.zeros((2, len(ALIGNED_FEATURES)))
    aligned[1, ALIGNED_FEATURES.index("centroid")] = 1.0
    weights_xl = (*weights, *(0.0,) * 8, 0.5)
    assert len(weights_xl) == len(FIELD_FEATURES) + len(LEXICAL_FEATURES) + len(ALIGNED_FEATURES)
    japanese = QueryScores("ja", fields, {})
    korean = QueryScores("ko", fields, {}, aligned=aligned)
    assert max(fields_fusion(japanese, weights, weights_xl).items(), key=lambda kv: kv[1])[0] == "a"
    assert max(fields_fusion(korean, weights, weights_xl).items(), key=lambda kv: kv[1])[0] == "b"
    # Without cross-lingual weights every query is ranked as before.
    assert max(fields_fusion(korean, weights).items(), key=lambda kv: kv[1])[0] == "a"

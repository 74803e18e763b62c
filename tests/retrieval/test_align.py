"""Cross-lingual alignment learnt from the KB's own parallel questions (retrieval/align.py)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval.align import MIN_PAIRS, CrossLingualAlignment, EntryDiscriminant
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
    weights_xl = (*weights, *(0.0,) * 8, 0.5, 0.0, 0.0)
    assert len(weights_xl) == len(FIELD_FEATURES) + len(LEXICAL_FEATURES) + len(ALIGNED_FEATURES)
    japanese = QueryScores("ja", fields, {})
    korean = QueryScores("ko", fields, {}, aligned=aligned)
    assert max(fields_fusion(japanese, weights, weights_xl).items(), key=lambda kv: kv[1])[0] == "a"
    assert max(fields_fusion(korean, weights, weights_xl).items(), key=lambda kv: kv[1])[0] == "b"
    # Without cross-lingual weights every query is ranked as before.
    assert max(fields_fusion(korean, weights).items(), key=lambda kv: kv[1])[0] == "a"


def _worded(entries: int, langs: tuple[str, ...], seed: int = 0):  # type: ignore[no-untyped-def]
    """Each entry's question in every language = its meaning plus a large random move along
    two fixed directions (language and wording) and a little noise; returns the index and a
    function writing new sentences of given meanings."""
    rng = np.random.default_rng(seed)
    meaning = _unit(rng.normal(size=(entries, DIM)))
    nuisance = np.linalg.qr(rng.normal(size=(DIM, 2)))[0].T

    def sentence(m: np.ndarray) -> np.ndarray:
        moved = m + 3.0 * rng.normal(size=(len(m), 2)) @ nuisance
        return _unit(moved + 0.05 * rng.normal(size=m.shape)).astype(np.float32)

    vectors = np.vstack([sentence(meaning) for _ in langs])
    rows = [f"e{i}" for i in range(entries)] * len(langs)
    fields = [f"q:{lang}" for lang in langs for _ in range(entries)]
    index = faiss.IndexFlatIP(DIM)
    index.add(vectors)
    dense = DenseIndex(index, rows, fields, Manifest(3, "test", "1", "kb", len(rows)))
    return dense, meaning, sentence


def test_the_discriminant_looks_past_what_varies_within_an_entry() -> None:
    dense, meaning, sentence = _worded(60, ("ja", "ko", "tl"))
    align = CrossLingualAlignment(dense, shrinkage=(0.01, 0.01))
    entries = [f"e{i}" for i in range(60)]
    queries = sentence(meaning)  # new sentences, moved along the same directions
    hits = {name: 0 for name in ("centroid", "disc_centroid", "disc_best")}
    for k in range(60):
        feats = align.features(queries[k], "tl", entries)
        for name in hits:
            hits[name] += int(np.argmax(feats[:, ALIGNED_FEATURES.index(name)]) == k)
    # The plain centroid is lost in the wording; whitened, the meaning decides.
    assert hits["centroid"] < 20
    assert hits["disc_centroid"] == 60 and hits["disc_best"] == 60


def test_disc_best_is_the_closest_whitened_question_of_each_entry() -> None:
    dense, meaning, sentence = _worded(30, ("ja", "ko"))
    align = CrossLingualAlignment(dense)
    disc = align.discriminant
    q = sentence(meaning[:1])[0]
    ids = np.array([align._entry_index["e3"], -1, align._entry_index["e7"]])
    feats = disc.features(q, ids)
    wq = (q - disc.mean) @ disc.whitening
    wq /= np.linalg.norm(wq)
    for n, e in enumerate((3, 7)):
        rows = np.array([e, 30 + e])  # entry e's Japanese and Korean questions
        x = (dense.vectors[rows] - disc.mean) @ disc.whitening
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        assert feats[(0, 2)[n], 1] == pytest.approx(float((x @ wq).max()), abs=1e-5)
    assert feats[1].tolist() == [0.0, 0.0]  # not in the KB


def test_without_entries_holding_several_questions_the_whitening_is_the_identity() -> None:
    rng = np.random.default_rng(1)
    questions = _unit(rng.normal(size=(50, DIM))).astype(np.float32)
    disc = EntryDiscriminant(questions, np.arange(50), 50, shrinkage=(30.0, 3.0))
    assert np.allclose(disc.whitening, np.eye(DIM))
    assert np.allclose(disc.centroid_whitening, np.eye(DIM))
    q = _unit(rng.normal(size=DIM)).astype(np.float32)
    expected = _unit(questions[4] - disc.mean) @ _unit(q - disc.mean)
    centroid, best = disc.features(q, np.array([4]))[0]
    assert centroid == pytest.approx(float(expected), abs=1e-5)
    assert best == centroid  # an entry's only question is its centroid


def test_the_discriminant_features_can_be_switched_off(tmp_path: Path) -> None:
    from retrieval import Retriever, RetrievalSettings
    from retrieval.fuse import DISCRIMINANT_FEATURES
    from tests.retrieval.test_index import DEPARTMENTS, ENTRIES

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "departments.yml").write_text(DEPARTMENTS, encoding="utf-8")
    (kb / "faq.yml").write_text(ENTRIES, encoding="utf-8")
    settings = RetrievalSettings(kb_path=kb, index_dir=tmp_path / "index")
    retriever = Retriever(settings)
    retriever.warm_up()
    cols = [ALIGNED_FEATURES.index(n) for n in DISCRIMINANT_FEATURES]
    on = retriever.scores("Is there free Wi-Fi at the station?")
    assert on.aligned is not None and np.abs(on.aligned[:, cols]).max() > 0.1
    wifi = on.fields.entries.index("wifi")
    assert on.aligned[wifi, cols[1]] == on.aligned[:, cols[1]].max()
    settings.discriminant_features = False
    off = retriever.scores("Is there free Wi-Fi at the station?")
    assert off.aligned is not None and not off.aligned[:, cols].any()
    assert np.array_equal(np.delete(off.aligned, cols, axis=1), np.delete(on.aligned, cols, axis=1))

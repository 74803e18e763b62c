"""Cross-lingual features for queries not written in Japanese, learnt from the KB itself.

A multilingual embedder puts a Korean question and its Japanese translation near each
other, but not on top of each other: every language sits a little off to its own side, so
a Korean query's nearest neighbours lean towards whatever Korean text is close, and two
neighbouring entries (moving in / moving out) are told apart by 0.005–0.02 of cosine. A
city KB already holds what corrects this: each entry's question in several languages, i.e.
parallel sentences. From them, at warm-up (nothing persisted, like the character n-grams):

* every field (``q:ko``, ``a:vi``, …) is centred on its own mean vector, and a query on the
  mean of its language's questions — that removes the language's own offset;
* per language L, an orthogonal map W_L (Procrustes: the rotation taking each entry's mean
  centred L question to its mean centred Japanese question, ``svd(X_Lᵀ Y_ja) = U Σ Vᵀ``,
  W_L = U Vᵀ) brings the L text into the Japanese space. A language with fewer than
  ``MIN_PAIRS`` entries in both languages keeps the identity: one map per language, learnt
  only where there are enough pairs;
* the same eight dense field features as fusion's first ones are then taken again with the
  query and every KB vector mapped (``ALIGNED_FEATURES``),
* and the cosine of the query to each entry's *centroid*, the mean of its question
  variants in every language — a language-neutral point of the entry.

These nine features are added for queries in languages other than Japanese only, with their
own fusion weights (``RetrievalSettings.field_weights_xl``); Japanese queries are ranked
exactly as before. Chosen by a 2-fold cross-validation on the dev split, each query
grouped with its translations, 5 random splits (bench/retrieval_quality.py): mean dev
Hit@1 over all languages 0.888 → 0.895; the aligned fields alone 0.894, the centroid alone
0.891. Also tried there and not kept: the hubness correction CSLS (0.889 at best), query
expansion from the top entries (Rocchio, ≤ 0.886), the aligned features without centring
(0.891), a map regularised towards the identity (0.890–0.892).

What the map is and is not: fitted on half of the sample KB's entries, it does *not* carry
over to the other half's question pairs (their nearest Japanese question: 0.55–0.72 with
centring alone, far lower through a map learnt from 102 pairs in 384 dimensions). It works
transductively — it pulls the KB's own L questions onto their own Japanese questions, and a
query near one of them follows — which is the use it is put to, always over the KB it was
learnt from. Per-language on dev, Tagalog is the one language it does not help (0.819 →
0.812); on test Tagalog fell 0.851 → 0.831. Cost: ~0.6–0.8 ms CPU per non-Japanese query
(one more product over the candidates' vectors), 0.1–2 s at warm-up, the mapped copy of the
vectors (6 MB for a 2,000-entry Japanese-only KB, 17 MB with the sample city's 11 languages).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.fuse import ALIGNED_FEATURES, _dense_features
from retrieval.index import DenseIndex, _FieldGroups
from retrieval.types import FieldScores

# The Japanese space everything is mapped into (the language every entry has).
PIVOT = "ja"
# Fewest entries with questions in both L and Japanese for L to get a map of its own.
MIN_PAIRS = 20


class CrossLingualAlignment:
    """Per-field means, per-language orthogonal maps, mapped vectors and entry centroids
    of one dense index (built in well under a second for a 2,000-entry KB)."""

    def __init__(self, dense: DenseIndex) -> None:
        vectors = np.asarray(dense.vectors, dtype=np.float32)
        live = np.array([r is not None for r in dense.rows], dtype=bool)
        fields = np.array(dense.fields, dtype=object)
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        self.dim = dim
        self.means: dict[str, np.ndarray] = {
            f: vectors[live & (fields == f)].mean(axis=0)
            for f in sorted(set(fields[live].tolist()))
        }
        # One working copy, centred, normalised and mapped in place: it becomes
        # ``self.vectors`` (the retriever's only extra copy of the KB's vectors).
        centred = vectors.copy()
        for f, mean in self.means.items():
            centred[fields == f] -= mean
        _normalise_rows(centred)
        entries = sorted({r for r in dense.rows if r is not None})
        self._entry_index = {e: i for i, e in enumerate(entries)}
        row_entry = np.array([self._entry_index.get(r, -1) if r else -1 for r in dense.rows])
        self.maps = self._procrustes(centred, fields, row_entry, live, len(entries))
        langs = np.array([f.split(":", 1)[1] for f in dense.fields], dtype=object)
        for lang, w in self.maps.items():
            rows = langs == lang
            centred[rows] = centred[rows] @ w
        _normalise_rows(centred)
        self.vectors = centred
        self._groups: _FieldGroups = dense._groups
        question = live & np.array([f.startswith("q:") for f in dense.fields], dtype=bool)
        self.centroids = np.zeros((len(entries), dim), dtype=np.float32)
        np.add.at(self.centroids, row_entry[question], vectors[question])
        _normalise_rows(self.centroids)

    def _procrustes(
        self, centred: np.ndarray, fields: np.ndarray, row_entry: np.ndarray,
        live: np.ndarray, n_entries: int,
    ) -> dict[str, np.ndarray]:
        def entry_means(lang: str) -> tuple[np.ndarray, np.ndarray]:
            rows = live & (fields == f"q:{lang}")
            sums = np.zeros((n_entries, self.dim))
            counts = np.zeros(n_entries)
            np.add.at(sums, row_entry[rows], centred[rows])
            np.add.at(counts, row_entry[rows], 1)
            return sums, counts > 0

        maps: dict[str, np.ndarray] = {}
        if f"q:{PIVOT}" not in self.means:
            return maps
        target, has_target = entry_means(PIVOT)
        for lang in sorted({f.split(":", 1)[1] for f in self.means} - {PIVOT}):
            source, has_source = entry_means(lang)
            both = has_source & has_target
            if both.sum() < MIN_PAIRS:
                continue  # identity
            u, _, vt = np.linalg.svd(source[both].T @ target[both])
            maps[lang] = (u @ vt).astype(np.float32)
        return maps

    def query_vector(self, vector: np.ndarray, lang: str) -> np.ndarray:
        """The query centred on its language's questions and mapped into the pivot space
        (unchanged but normalised when the KB has no questions in ``lang``)."""
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        mean = self.means.get(f"q:{lang}")
        if mean is not None:
            q = q - mean
        if lang in self.maps:
            # einsum, not ``@``: numpy's BLAS would run this on every core (see index.py).
            q = np.einsum("i,ij->j", q, self.maps[lang])
        return _normalised(q.reshape(1, -1))[0]

    def features(self, vector: np.ndarray, lang: str, entries: Sequence[str]) -> np.ndarray:
        """``ALIGNED_FEATURES`` of each of ``entries`` (rows) for a query in ``lang``."""
        q = self.query_vector(vector, lang)
        fields = self._groups.best(self.vectors, q, entries, gather=True)
        if fields.entries != tuple(entries):  # an entry without vectors: none in practice
            known = {e: i for i, e in enumerate(fields.entries)}
            matrix = np.full((len(entries), len(fields.names)), np.nan, dtype=np.float32)
            for n, e in enumerate(entries):
                if e in known:
                    matrix[n] = fields.matrix[known[e]]
            fields = FieldScores(tuple(entries), fields.names, matrix)
        dense = _dense_features(fields, lang)
        ids = np.array([self._entry_index.get(e, -1) for e in entries], dtype=np.int64)
        centroid = np.einsum(
            "ij,j->i", self.centroids[np.maximum(ids, 0)], np.asarray(vector, dtype=np.float32)
        )
        centroid = np.where(ids >= 0, centroid, 0.0).reshape(-1, 1)
        out = np.hstack([dense, centroid])
        assert out.shape[1] == len(ALIGNED_FEATURES)
        return out


def _normalise_rows(x: np.ndarray) -> None:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    x /= np.where(norms > 0, norms, 1.0)


def _normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)

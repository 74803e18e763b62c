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

Two more features come from a *discriminant* view of the same parallel questions
(``EntryDiscriminant``, issue 3's Tagalog gap). An entry's question vectors differ from
each other by language and wording, not by meaning; entries differ by meaning. So the
scatter of the question vectors around their own entry's mean (the within-entry
covariance S_w, over all languages) spans the directions that carry language and
paraphrase, and whitening by W = (S_w + λ·tr(S_w)/d·I)^(-1/2) shrinks them, leaving the
directions that tell entries apart. In that space the query (minus the mean question) is
compared with each candidate entry's mean question (``disc_centroid``) and with its closest
question variant in any language (``disc_best``). λ per feature chosen by the same 2-fold
CV on dev (5 splits, retrieval_quality --cv; figures on one fixed set of query vectors):
mean Hit@1 over all languages 0.8959 → 0.9019 with λ = 30 for the centroid and 3 for the
closest variant, Tagalog 0.825 → 0.837, the other languages within 0.003 of before or
above (th 0.893 → 0.890, zh-Hant 0.912 → 0.910). One λ for both (query vectors of an
earlier engine build, baseline 0.8962 there): 0.3 → 0.9006, 1 → 0.9018, 3 → 0.9021, 10 →
0.9002, but Thai fell to 0.879–0.885 with each. Single rankers on dev,
Tagalog Hit@1: the plain centroid 0.609, the whitened one 0.658, the raw Tagalog question
0.574. Japanese queries: the two features added to the shared twelve (fitted on every
language) gave Japanese 0.920 against 0.921 without, so Japanese is ranked as before. Tried
and not kept: the whitened centroid alone (0.9013, tl 0.815), the closest variant alone
(0.8981), Fisher LDA (top 50–200 generalised eigenvectors of S_b vs S_w, ≤ 0.9005, tl ≤
0.821), S_w mixed with the query language's own scatter (0.9013, tl 0.812), a multinomial
logistic regression over the question vectors (0.8987; 16 s CPU to fit on 205 entries).
Misses of Tagalog dev queries going to the generic hub entry (foreign-resident
procedures): 7 of 37 → 6 of 31 (the hub barely moved). A KB with fewer than ``MIN_PAIRS``
entries holding two or more questions has no within-entry scatter to learn from: W is the
identity there (plain centred cosines). Cost: two 384×384 products per query, a product
over the candidates' question vectors, the whitened copy of the question vectors (3 MB for
the 2,000-entry bench KB, 7 MB for the sample city).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.fuse import ALIGNED_FEATURES, DISCRIMINANT_FEATURES, _dense_features
from retrieval.index import DenseIndex, _FieldGroups
from retrieval.types import FieldScores

# The Japanese space everything is mapped into (the language every entry has).
PIVOT = "ja"
# Fewest entries with questions in both L and Japanese for L to get a map of its own (and
# fewest entries with two or more questions for the discriminant to learn a whitening).
MIN_PAIRS = 20
# λ of the discriminant's shrinkage, relative to S_w's mean eigenvalue, for disc_centroid
# and for disc_best; chosen by the CV (see the module docstring).
SHRINKAGE = (30.0, 3.0)


class CrossLingualAlignment:
    """Per-field means, per-language orthogonal maps, mapped vectors and entry centroids
    of one dense index (built in well under a second for a 2,000-entry KB)."""

    def __init__(
        self, dense: DenseIndex, shrinkage: tuple[float, float] = SHRINKAGE
    ) -> None:
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
        self.discriminant = EntryDiscriminant(
            vectors[question], row_entry[question], len(entries), shrinkage
        )

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

    def features(
        self, vector: np.ndarray, lang: str, entries: Sequence[str], discriminant: bool = True
    ) -> np.ndarray:
        """``ALIGNED_FEATURES`` of each of ``entries`` (rows) for a query in ``lang``
        (``discriminant`` False: the two discriminant ones are zeros, not computed)."""
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
        disc = (
            self.discriminant.features(vector, ids) if discriminant
            else np.zeros((len(ids), len(DISCRIMINANT_FEATURES)), dtype=np.float32)
        )
        out = np.hstack([dense, centroid, disc])
        assert out.shape[1] == len(ALIGNED_FEATURES)
        return out


class EntryDiscriminant:
    """The KB's question vectors whitened by their within-entry covariance (see the module
    docstring): ``disc_centroid`` and ``disc_best`` of any candidate entries for a query."""

    def __init__(
        self, questions: np.ndarray, entry: np.ndarray, n_entries: int,
        shrinkage: tuple[float, float],
    ) -> None:
        """``questions``: question vectors (rows); ``entry``: each one's entry number;
        ``shrinkage``: λ of the centroids' whitening and of the questions'."""
        # float32 throughout, so the transient copies at warm-up stay small (the speed
        # bench's peak RSS is near issue 3's 500 MB).
        x = np.asarray(questions, dtype=np.float32)
        x = x if x.ndim == 2 else np.zeros((0, 0), dtype=np.float32)  # no vectors
        dim = x.shape[1]
        counts = np.bincount(entry, minlength=n_entries)
        means = np.zeros((n_entries, dim), dtype=np.float32)
        np.add.at(means, entry, x)
        means /= np.maximum(counts, 1)[:, None].astype(np.float32)
        self.mean = x.mean(axis=0) if len(x) else np.zeros(dim, dtype=np.float32)
        residuals = x - means[entry]
        self.centroid_whitening, self.whitening = self._whitening(residuals, counts, shrinkage)
        del residuals
        means -= self.mean
        self.centroids = _normalised(means @ self.centroid_whitening).astype(np.float32)
        del means
        self.centroids[counts == 0] = 0.0
        self.size = counts.astype(np.int64)
        # The whitened questions ordered by entry: entry n's are rows start[n]:start[n]+size[n].
        # Not kept when no entry has two (a Japanese-only KB of one question each, as the
        # speed bench's): each entry's closest question is then its centroid (with W = I,
        # as it is there), and the copy would only cost memory (3 MB per 2,000 entries).
        self.questions: np.ndarray | None = None
        if len(counts) and counts.max() > 1:
            x = x[np.argsort(entry, kind="stable")]
            x -= self.mean
            self.questions = _normalised(x @ self.whitening).astype(np.float32)
        self.start = np.concatenate([[0], np.cumsum(self.size)[:-1]]).astype(np.int64)

    @staticmethod
    def _whitening(
        residuals: np.ndarray, counts: np.ndarray, shrinkage: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(S_w + λ·tr(S_w)/d·I)^(-1/2) for each λ of ``shrinkage``; the identity without
        enough within-entry scatter."""
        dim = residuals.shape[1]
        within = (residuals.T @ residuals).astype(np.float64) / max(len(residuals), 1)
        scale = float(np.trace(within)) / max(dim, 1)
        if (counts >= 2).sum() < MIN_PAIRS or scale <= 0:
            eye = np.eye(dim, dtype=np.float32)
            return eye, eye
        values, vectors = np.linalg.eigh(within)
        values = np.maximum(values, 0.0)
        first, second = (
            ((vectors / np.sqrt(values + lam * scale)) @ vectors.T).astype(np.float32)
            for lam in shrinkage
        )
        return first, second

    def features(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """(``disc_centroid``, ``disc_best``) of entries number ``ids`` (-1: not in the KB,
        both 0) for the query ``vector``."""
        if not len(self.centroids):
            return np.zeros((len(ids), 2), dtype=np.float32)
        q = np.asarray(vector, dtype=np.float32).reshape(-1) - self.mean
        # einsum, not ``@``: numpy's BLAS would run this on every core (see index.py).
        qc = _normalised(np.einsum("i,ij->j", q, self.centroid_whitening).reshape(1, -1))[0]
        q = _normalised(np.einsum("i,ij->j", q, self.whitening).reshape(1, -1))[0]
        known = np.maximum(ids, 0)
        centroid = np.einsum("ij,j->i", self.centroids[known], qc)
        sizes = np.where(ids >= 0, self.size[known], 0)
        has = sizes > 0
        if self.questions is None:  # one question per entry: its centroid
            centroid = np.where(has, centroid, 0.0)
            return np.stack([centroid, centroid], axis=1)
        best = np.zeros(len(ids), dtype=np.float32)
        if has.any():
            # Each candidate's slice of ``questions``, one index array (as index._FieldGroups).
            s = sizes[has]
            take = np.repeat(self.start[known[has]] - np.cumsum(s) + s, s) + np.arange(s.sum())
            sims = np.einsum("ij,j->i", self.questions[take], q)
            best[has] = np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(s)[:-1]]))
        centroid = np.where(has, centroid, 0.0)
        return np.stack([centroid, best], axis=1)


def _normalise_rows(x: np.ndarray) -> None:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    x /= np.where(norms > 0, norms, 1.0)


def _normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)

"""The dense FAISS index of the knowledge base, persisted with a manifest.

Each entry contributes several vectors (its question variants in every language, and its
answer in every language with that language's first question in front); ``rows`` maps each
vector back to its entry and ``fields`` to what it embeds (``q:<lang>`` a question variant,
``a:<lang>`` the answer), so that fusion can score an entry field by field
(``DenseIndex.field_scores``, retrieval/fuse.py). The manifest records the embedder, its version and the KB digest: a
mismatch, a missing file or a corrupt one means "rebuild", never a crash. Rebuilds are
cheap after the first: every embedded text is kept in a vector cache keyed by a hash of
the embedder version and the text, so only new or changed texts are embedded again.
Single entries can also be added or removed in place (``add_entry``/``remove_entry``).
Files are written to a temporary name and renamed, so a reader never sees half an index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from collections.abc import Iterable, Sequence
from pathlib import Path

import faiss
import numpy as np

from retrieval.embed import Embedder, embed_passages_parallel
from retrieval.kb import Entry, KnowledgeBase
from retrieval.types import FieldScores

log = logging.getLogger(__name__)
# 3: answers embedded in every language, and a field per vector (fields.json).
FORMAT_VERSION = 3
# Above this many vectors an approximate (HNSW) index replaces the exact flat one.
APPROXIMATE_ABOVE = 200_000
# Answers are embedded up to this many characters: the opening of an answer carries its
# topic, and e5's cost grows with length (see bench/retrieval_speed.py).
ANSWER_CHARS = 300
# Up to this many vectors, field scores come from one product with every vector.
_FULL_PRODUCT_UP_TO = 100_000
# The shared vector cache keeps at most this many vectors (≈ 300 MB at 384 dimensions).
MAX_CACHED = 200_000


@dataclass(frozen=True)
class Manifest:
    """What an index file was built from."""

    format_version: int
    embedder: str
    embedder_version: str
    kb_digest: str
    vectors: int


def entry_passages(entry: Entry) -> list[tuple[str, str]]:
    """The ``(field, text)`` pairs embedded for one entry: every question variant in every
    language (field ``q:<lang>``), and the answer in every language with the entry's first
    question of that language in front (``a:<lang>``; the question gives a long answer its
    topic). Answers in every language, not only Japanese and English: a Korean query meets
    the Korean answer's wording (cross-lingual dev Hit@1, see bench/retrieval_quality.py)."""
    pairs = [(f"q:{lang}", q) for lang, variants in entry.questions.items() for q in variants]
    for lang, answer in entry.answers.items():
        head = entry.questions.get(lang, entry.questions.get("ja", ("",)))[0]
        pairs.append((f"a:{lang}", f"{head}\n{answer[:ANSWER_CHARS]}"))
    return pairs


class VectorCache:
    """Embeddings of texts already seen, keyed by sha1(embedder version + text)."""

    def __init__(self, path: Path, embedder: Embedder, workers: int = 1) -> None:
        self.path = path
        self.embedder = embedder
        self.workers = workers
        self.vectors: dict[bytes, np.ndarray] = {}
        self._load()

    def _key(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.embedder.version}\0{text}".encode()).digest()

    def _load(self) -> None:
        try:
            with np.load(self.path) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, KeyError, ValueError) as exc:
            if self.path.exists():
                log.warning("vector cache %s unreadable (%s); starting empty", self.path, exc)
            return
        if vectors.ndim == 2 and vectors.shape[1] == self.embedder.dim:
            self.vectors = {bytes(k): v for k, v in zip(keys, vectors, strict=True)}

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for ``texts``, embedding only those not cached yet."""
        keys = [self._key(t) for t in texts]
        # Each distinct text once (the same question often appears in several entries or
        # languages), longest first so parallel workers get even shares of tokens.
        first = {k: i for i, k in reversed(list(enumerate(keys))) if k not in self.vectors}
        missing = sorted(first.values(), key=lambda i: -len(texts[i]))
        if missing:
            log.info("embedding %d new texts (%d cached or repeated)", len(missing),
                     len(texts) - len(missing))
            fresh = embed_passages_parallel(
                self.embedder, [texts[i] for i in missing], self.workers
            )
            for i, vector in zip(missing, fresh, strict=True):
                self.vectors[keys[i]] = vector
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack([self.vectors[k] for k in keys]).astype(np.float32)

    def save(self, keep: list[str]) -> None:
        """Write the cache: what is on disk (other KBs built on this machine share the file)
        plus this build's texts, newest kept first when it grows past ``MAX_CACHED``."""
        mine = [self._key(t) for t in keep]
        merged = dict(VectorCache(self.path, self.embedder, self.workers).vectors)
        merged.update({k: self.vectors[k] for k in mine if k in self.vectors})
        order = list(dict.fromkeys([*mine, *merged]))[:MAX_CACHED]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        vectors = (
            np.vstack([merged[k] for k in order])
            if order
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        np.savez(tmp, keys=np.array(order, dtype="S20"), vectors=vectors)
        os.replace(tmp, self.path)


class DenseIndex:
    """FAISS inner-product index over normalised vectors, one or more per entry."""

    def __init__(
        self, index: faiss.Index, rows: list[str | None], fields: list[str], manifest: Manifest
    ) -> None:
        self.index = index
        self.rows = rows  # vector id → entry id; None for a removed entry's vectors
        self.fields = fields  # vector id → field ("q:ja", "a:en", …)
        self.manifest = manifest
        # The vectors themselves, to score every field of a candidate entry exactly (the
        # nearest-neighbour search only says which entries are candidates).
        self.vectors = index.reconstruct_n(0, index.ntotal) if index.ntotal else _empty(index.d)
        self._groups = _FieldGroups(rows, fields)

    @classmethod
    def build(cls, kb: KnowledgeBase, embedder: Embedder, cache: VectorCache) -> DenseIndex:
        """Embed (or take from the cache) every entry's texts and index the vectors."""
        texts: list[str] = []
        rows: list[str | None] = []
        fields: list[str] = []
        for entry in kb.entries:
            for field, text in entry_passages(entry):
                texts.append(text)
                rows.append(entry.id)
                fields.append(field)
        vectors = cache.embed(texts)
        cache.save(texts)
        index = _new_index(embedder.dim, len(rows))
        if rows:
            index.add(vectors)
        manifest = Manifest(FORMAT_VERSION, embedder.name, embedder.version, kb.digest, len(rows))
        return cls(index, rows, fields, manifest)

    def add_entry(self, entry: Entry, cache: VectorCache) -> None:
        """Index one new or changed entry without rebuilding (its old vectors are retired)."""
        self.remove_entry(entry.id)
        pairs = entry_passages(entry)
        vectors = cache.embed([text for _, text in pairs])
        self.index.add(vectors)
        self.vectors = np.vstack([self.vectors, vectors])
        self.rows.extend([entry.id] * len(pairs))
        self.fields.extend(field for field, _ in pairs)
        self._groups = _FieldGroups(self.rows, self.fields)

    def remove_entry(self, entry_id: str) -> int:
        """Retire an entry's vectors (they are skipped by search); returns how many."""
        removed = 0
        for i, row in enumerate(self.rows):
            if row == entry_id:
                self.rows[i] = None
                removed += 1
        if removed:
            self._groups = _FieldGroups(self.rows, self.fields)
        return removed

    def search(self, query: np.ndarray, k: int) -> dict[str, float]:
        """Best cosine similarity per entry among the ``k`` nearest vectors."""
        if not self.rows:
            return {}
        scores, ids = self.index.search(query.reshape(1, -1), min(k, len(self.rows)))
        best: dict[str, float] = {}
        for score, idx in zip(scores[0], ids[0], strict=True):
            entry_id = self.rows[idx] if idx >= 0 else None
            if entry_id is not None:
                best[entry_id] = max(best.get(entry_id, -1.0), float(score))
        return best

    def field_scores(self, query: np.ndarray, k: int, also: Iterable[str] = ()) -> FieldScores:
        """Per candidate entry, the best cosine in each of its fields.

        Candidates are the entries among the ``k`` nearest vectors plus ``also`` (e.g. the
        best lexical matches); every field of a candidate is scored exactly, even a field
        none of whose vectors was among the nearest. On an exact (flat) index the one
        product with every vector gives both the nearest vectors and the field scores:
        FAISS's own search would compute the same products again (and on two shared
        cores its threads cost more CPU than the product).
        """
        q = query.reshape(-1)
        if isinstance(self.index, faiss.IndexFlat) and len(self.vectors) <= _FULL_PRODUCT_UP_TO:
            sims = np.einsum("ij,j->i", self.vectors, q)
            nearest = self._nearest(sims, k)
            candidates = list(dict.fromkeys([*nearest, *also]))
            return self._groups.best_of(sims, candidates)
        candidates = list(dict.fromkeys([*self.search(query, k), *also]))
        return self._groups.best(self.vectors, q, candidates)

    def _nearest(self, sims: np.ndarray, k: int) -> list[str]:
        """Entries of the ``k`` most similar vectors, best first (as ``search`` orders them)."""
        k = min(k, len(sims))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        rows = self.rows
        return [e for e in (rows[i] for i in top.tolist()) if e is not None]

    def save(self, directory: Path) -> None:
        """Write index, rows, fields and manifest atomically into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / "dense.faiss", faiss.serialize_index(self.index).tobytes())
        _atomic_write(directory / "rows.json", json.dumps(self.rows).encode())
        _atomic_write(directory / "fields.json", json.dumps(self.fields).encode())
        _atomic_write(directory / "manifest.json", json.dumps(asdict(self.manifest)).encode())

    @classmethod
    def load(cls, directory: Path, expected: Manifest) -> DenseIndex | None:
        """The saved index if it matches ``expected`` (ignoring its vector count), else None."""
        try:
            raw = json.loads((directory / "manifest.json").read_text())
            manifest = Manifest(**raw)
            if {**raw, "vectors": 0} != {**asdict(expected), "vectors": 0}:
                log.info("index in %s is stale; rebuilding", directory)
                return None
            rows = json.loads((directory / "rows.json").read_text())
            fields = json.loads((directory / "fields.json").read_text())
            data = np.frombuffer((directory / "dense.faiss").read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, RuntimeError, json.JSONDecodeError) as exc:
            log.warning("index in %s is unreadable (%s); rebuilding", directory, exc)
            return None
        if not index.ntotal == len(rows) == len(fields) == manifest.vectors:
            log.warning("index in %s is inconsistent; rebuilding", directory)
            return None
        return cls(index, rows, fields, manifest)


class _FieldGroups:
    """Every live vector's row number ordered by (entry, field), so that the best cosine per
    (entry, field) of any set of candidates is one gather, one ``maximum.reduceat`` and one
    scatter into a (candidates × fields) matrix, with no Python loop over the candidates
    (a loop of small arrays per candidate cost ~1 ms of the ~1.8 per call, on the sample
    city's KB).

    ``order``: row numbers sorted by entry, then field; ``entry_start``/``entry_size``: each
    entry's slice of ``order``; ``run_start``: where a field's run begins in ``order``
    (every entry's first row included); ``column``: each position's field column;
    ``entry_runs``: how many fields each entry has.
    """

    def __init__(self, rows: Sequence[str | None], fields: Sequence[str]) -> None:
        self.names = tuple(sorted(set(fields)))
        column = {n: j for j, n in enumerate(self.names)}
        by_entry: dict[str, list[int]] = {}
        for i, entry_id in enumerate(rows):
            if entry_id is not None:
                by_entry.setdefault(entry_id, []).append(i)
        self.entry_ids = {e: n for n, e in enumerate(by_entry)}
        order: list[int] = []
        starts: list[int] = []
        runs: list[int] = []
        for ix in by_entry.values():
            starts.append(len(order))
            ix.sort(key=lambda i: fields[i])
            order.extend(ix)
            runs.append(sum(1 for n in range(len(ix)) if n == 0 or fields[ix[n]] != fields[ix[n - 1]]))
        self.order = np.array(order, dtype=np.int64)
        self.entry_start = np.array(starts, dtype=np.int64)
        self.entry_size = np.diff(np.append(self.entry_start, len(order))).astype(np.int64)
        self.entry_runs = np.array(runs, dtype=np.int64)
        ordered_fields = [fields[i] for i in order]
        first = set(starts)
        self.run_start = np.array(
            [n in first or ordered_fields[n] != ordered_fields[n - 1] for n in range(len(order))],
            dtype=bool,
        )
        self.column = np.array([column[f] for f in ordered_fields], dtype=np.int64)

    def _take(self, entries: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
        """The known ``entries``, their positions in ``order`` and their entry numbers."""
        known = [(e, self.entry_ids[e]) for e in entries if e in self.entry_ids]
        ids = np.array([n for _, n in known], dtype=np.int64)
        sizes = self.entry_size[ids]
        # Each candidate's slice of ``order``, one index array (no loop over candidates).
        take = np.repeat(self.entry_start[ids] - np.cumsum(sizes) + sizes, sizes)
        take += np.arange(int(sizes.sum()))
        return tuple(e for e, _ in known), take, ids

    def best(
        self, vectors: np.ndarray, query: np.ndarray, entries: Sequence[str], gather: bool = False
    ) -> FieldScores:
        """``gather``: multiply only the candidates' rows (cheaper when they are a small part
        of the KB, as for retrieval/align.py's second pass)."""
        names, take, ids = self._take(entries)
        if not names:
            return FieldScores((), self.names, np.full((0, len(self.names)), np.nan, np.float32))
        rows = self.order[take]
        # einsum, not ``@``: numpy's BLAS runs a matrix-vector product on every core, and on
        # two shared cores that took 4 ms of CPU instead of 0.5 (threads: 1, see embed.py).
        if len(vectors) <= _FULL_PRODUCT_UP_TO and not gather:
            sims = np.einsum("ij,j->i", vectors, query)[rows]
        else:
            sims = np.einsum("ij,j->i", vectors[rows], query)
        return self._scatter(names, take, ids, sims)

    def best_of(self, sims: np.ndarray, entries: Sequence[str]) -> FieldScores:
        """As ``best``, from the query's cosine with every vector already computed."""
        names, take, ids = self._take(entries)
        if not names:
            return FieldScores((), self.names, np.full((0, len(self.names)), np.nan, np.float32))
        return self._scatter(names, take, ids, sims[self.order[take]])

    def _scatter(
        self, names: tuple[str, ...], take: np.ndarray, ids: np.ndarray, sims: np.ndarray
    ) -> FieldScores:
        starts = np.flatnonzero(self.run_start[take])
        best = np.maximum.reduceat(sims, starts)
        matrix = np.full((len(names), len(self.names)), np.nan, dtype=np.float32)
        which = np.repeat(np.arange(len(names)), self.entry_runs[ids])
        matrix[which, self.column[take[starts]]] = best
        return FieldScores(names, self.names, matrix)


def _new_index(dim: int, n: int) -> faiss.Index:
    if n > APPROXIMATE_ABOVE:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
        return index
    return faiss.IndexFlatIP(dim)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)

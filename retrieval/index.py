"""The dense FAISS index of the knowledge base, persisted with a manifest.

Each entry contributes several vectors (its question variants in every language and its
answers); ``rows`` maps each vector back to its entry. The manifest records the embedder,
its version and the KB digest: a mismatch, a missing file or a corrupt one means "rebuild",
never a crash. Files are written to a temporary name and renamed, so a reader never sees a
half-written index.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from retrieval.embed import Embedder
from retrieval.kb import Entry, KnowledgeBase

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
# Above this many vectors an approximate (HNSW) index replaces the exact flat one.
APPROXIMATE_ABOVE = 200_000


@dataclass(frozen=True)
class Manifest:
    """What an index file was built from."""

    format_version: int
    embedder: str
    embedder_version: str
    kb_digest: str
    vectors: int


def entry_passages(entry: Entry) -> list[str]:
    """The texts embedded for one entry: every question variant, and each answer with the
    entry's first question of the same language in front (the question gives the answer its
    topic)."""
    texts = [q for variants in entry.questions.values() for q in variants]
    for lang, answer in entry.answers.items():
        head = entry.questions.get(lang, entry.questions.get("ja", ("",)))[0]
        texts.append(f"{head}\n{answer}")
    return texts


class DenseIndex:
    """FAISS inner-product index over normalised vectors, one or more per entry."""

    def __init__(self, index: faiss.Index, rows: list[str], manifest: Manifest) -> None:
        self.index = index
        self.rows = rows
        self.manifest = manifest

    @classmethod
    def build(cls, kb: KnowledgeBase, embedder: Embedder) -> DenseIndex:
        """Embed every entry of ``kb`` and index the vectors."""
        texts, rows = [], []
        for entry in kb.entries:
            for text in entry_passages(entry):
                texts.append(text)
                rows.append(entry.id)
        vectors = embedder.embed_passages(texts)
        index = _new_index(embedder.dim, len(rows))
        if len(rows):
            index.add(vectors)
        manifest = Manifest(FORMAT_VERSION, embedder.name, embedder.version, kb.digest, len(rows))
        return cls(index, rows, manifest)

    def search(self, query: np.ndarray, k: int) -> dict[str, float]:
        """Best cosine similarity per entry among the ``k`` nearest vectors."""
        if not self.rows:
            return {}
        scores, ids = self.index.search(query.reshape(1, -1), min(k, len(self.rows)))
        best: dict[str, float] = {}
        for score, idx in zip(scores[0], ids[0], strict=True):
            if idx < 0:
                continue
            entry_id = self.rows[idx]
            best[entry_id] = max(best.get(entry_id, -1.0), float(score))
        return best

    def save(self, directory: Path) -> None:
        """Write index, rows and manifest atomically into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / "dense.faiss", faiss.serialize_index(self.index).tobytes())
        _atomic_write(directory / "rows.json", json.dumps(self.rows).encode())
        _atomic_write(directory / "manifest.json", json.dumps(self.manifest.__dict__).encode())

    @classmethod
    def load(cls, directory: Path, expected: Manifest) -> DenseIndex | None:
        """The saved index if it matches ``expected`` (ignoring its vector count), else None."""
        try:
            raw = json.loads((directory / "manifest.json").read_text())
            manifest = Manifest(**raw)
            if {**raw, "vectors": 0} != {**expected.__dict__, "vectors": 0}:
                log.info("index in %s is stale (%s); rebuilding", directory, raw)
                return None
            rows = json.loads((directory / "rows.json").read_text())
            data = np.frombuffer((directory / "dense.faiss").read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, RuntimeError, json.JSONDecodeError) as exc:
            log.warning("index in %s is unreadable (%s); rebuilding", directory, exc)
            return None
        if index.ntotal != len(rows) or len(rows) != manifest.vectors:
            log.warning("index in %s is inconsistent; rebuilding", directory)
            return None
        return cls(index, rows, manifest)


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

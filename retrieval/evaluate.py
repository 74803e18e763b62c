"""Retrieval evaluation on BEIR-format files: the metrics cities use to check their own KB.

BEIR layout: ``corpus.jsonl`` (``{"_id", "title", "text"}`` — for FAQ data the title is the
question and the text the answer), ``queries.jsonl`` (``{"_id", "text"}``) and a qrels TSV
(``query-id <tab> corpus-id <tab> score``, with a header line). Metrics are the usual ones:
Recall@10, nDCG@10, MRR@10 and Hit@1 (graded relevance, binary gains for recall and hits).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import RetrievalError
from retrieval.kb import Department, Entry, KnowledgeBase


@dataclass(frozen=True)
class Metrics:
    """Averages over the queries that have at least one relevant document."""

    queries: int
    recall_at_10: float
    ndcg_at_10: float
    mrr_at_10: float
    hit_at_1: float


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON-lines file; errors name the file and line."""
    rows = []
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise RetrievalError(f"{path}:{number}: not JSON: {exc.msg}") from exc
    except OSError as exc:
        raise RetrievalError(f"{path}: cannot read: {exc.strerror}") from exc
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}`` from a BEIR qrels TSV (header line optional)."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for number, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                    continue
                if len(row) < 3:
                    raise RetrievalError(f"{path}:{number}: expected query-id, corpus-id, score")
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    except OSError as exc:
        raise RetrievalError(f"{path}: cannot read: {exc.strerror}") from exc
    return qrels


def corpus_to_kb(rows: Iterable[dict], lang: str = "ja") -> KnowledgeBase:
    """A knowledge base with one entry per BEIR document (title = question, text = answer)."""
    entries = []
    for row in rows:
        doc_id = str(row["_id"])
        title = str(row.get("title") or "").strip()
        text = str(row.get("text") or "").strip()
        entries.append(
            Entry(
                id=doc_id,
                category="general",
                department="general",
                source_url=str(row.get("url") or f"https://example.invalid/faq/{doc_id}"),
                questions={lang: (title or text[:80],)},
                answers={lang: text or title},
            )
        )
    general = Department("general", {"ja": "総合案内", "en": "Information desk"}, "-")
    digest = hashlib.sha256()
    for e in entries:
        digest.update(f"{e.id}\0{e.questions[lang][0]}\0{e.answers[lang]}\0".encode())
    return KnowledgeBase(tuple(entries), {"general": general}, f"beir-{digest.hexdigest()[:16]}")


def evaluate(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> Metrics:
    """Metrics of ranked ``runs`` (query id → doc ids, best first) against ``qrels``."""
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not judged:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0)
    recall = ndcg = mrr = hit = 0.0
    for qid in judged:
        relevant = {d: g for d, g in qrels[qid].items() if g > 0}
        ranked = list(runs.get(qid, ()))[:10]
        found = [d for d in ranked if d in relevant]
        recall += len(found) / len(relevant)
        dcg = sum(
            (2 ** relevant[d] - 1) / math.log2(i + 2) for i, d in enumerate(ranked) if d in relevant
        )
        ideal = sorted(relevant.values(), reverse=True)[:10]
        idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        ndcg += dcg / idcg if idcg else 0.0
        first = next((i for i, d in enumerate(ranked) if d in relevant), None)
        mrr += 1.0 / (first + 1) if first is not None else 0.0
        hit += 1.0 if ranked[:1] and ranked[0] in relevant else 0.0
    n = len(judged)
    return Metrics(n, recall / n, ndcg / n, mrr / n, hit / n)

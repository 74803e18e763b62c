"""``madoguchi retrieval eval``: run the retriever over BEIR files and score it."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.settings import Settings
from retrieval import Retriever
from retrieval.errors import RetrievalError
from retrieval.evaluate import Metrics, corpus_to_kb, evaluate, read_jsonl, read_qrels


def run_eval(
    settings: Settings,
    corpus: Path,
    queries: Path,
    qrels: Path,
    run_out: Path | None,
    top_k: int,
    lang: str | None,
) -> Metrics:
    """Index the corpus (cached under var/eval by content), rank every query, score.

    Raises:
        RetrievalError: unreadable or malformed files (naming file and line).
    """
    kb = corpus_to_kb(read_jsonl(corpus))
    if not kb.entries:
        raise RetrievalError(f"{corpus}: no documents")
    retrieval = settings.retrieval.model_copy(
        update={"index_dir": settings.storage.data_dir / "eval" / kb.digest}
    )
    retriever = Retriever(retrieval)
    retriever.warm_up(kb=kb)
    runs: dict[str, list[tuple[str, float]]] = {}
    for row in read_jsonl(queries):
        hits = retriever.search(str(row["text"]), lang=lang, top_k=top_k)
        runs[str(row["_id"])] = [(h.entry_id, h.score) for h in hits]
    if run_out:
        run_out.parent.mkdir(parents=True, exist_ok=True)
        with run_out.open("w", encoding="utf-8") as f:
            for qid, hits in runs.items():
                ranked = [{"doc_id": d, "score": round(s, 6)} for d, s in hits]
                f.write(json.dumps({"query_id": qid, "hits": ranked}, ensure_ascii=False) + "\n")
    return evaluate({q: [d for d, _ in h] for q, h in runs.items()}, read_qrels(qrels))

"""Retrieval speed and memory on a 2,000-entry knowledge base (issue 3's targets:
query p50 ≤ 15 ms on one thread, index build ≤ 2 min, retrieval memory ≤ 500 MB).

The KB is made from the sample city's entries the way a real city's imported FAQ looks —
one Japanese question and answer per entry — repeated with a numbered variation so every
text is distinct (nothing comes from the vector cache: the build starts cold).

    .venv/bin/python -m bench.retrieval_speed [--entries 2000] [--queries 300]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from retrieval import Entry, KnowledgeBase, RetrievalSettings, Retriever, load_kb

ROOT = Path(__file__).resolve().parent.parent


def synthetic_kb(n: int) -> KnowledgeBase:
    """``n`` Japanese-only entries cycled from the sample KB, each text made unique."""
    sample = load_kb(ROOT / "nlu_data" / "kb")
    base = [e for e in sample.entries if "ja" in e.answers]
    entries = []
    for i in range(n):
        src = base[i % len(base)]
        tag = f"（その{i // len(base) + 1}）"
        entries.append(
            Entry(
                id=f"{src.id}.{i}",
                category=src.category,
                department=src.department,
                source_url=src.source_url,
                questions={"ja": (src.questions["ja"][0] + tag,)},
                answers={"ja": src.answers["ja"] + tag},
            )
        )
    return KnowledgeBase(tuple(entries), sample.departments, f"synthetic-{n}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    kb = synthetic_kb(args.entries)
    sample = load_kb(ROOT / "nlu_data" / "kb")
    queries = [q for e in sample.entries for qs in e.questions.values() for q in qs]
    with tempfile.TemporaryDirectory() as tmp:
        settings = RetrievalSettings(
            index_dir=Path(tmp) / "index", vector_cache_dir=Path(tmp) / "cache", threads=1
        )
        retriever = Retriever(settings)
        t0 = time.perf_counter()
        retriever.warm_up(kb=kb)
        build = time.perf_counter() - t0
        vectors = retriever._require().dense.index.ntotal  # noqa: SLF001
        t0 = time.perf_counter()
        Retriever(settings).warm_up(kb=kb)
        reload = time.perf_counter() - t0
        times = []
        for i in range(args.queries):
            q = queries[i % len(queries)]
            t = time.perf_counter()
            retriever.answer(q)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"KB entries: {args.entries}   vectors: {vectors}   embedder: {settings.embedder}, 1 thread")
    print(f"index build (cold, nothing cached): {build:.1f} s   reload from disk: {reload:.2f} s")
    print(f"query (answer(), {args.queries} queries, mixed languages): "
          f"p50 {statistics.median(times):.1f} ms   p95 {times[int(0.95 * len(times)) - 1]:.1f} ms")
    print(f"peak RSS of the process: {rss:.0f} MB")


if __name__ == "__main__":
    main()

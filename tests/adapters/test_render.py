"""``plain_dict`` (adapters/render.py) is ``dataclasses.asdict``: same dict, same key order,
same JSON, fresh containers, for the retrieval answers the gateway sends and odder shapes."""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pytest

from adapters.render import plain_dict
from retrieval import Answer
from retrieval.types import Contact, Suggestion

Pair = namedtuple("Pair", "a b")


@dataclass
class _Odd:
    items: list[Any] = field(default_factory=list)
    table: dict[Any, Any] = field(default_factory=dict)
    pair: Pair = Pair(1, "x")
    score: Any = np.float32(0.5)
    nested: Any = None


def _answers() -> list[Answer]:
    contact = Contact(department="市民課", phone="0299-00-1100", hours="平日 8:30〜17:15")
    tips = tuple(Suggestion(entry_id=f"e{i}", question=f"質問{i}") for i in range(3))
    return [
        Answer("answer", "ja", "回答です。", 0.91234, contact, "e1", "https://example.jp/a",
               "ja", None, tips),
        Answer("clarify", "en", "Which?", 0.5, contact, suggestions=tips[:2]),
        Answer("unknown", "vi", "", 0.0, Contact("", "", "")),
    ]


def test_plain_dict_is_asdict() -> None:
    odd = _Odd([1, "a", None, [2.5, {"k": (1, 2)}]], {"x": [1], 2: Pair(3, [4])},
               nested=_Odd(table={"deep": _answers()[0]}))
    for value in [*_answers(), odd, _Odd()]:
        ours, theirs = plain_dict(value), asdict(value)
        assert ours == theirs
        assert repr(ours) == repr(theirs)  # same key order and types all the way down
        if not isinstance(value, _Odd):
            assert json.dumps(ours, ensure_ascii=False) == json.dumps(theirs, ensure_ascii=False)
    # Fresh containers, as asdict's: changing the result leaves the source alone.
    source = _Odd([[1]])
    plain_dict(source)["items"][0].append(2)
    assert source.items == [[1]]


def test_plain_dict_refuses_what_asdict_refuses() -> None:
    for value in ({"a": 1}, _Odd, 3):
        with pytest.raises(TypeError):
            asdict(value)
        with pytest.raises(TypeError):
            plain_dict(value)

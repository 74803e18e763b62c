"""A real FAISS index with the real embedder over a tiny KB: search, persistence, staleness
and corruption."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import QueryError, Retriever, RetrievalSettings

DEPARTMENTS = """\
departments:
  general:
    name: {ja: 総合案内, en: Information desk}
    phone: 0299-00-1000
    hours: {ja: 平日 9時〜17時, en: Weekdays 9-17}
  gomi:
    name: {ja: 環境課, en: Environment Division}
    phone: 0299-00-2000
"""

ENTRIES = """\
entries:
  - id: nursery
    category: childcare
    source_url: https://www.city.example.jp/nursery
    questions:
      ja: ["保育園の申し込みはいつまでですか"]
      en: ["When is the nursery application deadline?"]
    answers:
      ja: 4月入所の申込は12月10日までです。
      en: Applications for April entry close on December 10.
  - id: burnable
    category: garbage
    department: gomi
    source_url: https://www.city.example.jp/gomi
    questions:
      ja: ["燃えるごみの収集日はいつですか"]
    answers:
      ja: 燃えるごみは月曜日と木曜日に収集します。
  - id: shelter
    category: disaster
    source_url: https://www.city.example.jp/hinan
    questions:
      ja: ["避難所はどこですか"]
      en: ["Where is the evacuation shelter?"]
    answers:
      ja: 避難所は市立中央小学校です。
      en: The shelter is Chuo Elementary School.
  - id: juminhyo
    category: procedures
    source_url: https://www.city.example.jp/juminhyo
    questions:
      ja: ["住民票の写しを取りたい"]
    answers:
      ja: 住民票の写しは市民課で1通300円です。
  - id: wifi
    category: tourism
    source_url: https://www.city.example.jp/wifi
    questions:
      ja: ["無料Wi-Fiはありますか"]
      en: ["Is there free Wi-Fi?"]
    answers:
      ja: 駅前と観光案内所で無料Wi-Fiが使えます。
      en: Free Wi-Fi is available at the station and the tourist office.
"""


@pytest.fixture
def tiny(tmp_path: Path) -> RetrievalSettings:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "departments.yml").write_text(DEPARTMENTS, encoding="utf-8")
    (kb / "faq.yml").write_text(ENTRIES, encoding="utf-8")
    return RetrievalSettings(kb_path=kb, index_dir=tmp_path / "index")


def test_finds_the_right_entry_across_languages(tiny: RetrievalSettings) -> None:
    retriever = Retriever(tiny)
    assert retriever.warm_up() is True
    assert retriever.search("保育所の申込の締め切り")[0].entry_id == "nursery"
    assert retriever.search("ごみ 出す日 燃える")[0].entry_id == "burnable"
    assert retriever.search("where should I evacuate")[0].entry_id == "shelter"


def test_every_field_of_a_candidate_entry_is_scored(tiny: RetrievalSettings) -> None:
    retriever = Retriever(tiny)
    retriever.warm_up()
    scores = retriever.scores("Is there free Wi-Fi at the station?")
    assert scores.lang == "en"
    wifi = scores.fields.of("wifi")
    # Questions and answers per language, each its own field; the best one is the dense score.
    assert set(wifi) == {"q:ja", "q:en", "a:ja", "a:en"}
    assert wifi["q:en"] > 0.9 and scores.dense["wifi"] == max(wifi.values())
    # An entry without English has only its Japanese fields (fusion falls back to them).
    if "burnable" in scores.fields.entries:
        assert set(scores.fields.of("burnable")) == {"q:ja", "a:ja"}


def test_index_of_an_older_format_is_rebuilt(tiny: RetrievalSettings) -> None:
    import json

    assert Retriever(tiny).warm_up() is True
    manifest = tiny.index_dir / "manifest.json"
    old = {**json.loads(manifest.read_text()), "format_version": 2}
    manifest.write_text(json.dumps(old))
    (tiny.index_dir / "fields.json").unlink()
    retriever = Retriever(tiny)
    assert retriever.warm_up() is True
    assert (tiny.index_dir / "fields.json").exists()
    assert retriever.search("where should I evacuate")[0].entry_id == "shelter"


def test_answer_in_the_askers_language_with_fallback_note(tiny: RetrievalSettings) -> None:
    retriever = Retriever(tiny)
    retriever.warm_up()
    english = retriever.answer("When do nursery applications close?")
    assert english.kind == "answer" and english.entry_id == "nursery"
    assert english.lang == "en" and "December 10" in english.text
    assert english.source_url == "https://www.city.example.jp/nursery"
    # The garbage entry has no English answer: Japanese is given, with a visible note.
    # (The UI is in English; the resident typed the Japanese words they know.)
    garbage = retriever.answer("燃えるごみの収集日はいつ", lang="en")
    assert garbage.entry_id == "burnable" and garbage.answer_lang == "ja"
    assert garbage.note and "日本語" in garbage.note
    assert garbage.contact.phone == "0299-00-2000"


def test_unknown_question_gets_honest_answer_and_contact(tiny: RetrievalSettings) -> None:
    retriever = Retriever(tiny)
    retriever.warm_up()
    answer = retriever.answer("ビットコインの今日の価格を教えて")
    assert answer.kind == "unknown"
    assert "0299-00-" in answer.text


def test_index_is_reused_then_rebuilt_when_stale_or_corrupt(tiny: RetrievalSettings) -> None:
    assert Retriever(tiny).warm_up() is True
    assert Retriever(tiny).warm_up() is False  # saved index reused
    faq = tiny.kb_path / "faq.yml"
    faq.write_text(faq.read_text(encoding="utf-8").replace("300円", "350円"), encoding="utf-8")
    assert Retriever(tiny).warm_up() is True  # KB changed → rebuilt
    (tiny.index_dir / "dense.faiss").write_bytes(b"garbage")
    rebuilt = Retriever(tiny)
    assert rebuilt.warm_up() is True  # corrupt → rebuilt, not a crash
    assert rebuilt.search("住民票")[0].entry_id == "juminhyo"


def test_empty_query_is_refused(tiny: RetrievalSettings) -> None:
    retriever = Retriever(tiny)
    retriever.warm_up()
    with pytest.raises(QueryError):
        retriever.search("   ")


def test_single_entries_are_added_and_removed_without_rebuild(tiny: RetrievalSettings) -> None:
    from retrieval import Entry

    retriever = Retriever(tiny)
    retriever.warm_up()
    library = Entry(
        id="library",
        category="general",
        department="general",
        source_url="https://www.city.example.jp/library",
        questions={"ja": ("図書館の開館時間は？",)},
        answers={"ja": "市立図書館は9時から19時まで開いています。"},
    )
    retriever.upsert_entry(library)
    assert retriever.search("図書館は何時まで開いていますか")[0].entry_id == "library"
    assert retriever.remove_entry("library") is True
    assert all(h.entry_id != "library" for h in retriever.search("図書館は何時まで"))
    assert retriever.remove_entry("library") is False


def test_garbage_table_rows_become_entries(tmp_path: Path) -> None:
    from retrieval import load_kb

    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / "departments.yml").write_text(DEPARTMENTS, encoding="utf-8")
    (kb_dir / "items.yml").write_text(
        """\
source_url: https://www.city.example.jp/gomi/
department: gomi
garbage_categories:
  burnable:
    name: {ja: 燃やすごみ, en: Burnable garbage}
    how: {ja: 月曜日と木曜日に出してください。, en: Put it out on Monday or Thursday.}
garbage_items:
  - id: frying-pan
    kana: ふらいぱん
    category: burnable
    name: {ja: フライパン, en: frying pan}
  - id: sofa
    category: oversized
    name: {ja: ソファ}
""",
        encoding="utf-8",
    )
    from retrieval import KnowledgeBaseError

    with pytest.raises(KnowledgeBaseError, match="category 'oversized' is not in"):
        load_kb(kb_dir)
    text = (kb_dir / "items.yml").read_text(encoding="utf-8")
    (kb_dir / "items.yml").write_text(text.split("  - id: sofa")[0], encoding="utf-8")
    kb = load_kb(kb_dir)
    pan = kb.entry("garbage.item.frying-pan")
    assert pan.answers["ja"].startswith("フライパンは「燃やすごみ」です。")
    assert "How do I throw away frying pan?" in pan.questions["en"]
    assert pan.department == "gomi"


def test_broken_kb_file_keeps_the_last_good_kb_serving(tiny: RetrievalSettings) -> None:
    from retrieval import KnowledgeBaseError

    serving = Retriever(tiny)
    assert serving.warm_up() is True
    faq = tiny.kb_path / "faq.yml"
    faq.write_text(faq.read_text(encoding="utf-8") + "  - id: [broken\n", encoding="utf-8")
    # `kb build` and a reload report the error with file and line …
    with pytest.raises(KnowledgeBaseError, match="faq.yml:"):
        Retriever(tiny).warm_up()
    with pytest.raises(KnowledgeBaseError, match="faq.yml:"):
        serving.warm_up(fallback_to_snapshot=True)
    # … while the running service keeps answering from its index,
    assert serving.search("住民票")[0].entry_id == "juminhyo"
    # and a restarting service serves the last good KB and says why.
    restarted = Retriever(tiny)
    restarted.warm_up(fallback_to_snapshot=True)
    assert restarted.kb_error and "faq.yml" in restarted.kb_error
    assert restarted.search("住民票")[0].entry_id == "juminhyo"


@pytest.mark.parametrize(
    "query",
    ["😀🎉👍", "保育園 nursery 어린이집 申込", "あ" * 10_000, "<script>alert(1)</script> 住民票"],
)
def test_odd_queries_get_an_answer_not_an_error(tiny: RetrievalSettings, query: str) -> None:
    retriever = Retriever(tiny)
    retriever.warm_up()
    answer = retriever.answer(query)
    assert answer.kind in ("answer", "clarify", "unknown")
    assert answer.contact.phone.startswith("0299-00-")
    if query.startswith("😀"):
        assert answer.kind != "answer"  # nothing to go on: no confident answer


def test_html_in_kb_content_is_returned_as_plain_text(tiny: RetrievalSettings) -> None:
    from retrieval import Entry

    retriever = Retriever(tiny)
    retriever.warm_up()
    retriever.upsert_entry(
        Entry(
            id="xss",
            category="general",
            department="general",
            source_url="https://www.city.example.jp/x",
            questions={"ja": ("図書館の休館日は？",)},
            answers={"ja": "<b>月曜</b>は休館です<script>alert(1)</script>"},
        )
    )
    answer = retriever.answer("図書館の休館日は？")
    # Retrieval never rewrites content; escaping is each channel's job (widget: textContent,
    # LINE: plain text), so the text arrives exactly as written.
    assert answer.entry_id == "xss" and answer.text.endswith("<script>alert(1)</script>")


def _dense_index(rows: list[str | None], fields: list[str], seed: int = 0):  # type: ignore[no-untyped-def]
    import faiss
    import numpy as np

    from retrieval.index import DenseIndex, Manifest

    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(rows), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(16)
    index.add(vectors)
    return DenseIndex(index, list(rows), list(fields), Manifest(3, "t", "1", "kb", len(rows))), vectors


def test_field_scores_are_each_candidates_best_cosine_per_field_without_faiss_search() -> None:
    # Entries' vectors interleaved, a field shared by neighbouring entries (b's last field
    # and c's first are both q:en), a removed entry's vectors, fields in any order.
    import numpy as np

    rows = ["a", "b", "a", "c", "b", "b", "c", "gone", "a"]
    fields = ["q:ja", "q:en", "a:ja", "q:en", "q:ja", "q:en", "a:en", "q:ja", "q:ja"]
    dense, vectors = _dense_index(rows, fields)
    dense.remove_entry("gone")

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the flat index's search runs the same product again")

    dense.index.search = refused  # the one product with every vector is enough
    query = vectors[3] + 0.1 * vectors[0]
    query /= np.linalg.norm(query)
    scores = dense.field_scores(query, k=4, also=["a", "b", "c", "gone", "unknown"])
    sims = vectors @ query
    assert scores.entries[0] == "c"  # the nearest vector's entry first, as FAISS orders them
    assert set(scores.entries) == {"a", "b", "c"}
    for n, entry in enumerate(scores.entries):
        for j, name in enumerate(scores.names):
            mine = [sims[i] for i, (r, f) in enumerate(zip(rows, fields)) if r == entry and f == name]
            if mine:
                assert abs(scores.matrix[n, j] - max(mine)) < 1e-6
            else:
                assert np.isnan(scores.matrix[n, j])
    # The gathered product (retrieval/align.py's second pass) gives the same matrix.
    gathered = dense._groups.best(dense.vectors, query, scores.entries, gather=True)
    assert np.allclose(gathered.matrix, scores.matrix, equal_nan=True)

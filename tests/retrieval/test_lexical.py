"""The per-language lexical side: a query meets the KB's text in its own language, marks
and word endings do not matter, and Japanese keeps its Sudachi analysis."""

from __future__ import annotations

from retrieval.lexical import LexicalIndex, analyze, analyze_language, tagalog_stem

DOCS_VI = ["Đăng ký chuyển đến trong vòng 14 ngày", "Vứt pin khô vào ngày rác nguy hiểm"]
DOCS_EN = ["Register your move within 14 days", "Dry batteries go out on hazardous waste day"]
EVERYTHING = ["転入届は14日以内に 住民登録", "乾電池は有害ごみの日に出す"]


def _index() -> LexicalIndex:
    return LexicalIndex(EVERYTHING, {"vi": DOCS_VI, "en": DOCS_EN})


def test_unmarked_vietnamese_meets_marked_text() -> None:
    scores = _index().scores("dang ky chuyen den", "vi")
    assert max(scores, key=scores.get) == 0  # type: ignore[arg-type]


def test_word_forms_meet_through_the_prefix_term() -> None:
    scores = _index().scores("registration of moving", "en")
    assert max(scores, key=scores.get) == 0  # type: ignore[arg-type]
    assert "regi…" in analyze_language("registration") and "regi…" in analyze_language("register")


def test_tagalog_affixed_forms_share_their_root() -> None:
    # Aspect and focus affixes around the root: infix -um-, prefixes, reduplication, suffix.
    assert {tagalog_stem(w) for w in ("lumipat", "paglipat", "kakalipat", "lilipat")} == {"lipat"}
    assert tagalog_stem("itapon") == tagalog_stem("pagtatapon") == "tapon"
    assert tagalog_stem("binabayaran") == "bayar" and tagalog_stem("nagbabayad") == "bayad"
    assert tagalog_stem("bahay") == "bahay"  # short words and roots stay whole
    assert tagalog_stem("ulan") == "ulan"


def test_a_tagalog_query_meets_another_form_of_the_same_verb() -> None:
    # "kakalipat" (just moved) and "lumipat" (moved) share no word and no four-letter
    # prefix: only the Tagalog stem brings them together.
    docs_tl = ["Ano ang gagawin kapag lumipat?", "Ano ang gagawin sa basura?"]
    index = LexicalIndex(["", ""], {"tl": docs_tl, "es": docs_tl})
    scores = index.scores("kakalipat ko lang, ano ang gagawin", "tl")
    assert scores[0] > scores[1]
    # The same text through another language's analyser (four-letter prefixes): the
    # entry about moving does not come first.
    other = index.scores("kakalipat ko lang, ano ang gagawin", "es")
    assert other[0] <= other[1]
    assert "lipat~" in analyze_language("kakalipat", "tl")
    assert "lipat~" not in analyze_language("kakalipat", "en")  # other languages: prefixes


def test_language_without_its_own_index_uses_everything() -> None:
    index = _index()
    assert index.scores("乾電池", "ja") == index.all.scores(analyze("乾電池"))
    assert max(index.scores("転入届", "ko").items(), key=lambda kv: kv[1])[0] == 0


def test_japanese_queries_meet_only_japanese_text() -> None:
    # Entry 0 quotes 児童扶養手当 in its Chinese answer; entry 1 is about 児童手当 in Japanese.
    # Through the mixed index the Chinese bigrams of entry 0 compete; the Japanese index
    # sees only the Japanese text, with Sudachi's words.
    everything = ["ひとり親家庭への支援\n儿童抚养津贴 児童扶養手当 児童手当", "児童手当の申請\n儿童补贴"]
    japanese = ["ひとり親家庭への支援", "児童手当の申請"]
    index = LexicalIndex(everything, {"zh-Hans": ["儿童抚养津贴 児童扶養手当 児童手当", "儿童补贴"]}, japanese)
    assert set(index.scores("児童手当", "ja")) == {1}
    assert set(index.japanese_scores("児童手当")) == {1}
    assert index.scores("児童手当", "zh-Hans")[0] > index.scores("児童手当", "zh-Hans").get(1, 0.0)


def test_scripts_without_spaces_become_ngrams() -> None:
    assert {"预防", "防"} <= set(analyze_language("打预防针"))
    assert "แมว" in analyze_language("ทรายแมว")
    assert analyze_language("아이를 맡길") == ["아이", "이를", "맡길"]
    assert analyze_language("") == []


def test_char_ngrams_meet_inflected_unaccented_and_unspaced_text() -> None:
    # BM25's whole words (and four-letter stems) miss "guarderías" vs "guardería" and
    # "nhatre" vs "nhà trẻ"; character n-grams of the entry's text in the query's
    # language still meet them.
    docs = {
        "es": ["¿Cómo solicito plaza en la guardería?", "¿Cómo tiro las pilas secas?"],
        "vi": ["Đăng ký vào nhà trẻ", "Vứt pin khô như thế nào"],
        "ja": ["保育園の申込み", "乾電池の出し方"],
    }
    index = LexicalIndex(["", ""], {}, None, (), docs)
    for text, lang in (("guarderias plazas", "es"), ("nha tre dang ky", "vi"), ("保育所 申込", "ja"),
                       ("ほいくえん 保育", "ja-easy")):
        scores = index.char_scores(text, lang)
        assert max(scores, key=scores.get) == 0, (text, scores)  # type: ignore[arg-type]
        assert 0.0 < scores[0] <= 1.0 + 1e-9
    assert index.char_scores("guarderias", "ko") == {}  # no text in that language
    assert index.char_scores("!!! ???", "es") == {}
    assert index.char_scores("zzzz", "es") == {}


def test_char_ngram_cosine_is_one_for_the_same_text_and_ignores_empty_documents() -> None:
    from retrieval.lexical import CharNgramIndex, char_ngrams

    index = CharNgramIndex(["La guardería municipal", "", "guardería privada"])
    scores = index.scores("la guardería municipal")
    assert abs(scores[0] - 1.0) < 1e-6 and 1 not in scores and 0 < scores[2] < scores[0]
    assert CharNgramIndex([]).scores("x") == {} and CharNgramIndex([""]).scores("x") == {}
    # Latin words padded and folded, 3- to 5-grams; other scripts 1- to 3-grams per run;
    # Thai marks stay inside their run.
    assert {" gua", "eria ", " a "} <= set(char_ngrams("Guardería, a"))
    assert {"保", "保育", "保育園"} <= set(char_ngrams("保育園"))
    assert "ที่" in char_ngrams("ที่นี่")


def test_bm25_scores_are_okapi_bm25_in_the_order_documents_are_met() -> None:
    import math

    from retrieval.lexical import BM25

    docs = [["ごみ", "収集"], ["ごみ", "ごみ", "分別", "収集", "日"], ["保育", "申込"]]
    index = BM25(docs)
    scores = index.scores(["ごみ", "日", "図書館"])
    avg = sum(map(len, docs)) / 3

    def part(df: int, tf: int, length: int) -> float:
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avg))

    assert set(scores) == {0, 1}  # the unknown word and the unrelated entry add nothing
    assert math.isclose(scores[0], part(2, 1, 2))
    assert math.isclose(scores[1], part(2, 2, 5) + part(1, 1, 5))
    assert index.scores(["図書館"]) == {} and index.scores([]) == {}

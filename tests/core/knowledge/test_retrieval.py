"""Ranking the sample Acme Shop knowledge base for questions phrased the way customers
text them, persisting the index, and the signals that say "the KB does not answer this"."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import switchboard
from switchboard.core.knowledge import (
    Retriever,
    RetrieverIndexError,
    chunk_articles,
    load_articles,
)
from switchboard.core.knowledge import retrieval as retrieval_module
from switchboard.core.knowledge.records import Article, Passage

SAMPLE_KB = Path(switchboard.__file__).parent / "data" / "sample_kb.json"


@pytest.fixture(scope="module")
def passages() -> list[Passage]:
    return chunk_articles(load_articles(SAMPLE_KB))


@pytest.fixture(scope="module")
def retriever(passages: list[Passage]) -> Retriever:
    return Retriever.build(passages)


# Questions written the way customers text, sharing few words with the article titles.
PARAPHRASES = [
    ("how long does shipping take", "delivery-times"),
    ("tracking number not updating", "track-order"),
    ("my package says delivered but nothing here", "missing-parcel"),
    ("when do i get my money back", "refund-timing"),
    ("they charged me twice", "charged-twice"),
    ("my card keeps getting rejected", "card-declined"),
    ("can i pay with paypal", "payment-methods"),
    ("need to change the address for my order pls", "change-address"),
    ("i want to cancel my order", "cancel-order"),
    ("cant log in, forgot pw", "reset-password"),
    ("r u open on sunday", "opening-hours"),
    ("can i speak to a real person", "contact-human"),
    ("the lamp i got is broken", "damaged-item"),
    ("do u deliver to canada", "international-shipping"),
    ("my promo code isnt working", "discount-codes"),
    ("how much is delivery", "delivery-costs"),
    ("you sent me the wrong size", "wrong-item"),
    ("can i return earrings", "non-returnable"),
]


@pytest.mark.parametrize(("question", "article_id"), PARAPHRASES)
def test_paraphrased_question_finds_the_right_article_first(
    retriever: Retriever, question: str, article_id: str
) -> None:
    hits = retriever.search(question)

    assert hits[0].passage.article_id == article_id


@pytest.mark.parametrize(
    ("question", "article_id"),
    [("my card was declned", "card-declined"), ("how do i cancle my order", "cancel-order"),
     ("whats the warrenty on electricals", "warranty")],
)
def test_misspelt_question_still_finds_the_article(
    retriever: Retriever, question: str, article_id: str
) -> None:
    assert retriever.search(question)[0].passage.article_id == article_id


def test_synonym_finds_an_article_that_uses_another_word() -> None:
    kb = Retriever.build([
        Passage(id="a#1", article_id="a", title="Package tracking", text="Follow your package online."),
        Passage(id="b#1", article_id="b", title="Gift wrapping", text="We wrap gifts for free."),
    ])

    [hit] = kb.search("where is my parcel")

    assert hit.passage.article_id == "a"
    assert 0 < hit.signals["coverage"] <= 1


def test_account_vocabulary_can_be_added_as_synonym_groups() -> None:
    passages = [Passage(id="w#1", article_id="w", title="Widget setup", text="Plug the widget in.")]

    assert Retriever.build(passages).search("gizmo setup")[0].signals["coverage"] == 0.5
    assert Retriever.build(passages, synonym_groups=[("widget", "gizmo")]).search(
        "gizmo setup")[0].signals["coverage"] == 1.0


@pytest.mark.parametrize(
    "question",
    ["can I bring my dog to the store?", "what's the weather tomorrow", "do you sell bicycles",
     "what is the capital of france", "who won the football last night", "hi", "thanks!!"],
)
def test_question_the_kb_cannot_answer_gets_no_confident_hit(retriever: Retriever, question: str) -> None:
    hits = retriever.search(question)

    assert not hits or (hits[0].signals["coverage"] < 0.5 and hits[0].score < 0.5)


def test_answerable_question_scores_above_unrelated_one(retriever: Retriever) -> None:
    answered = retriever.search("why was my card declined")[0]
    unrelated = retriever.search("is the pnc bank open today")[0]

    assert answered.passage.article_id == "card-declined"
    assert answered.signals["coverage"] == 1.0
    assert answered.score > 0.9
    assert unrelated.signals["coverage"] < 0.5
    assert unrelated.score < 0.5


def test_two_articles_matching_equally_well_lower_the_score(retriever: Retriever) -> None:
    """"return an item" matches "How do I return an item?" and "Which items cannot be
    returned?" almost equally: the score reports that ambiguity, coverage does not."""
    ambiguous = retriever.search("return an item", k=2)
    clear = retriever.search("i want to return my order", k=2)

    assert {h.passage.article_id for h in ambiguous} == {"return-item", "non-returnable"}
    assert ambiguous[0].signals["coverage"] == 1.0
    assert ambiguous[0].signals["margin"] < clear[0].signals["margin"]
    assert ambiguous[0].score < clear[0].score


def test_hits_carry_signals_in_range_and_ranked_best_first(retriever: Retriever) -> None:
    hits = retriever.search("refund for a damaged item", k=5)

    assert len(hits) == 5
    assert hits[0].signals["margin"] > 0
    assert all(hit.signals["margin"] <= 0 for hit in hits[1:])
    for hit in hits:
        assert {"bm25", "coverage", "weighted_coverage", "relative_score", "margin"} <= hit.signals.keys()
        assert 0 <= hit.signals["coverage"] <= 1
        assert 0 <= hit.signals["weighted_coverage"] <= 1
        assert 0 < hit.score < 1
    assert [h.signals["bm25"] for h in hits] == sorted((h.signals["bm25"] for h in hits), reverse=True)


def test_order_numbers_neither_help_nor_hurt_coverage(retriever: Retriever) -> None:
    plain = retriever.search("cancel my order")[0]
    with_number = retriever.search("cancel my order 100234987")[0]

    assert with_number.passage == plain.passage
    assert with_number.signals["coverage"] == plain.signals["coverage"] == 1.0


def test_one_hit_per_article_unless_asked_for_more() -> None:
    article = Article(id="returns", title="Returns", body="\n\n".join(
        f"Return step {n}: pack the parcel and print the return label." for n in range(6)))
    other = Article(id="labels", title="Labels", body="A return label is free.")
    kb = Retriever.build(chunk_articles([article, other], max_words=12))

    default = kb.search("return label", k=3)
    two_each = kb.search("return label", k=3, per_article=2)

    assert sorted(h.passage.article_id for h in default) == ["labels", "returns"]
    assert [h.passage.article_id for h in two_each].count("returns") == 2
    assert len(two_each) == 3


def test_distinct_articles_are_found_beyond_a_long_article_s_many_passages() -> None:
    long_article = [Passage(id=f"long#{n}", article_id="long", title="Return label",
                            text="return label " * 3) for n in range(200)]
    others = [Passage(id=f"{name}#1", article_id=name, title=name.title(),
                      text="You can print a return label here and there, once.")
              for name in ("printing", "postage")]
    kb = Retriever.build(long_article + others)

    hits = kb.search("return label", k=3)

    assert [h.passage.article_id for h in hits] == ["long", "printing", "postage"]
    assert hits[0].signals["margin"] > 0


def test_zero_passages_per_article_is_refused(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="per_article must be at least 1"):
        retriever.search("refund", per_article=0)


def test_k_limits_the_number_of_hits(retriever: Retriever) -> None:
    assert len(retriever.search("order delivery refund return", k=2)) == 2
    assert retriever.search("order delivery refund return", k=0) == []


def test_len_counts_passages(retriever: Retriever, passages: list[Passage]) -> None:
    assert len(retriever) == len(passages)


def test_empty_knowledge_base_searches_to_nothing_and_round_trips(tmp_path: Path) -> None:
    empty = Retriever.build([])
    empty.save(tmp_path / "index")

    assert empty.search("refund") == []
    assert len(Retriever.load(tmp_path / "index")) == 0


def test_duplicate_passage_ids_are_refused() -> None:
    passage = Passage(id="a#1", article_id="a", title="T", text="x")

    with pytest.raises(ValueError, match="passage id 'a#1' occurs twice"):
        Retriever.build([passage, passage])


# --- persistence ---------------------------------------------------------------------------

QUESTIONS = [question for question, _ in PARAPHRASES] + ["my card was declned", "is the pnc bank open"]


def test_save_and_load_give_identical_results(retriever: Retriever, tmp_path: Path) -> None:
    retriever.save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index")

    assert len(loaded) == len(retriever)
    for question in QUESTIONS:
        assert loaded.search(question, k=5) == retriever.search(question, k=5)


def test_loading_does_not_analyse_the_corpus_again(
    retriever: Retriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever.save(tmp_path / "index")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the corpus was re-tokenized on load")

    monkeypatch.setattr(retrieval_module, "content_words", refuse)
    monkeypatch.setattr(retrieval_module, "terms", refuse)
    monkeypatch.setattr(retrieval_module.Lexicon, "from_documents", refuse)
    loaded = Retriever.load(tmp_path / "index")

    assert loaded.search("when do i get my money back")[0].passage.article_id == "refund-timing"


def test_saving_over_an_index_replaces_it_whole(passages: list[Passage], tmp_path: Path) -> None:
    directory = tmp_path / "index"
    Retriever.build(passages[:3]).save(directory)
    Retriever.build(passages).save(directory)

    assert len(Retriever.load(directory)) == len(passages)
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no staging leftovers


def test_custom_synonyms_survive_a_reload(tmp_path: Path) -> None:
    passages = [Passage(id="w#1", article_id="w", title="Widget setup", text="Plug the widget in.")]
    Retriever.build(passages, synonym_groups=[("widget", "gizmo")]).save(tmp_path / "index")

    assert Retriever.load(tmp_path / "index").search("gizmo")[0].passage.id == "w#1"


def test_loading_a_folder_without_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(RetrieverIndexError, match=r"Retriever\.build\(passages\)\.save\(directory\)"):
        Retriever.load(tmp_path)


def test_index_of_another_format_asks_for_a_rebuild(retriever: Retriever, tmp_path: Path) -> None:
    retriever.save(tmp_path / "index")
    manifest = tmp_path / "index" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 999}))

    with pytest.raises(RetrieverIndexError, match="format 999.*Rebuild the index"):
        Retriever.load(tmp_path / "index")


def test_damaged_index_asks_for_a_rebuild(retriever: Retriever, tmp_path: Path) -> None:
    retriever.save(tmp_path / "index")
    (tmp_path / "index" / "passages.json").write_text("[{not json")

    with pytest.raises(RetrieverIndexError, match="damaged retrieval index.*Rebuild it"):
        Retriever.load(tmp_path / "index")


def test_a_loaded_index_maps_its_arrays_read_only_so_processes_share_them(passages: list[Passage],
                                                                          tmp_path: Path) -> None:
    from switchboard.core.knowledge.embeddings import WORDLLAMA, encoder_named

    encoder = encoder_named(WORDLLAMA)
    Retriever.build(passages, encoder=encoder).save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index", encoder=encoder)

    arrays = loaded.index_arrays()
    assert set(arrays) == {f"{index}.bm25s.{name}" for index in ("passages", "titles")
                           for name in ("data", "indices", "indptr")} | {"passage_vectors", "title_vectors"}
    for name, array in arrays.items():
        # Backed by the saved file's pages (shared by every process mapping it), not a private copy.
        assert isinstance(array, np.memmap) or isinstance(array.base, np.memmap), name
        assert Path(getattr(array, "filename", None) or array.base.filename).is_relative_to(tmp_path), name
        assert not array.flags.writeable, name
    assert loaded.search("when do i get my money back")[0].passage.article_id == "refund-timing"


def test_chinese_and_japanese_are_searched_by_character_pairs() -> None:
    """Written without spaces, a whole clause was one term and a question shared none
    with its article; by character pairs (as Lucene's CJK analyzer) the words match."""
    from switchboard.core.knowledge.analysis import character_pairs

    assert character_pairs("退款需要") == ["退款", "款需", "需要"]
    assert character_pairs("308分") == ["308", "分"]
    articles = [
        Article(id="refund", title="退款政策", body="退款会在五个工作日内退回到您的原支付方式。", locale="zh"),
        Article(id="delivery", title="配送时间", body="标准配送需要三到五个工作日，快递需要一天。", locale="zh"),
        Article(id="cancel", title="注文のキャンセル", body="発送前であれば注文をキャンセルできます。", locale="ja"),
    ]
    lexical = Retriever.build(chunk_articles(articles))
    assert lexical.search("我的退款什么时候到账", k=1, language="zh")[0].passage.article_id == "refund"
    assert lexical.search("快递配送要多久", k=1, language="zh")[0].passage.article_id == "delivery"
    assert lexical.search("注文をキャンセルしたい", k=1, language="ja")[0].passage.article_id == "cancel"

"""Turning customer wording into index terms: normalisation, typos, synonyms."""
from __future__ import annotations

from switchboard.core.knowledge.analysis import content_words, terms
from switchboard.core.knowledge.query import (
    Lexicon,
    QueryAnalyzer,
    QuerySettings,
    is_english_word,
)

ARTICLES = [
    "How to receive your refund. Refunds are paid to your card.",
    "Strikethrough text: wrap the words in tildes.",
    "Sign in with your e-mail address and password.",
    "Delivery takes 3 days; we deliver to 40 countries.",
]
LEXICON = Lexicon.from_documents(content_words(text) for text in ARTICLES)


def concepts(text: str, settings: QuerySettings | None = None) -> dict[str, list[str]]:
    analyzer = QueryAnalyzer(LEXICON, settings or QuerySettings())
    return {c.word: [term for term, _ in c.variants] for c in analyzer.concepts(text)}


def test_filler_and_contractions_leave_only_topic_words() -> None:
    assert content_words("Hi!! I can't find my refund, pls help... dont know what to do") == [
        "find", "refund", "help"]


def test_stemming_joins_inflections_and_irregular_forms() -> None:
    assert terms("refunded refunds") == ["refund", "refund"]
    assert terms("I paid") == terms("pay")
    assert terms("delivered") == terms("delivery") == terms("deliveries")


def test_misspelt_word_is_repaired_to_the_nearest_indexed_word() -> None:
    assert concepts("when will i recieve my refnud") == {"recieve": ["receiv"], "refnud": ["refund"]}
    assert concepts("stikethrough") == {"stikethrough": ["strikethrough"]}


def test_real_words_missing_from_the_kb_are_not_forced_onto_look_alikes() -> None:
    """"card" is indexed; "cart" is a real word one edit away and must stay unknown."""
    assert is_english_word("cart")
    assert concepts("cart") == {"cart": []}


def test_typo_repair_can_be_switched_off() -> None:
    assert concepts("refnud", QuerySettings(fuzzy=False)) == {"refnud": []}


def test_support_synonym_stands_in_for_a_word_the_kb_does_not_use() -> None:
    assert concepts("parcel") == {"parcel": ["deliv"]}
    assert concepts("parcel", QuerySettings(synonyms=False)) == {"parcel": []}


def test_each_typed_word_stays_its_own_concept_even_when_synonyms_overlap() -> None:
    assert concepts("parcel delivered") == {"parcel": ["deliv"], "delivered": ["deliv"]}
    assert concepts("refunds refund") == {"refunds": ["refund"]}


def test_synonym_counts_less_than_the_word_typed() -> None:
    analyzer = QueryAnalyzer(LEXICON, QuerySettings(synonym_weight=0.5))
    [concept] = analyzer.concepts("shipping")

    assert dict(concept.variants) == {"deliv": 0.5}


def test_hyphenated_and_joined_spellings_meet() -> None:
    assert concepts("email") == {"email": ["email"]}
    assert concepts("e-mail") == {"email": ["email"]}


def test_numbers_are_not_topics() -> None:
    assert concepts("refund for order 100234, 12/05").keys() == {"refund", "order"}


def test_unknown_words_count_most_for_coverage() -> None:
    [known, unknown] = QueryAnalyzer(LEXICON).concepts("refund bicycles")

    assert not unknown.known
    assert unknown.idf > known.idf > 0


def test_lexicon_round_trips_through_json() -> None:
    again = Lexicon.from_json(LEXICON.to_json())

    assert again.document_frequency == LEXICON.document_frequency
    assert again.nearest_word("passwrod") == LEXICON.nearest_word("passwrod") == "password"

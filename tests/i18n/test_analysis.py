"""Per-language analysis: Snowball stemmer and stop words of the article's language,
accents folded so a question typed without them meets the article, English unchanged."""
from __future__ import annotations

from switchboard.core.answers.grounding import check_grounded, content_terms
from switchboard.core.knowledge.analysis import language_of, terms
from switchboard.core.knowledge.records import Passage
from switchboard.core.knowledge.retrieval import Retriever


def test_each_language_is_stemmed_and_stripped_of_its_own_stop_words() -> None:
    assert terms("¿Cuánto tarda la entrega a Madrid?", "es") == ["tard", "entreg", "madr"]
    assert terms("cuanto tardan las entregas", "es") == ["tard", "entreg"]
    assert terms("Où est l'adresse de livraison de ma commande ?", "fr") == ["adress", "livraison", "command"]
    assert terms("Wie lange dauert die Lieferung?", "de") == ["lang", "dauert", "liefer"]
    assert terms("Quanto tempo demora a entrega?", "pt") == ["temp", "demor", "entreg"]
    assert terms("Quanto tempo ci vuole per la consegna?", "it") == ["temp", "vuol", "consegn"]
    assert terms("How long does delivery take?") == terms("How long does delivery take?", "en") == [
        "long", "deliv", "take"]
    assert language_of("pt-BR") == "pt" and language_of(None) == "en"


def test_search_in_a_language_returns_only_its_articles() -> None:
    passages = [
        Passage("en#0", "en", "How long does delivery take?", "Delivery takes 2 to 4 working days."),
        Passage("es#0", "es", "¿Cuánto tarda la entrega?", "La entrega tarda de 2 a 4 días laborables.", locale="es"),
    ]
    retriever = Retriever.build(passages)
    assert retriever.languages() == {"en", "es"}
    assert [h.passage.id for h in retriever.search("cuanto tarda la entrega", language="es")] == ["es#0"]
    assert [h.passage.id for h in retriever.search("how long does delivery take", language="en")] == ["en#0"]
    assert retriever.search("how long does delivery take", language="fr") == []


def test_grounding_reads_the_passage_language() -> None:
    passage = Passage("es#0", "es", "Devoluciones", "Las devoluciones son gratuitas durante 30 días.", locale="es")
    assert content_terms("Las devoluciones son gratuitas.", "es") == {"devolu", "gratuit"}
    assert check_grounded("Las devoluciones son gratuitas durante 30 días.", [passage]).ok
    assert not check_grounded("Las devoluciones no son gratuitas durante 30 días.", [passage]).ok  # negation
    assert not check_grounded("Las devoluciones son gratuitas durante 60 días.", [passage]).ok  # number

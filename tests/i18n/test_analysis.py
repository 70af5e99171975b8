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


def test_a_word_keeps_its_vowel_signs_and_a_thai_clause_is_read_in_letter_pairs() -> None:
    """Python's ``\\w`` leaves out combining marks: a Hindi or Tamil word was cut at each
    vowel sign and virama ("ऑर्डर", order, read as "ऑर" and "डर", the second the word for
    fear), and Thai, written without spaces, fell into pieces cut at its vowel marks."""
    from switchboard.core.knowledge.analysis import character_pairs, content_words

    assert content_words("मैं अपना ऑर्डर रद्द करना चाहता हूँ", "hi") == [
        "मैं", "अपना", "ऑर्डर", "रद्द", "करना", "चाहता", "हूँ"]
    assert content_words("நான் என் ஆர்டரை ரத்து செய்ய விரும்புகிறேன்", "ta")[2:4] == ["ஆர்டரை", "ரத்து"]
    assert content_words("أُرِيدُ إِلْغَاءَ طَلَبِي", "ar") == ["أُرِيدُ", "إِلْغَاءَ", "طَلَبِي"]
    # A Thai letter goes with the marks after it: pairs of letters, never a lone mark.
    assert character_pairs("ยกเลิก") == ["ยก", "กเ", "เลิ", "ลิก"]
    assert terms("ยกเลิกคำสั่งซื้อ", "th")[:4] == ["ยก", "กเ", "เลิ", "ลิก"]


def test_a_thai_or_hindi_question_finds_its_article_by_its_words() -> None:
    """Lexical search alone (no encoder): the Thai question shared no term with its
    article (its pieces, cut at vowel marks, were whole runs of letters)."""
    from switchboard.core.knowledge.chunking import chunk_articles
    from switchboard.core.knowledge.records import Article

    articles = [
        Article(id="th-cancel", title="วิธียกเลิกคำสั่งซื้อ", body="คุณสามารถยกเลิกคำสั่งซื้อได้ก่อนจัดส่ง", locale="th"),
        Article(id="th-delivery", title="ระยะเวลาจัดส่ง", body="การจัดส่งใช้เวลาสามถึงห้าวันทำการ", locale="th"),
        Article(id="hi-cancel", title="ऑर्डर कैसे रद्द करें", body="भेजे जाने से पहले आप अपना ऑर्डर रद्द कर सकते हैं।",
                locale="hi"),
        Article(id="hi-fear", title="डर लगने पर सहायता", body="अगर आपको डर लगता है तो हमसे बात करें।", locale="hi"),
    ]
    lexical = Retriever.build(chunk_articles(articles))
    assert lexical.search("ต้องการยกเลิกคำสั่งซื้อ", k=1, language="th")[0].passage.article_id == "th-cancel"
    [hit] = lexical.search("ऑर्डर रद्द", k=1, language="hi")
    assert hit.passage.article_id == "hi-cancel"
    assert [h.passage.article_id for h in lexical.search("मेरा ऑर्डर", k=5, language="hi")] == ["hi-cancel"]

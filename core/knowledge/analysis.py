"""Turning text into the terms that are indexed and searched.

Customers write "cant log in", "were is my parcel??" or "pls refund me"; articles say
"If you cannot sign in" and "Where is my order?". The analyzer closes part of that gap
the same way on both sides: lower-casing and Unicode folding, expanding contractions
(with or without the apostrophe), dropping stopwords and conversational filler, and
Snowball stemming so "refunded" meets "refund". Query-only steps that need the index
(typo repair, synonyms) live in :mod:`.query`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

import Stemmer
from bm25s import stopwords as bm25s_stopwords
from bm25s.stopwords import STOPWORDS_EN

# Words that carry no topic in a support question. Beyond Lucene's English list (what
# bm25s calls "en"): pronouns, auxiliaries, question words, greetings and politeness,
# and question framing ("is it possible", "is there a way") that paraphrases add and
# articles rarely contain. Kept out of the index too, so "coverage" counts topic words.
FILLER_WORDS = frozenset("""
    i me my mine myself we us our ours you your yours he him his she her hers its it's
    itself them themselves who whom whose what which when where why how
    am been being were do does did doing done have has having had can could would
    should shall may might must get gets got getting
    hi hello hey dear please pls plz thanks thank thx ok okay yes yeah hmm sir madam
    so just also too very really some any anything something all about from up
    would like want wanted wants need needs needed know tell way possible able
    there's here one ones than other others own same again still
    """.split())
STOPWORDS = frozenset(STOPWORDS_EN) | FILLER_WORDS
ENGLISH = "en"

#: German "da-" with a preposition ("dafür": for it, "davon": of it): they stand for what
#: was just said, so they name no topic here, and a follow-up holding one points back to
#: the answer just sent (core/bot/follow_ups.py REFERS_BACK).
GERMAN_POINTING_BACK = ("dafür", "dazu", "davon", "damit", "darauf", "darüber", "daran", "dabei", "dadurch",
                        "dagegen", "darin", "darum")

#: Other languages an article or a question may be in: Snowball stemmer and stop words
#: (bm25s's lists, which are Snowball's, plus greetings and politeness that carry no
#: topic). English keeps the tuned analysis above; a language missing here is only
#: lower-cased and folded.
_LANGUAGES = {
    "es": ("spanish", "STOPWORDS_SPANISH", "hola buenos buenas dias tardes gracias favor porfa quiero quisiera "
           "necesito puedo puede saber cuanto cuánto cuanta cuánta cómo como donde dónde cuando cuándo qué"),
    "fr": ("french", "STOPWORDS_FRENCH", "bonjour bonsoir salut merci svp stp plait voudrais veux besoin peux "
           "peut savoir combien comment où quand quel quelle quels quelles est-ce"),
    "de": ("german", "STOPWORDS_GERMAN", "hallo guten tag danke bitte möchte moechte will brauche kann können "
           "koennen wissen wie wieviel wie viel wo wann welche welcher welches "
           # "da-" and "wo-" with a preposition stand for "it" / "what": no topic of their own
           + " ".join(GERMAN_POINTING_BACK) + " "
           "wofür wozu wovon womit worauf worüber woran wobei wodurch wogegen worin worum"),
    "pt": ("portuguese", "STOPWORDS_PORTUGUESE", "olá ola oi bom dia boa tarde obrigado obrigada favor quero "
           "queria preciso posso pode saber quanto quanta como onde quando qual quais"),
    "it": ("italian", "STOPWORDS_ITALIAN", "ciao buongiorno buonasera grazie favore prego vorrei voglio bisogno "
           "posso può puo sapere quanto quanta come dove quando quale quali"),
    "nl": ("dutch", "STOPWORDS_DUTCH", "hallo hoi goedemorgen bedankt dank alstublieft graag wil kan weten hoe "
           "hoeveel waar wanneer welke"),
    "tr": ("turkish", "STOPWORDS_TURKISH", "merhaba teşekkürler lütfen"),
}
#: French and Italian elisions ("l'adresse", "dell'ordine"): the word is what follows.
_ELISION_LANGUAGES = frozenset({"fr", "it"})


def language_of(locale: str | None) -> str:
    """The analysis language of an article locale or a conversation language: "pt-BR" →
    "pt"; English for none."""
    return (locale or ENGLISH).replace("_", "-").split("-")[0].lower() or ENGLISH


@lru_cache(maxsize=32)
def stopwords(language: str = ENGLISH) -> frozenset[str]:
    """Words that carry no topic in ``language`` (accents kept and folded both)."""
    if language == ENGLISH:
        return STOPWORDS
    spec = _LANGUAGES.get(language)
    if spec is None:
        return frozenset()
    words = set(getattr(bm25s_stopwords, spec[1])) | set(spec[2].split())
    return frozenset(words | {fold(word) for word in words})


def fold(word: str) -> str:
    """``word`` without accents ("envío" → "envio"): customers type on phones without them."""
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=32)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    spec = _LANGUAGES.get(language)
    return Stemmer.Stemmer(spec[0]) if spec else None

# Contractions, also as typed on a phone without the apostrophe ("dont", "cant").
_CONTRACTIONS = {
    "can't": "can not", "cant": "can not", "cannot": "can not", "won't": "will not",
    "wont": "will not", "shan't": "shall not", "ain't": "is not", "aint": "is not",
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "isnt": "is not",
    "arent": "are not", "wasnt": "was not", "werent": "were not", "havent": "have not",
    "hasnt": "has not", "hadnt": "had not", "couldnt": "could not", "wouldnt": "would not",
    "shouldnt": "should not", "im": "i am", "ive": "i have", "youre": "you are",
    "youve": "you have", "theyre": "they are", "thats": "that is", "whats": "what is",
    "wheres": "where is", "hows": "how is",
}
_SUFFIX_CONTRACTIONS = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"),
                        ("'d", " would"), ("'m", " am"), ("'s", ""))


#: Combining marks (Unicode category M): the vowel signs and viramas of Devanagari,
#: Bengali, Tamil and Thai, Arabic and Hebrew vowel points. Python's ``\w`` leaves them
#: out, so a Hindi word was cut at each of its vowel signs ("ऑर्डर", order, read as
#: "ऑर" and "डर") and a Thai clause fell into pieces. Built once from the Unicode
#: database (the Basic Multilingual Plane, some 8 ms), as the body of a character class:
#: none of them is special there.
COMBINING_MARKS = "".join(c for c in map(chr, range(0x300, 0x10000)) if unicodedata.category(c).startswith("M"))
#: A letter or digit of a word, its combining marks included.
_WORD_CHARACTER = rf"(?:[^\W_]|[{COMBINING_MARKS}])"
# Words with inner hyphens/apostrophes stay one match so "e-mail" can also index "email".
_WORD = re.compile(rf"{_WORD_CHARACTER}+(?:['\-]{_WORD_CHARACTER}+)*")
_INNER_PUNCTUATION = re.compile(r"['\-]")
_URL_OR_EMAIL = re.compile(r"\b(?:https?://|www\.)\S+|\S+@\S+\.\w+")

_STEMMER = Stemmer.Stemmer("english")
# Forms a suffix stemmer cannot join to their base word but customers use all the time:
# irregular verbs ("I paid", "it broke") and Snowball's own split of "delivered" (deliv)
# from "delivery" (deliveri).
_SAME_WORD = {
    "paid": "pay", "bought": "buy", "sent": "send", "lost": "lose", "broke": "break",
    "broken": "break", "forgot": "forget", "forgotten": "forget", "delivery": "deliver",
    "deliveries": "deliver", "faulty": "fault", "took": "take", "taken": "take",
    "gave": "give", "given": "give", "made": "make", "came": "come", "went": "go",
    "gone": "go", "chose": "choose", "chosen": "choose", "wrote": "write",
    "written": "write", "spent": "spend", "kept": "keep", "found": "find", "sold": "sell",
    "stole": "steal", "stolen": "steal", "ran": "run", "tore": "tear", "torn": "tear",
}


@lru_cache(maxsize=200_000)
def stem(word: str, language: str = ENGLISH) -> str:
    """Snowball stem of the word's base form in ``language``; cached because support text
    repeats a small vocabulary. Other than English, the stem is accent-folded, so a
    question typed without accents meets the article that has them."""
    if language == ENGLISH:
        return _STEMMER.stemWord(_SAME_WORD.get(word, word))
    stemmer = _stemmer(language)
    return fold(stemmer.stemWord(word) if stemmer else word)


#: The vault's tokens (core/pii/vault.py): "[CARD_1]" reads as the word "card", as the
#: one-way placeholder "[CARD]" always did, not as an unknown word "card_1".
_VAULT_TOKEN = re.compile(r"\[(CARD|IBAN|EMAIL|PHONE|GOV_ID)_[0-9]{1,6}\]")


def without_token_numbers(text: str) -> str:
    """"[CARD_1]" as "[CARD]": what the lexical index and the sentence encoder read."""
    return _VAULT_TOKEN.sub(r"[\1]", text)


def neutralise_tokens(text: str) -> str:
    """Token-shaped text of an article, "[CARD_1]", written "(CARD_1)": the same words for
    a reader, but no longer a token, so a reply quoting the article can never be
    opened to what a customer typed (issue 42)."""
    return _VAULT_TOKEN.sub(lambda m: f"({m.group()[1:-1]})", text)


def normalise(text: str) -> str:
    """Lower-case, fold compatibility forms and curly quotes, drop links and addresses."""
    text = unicodedata.normalize("NFKC", without_token_numbers(text)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return _URL_OR_EMAIL.sub(" ", text)


def compound_words(text: str, language: str = ENGLISH) -> Iterator[str]:
    """Surface words after contraction expansion (English) or elision (French, Italian);
    "e-mail" stays one word here."""
    if language != ENGLISH:
        for match in _WORD.finditer(normalise(text)):
            word = match.group()
            if language in _ELISION_LANGUAGES and "'" in word:
                word = word.rsplit("'", 1)[1]
            yield word
        return
    for match in _WORD.finditer(normalise(text)):
        word = match.group()
        expanded = _CONTRACTIONS.get(word)
        if expanded is None and "'" in word:
            for suffix, replacement in _SUFFIX_CONTRACTIONS:
                if word.endswith(suffix) and len(word) > len(suffix):
                    expanded = word[: -len(suffix)] + replacement
                    break
        if expanded is not None:
            yield from expanded.split()
        else:
            yield word


def split_compound(word: str) -> list[str]:
    """Parts of a hyphenated word ("e-mail" -> ["e", "mail"]); a plain word alone."""
    if "-" not in word and "'" not in word:
        return [word]
    return [part for part in _INNER_PUNCTUATION.split(word) if part]


#: Marks that end a sentence when a space follows them: Arabic's "؟" and "۔", Hindi's "।"
#: and "॥" besides ". ! ?" (grounding adds "…"; chunking and calibration do not).
SENTENCE_MARKS = ".!?\u061f\u06d4\u0964\u0965"
#: Chinese and Japanese full stop, exclamation and question marks: no space follows them;
#: and Myanmar's and Khmer's full stops ("။", "។"), which a space may follow or not.
UNSPACED_STOPS = "\u3002\uff01\uff1f\u104b\u17d4"

#: Scripts written without spaces between words: Chinese, Japanese and Korean, and Thai,
#: Lao, Myanmar and Khmer (their combining marks are inside these blocks).
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
                       r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")

#: A character with the combining marks that follow it.
_CLUSTER = re.compile(rf".[{COMBINING_MARKS}]*", re.DOTALL)


def character_pairs(word: str) -> list[str]:
    """A word with a script written without spaces in it, as search terms: each run of
    those characters as its overlapping pairs ("黑豹队防守" -> 黑豹, 豹队, 队防, 防守), as
    Lucene's CJK analyzer does, and the rest as it is. Without it a whole clause was
    one "word" and a question shared no term with its paragraph. A character counts with
    the marks that follow it (a Thai consonant with its vowel and tone marks): a pair of
    a mark and a letter would mean nothing and lose its mark to :func:`fold`."""
    pieces: list[str] = []
    at = 0
    for run in _UNSPACED.finditer(word):
        if run.start() > at:
            pieces.append(word[at:run.start()])
        chars = _CLUSTER.findall(run.group())
        pieces.extend(["".join(chars)] if len(chars) == 1 else [chars[i] + chars[i + 1] for i in range(len(chars) - 1)])
        at = run.end()
    if at < len(word):
        pieces.append(word[at:])
    return pieces


def words(text: str, language: str = ENGLISH) -> Iterator[str]:
    """Surface words for indexing: a hyphenated word yields its parts and the joined form,
    so "e-mail" in an article matches both "email" and "mail" in a question; Chinese,
    Japanese, Korean, Thai… come as character pairs (:func:`character_pairs`)."""
    for word in compound_words(text, language):
        if _UNSPACED.search(word):
            yield from character_pairs(word)
            continue
        parts = split_compound(word)
        if len(parts) > 1:
            yield from parts
            yield "".join(parts)
        else:
            yield word


def content_words(text: str, language: str = ENGLISH) -> list[str]:
    """Surface words that carry topic: stopwords, filler and single letters removed."""
    stop = stopwords(language)
    return [word for word in words(text, language) if word not in stop and len(word) > 1]


def terms(text: str, language: str = ENGLISH) -> list[str]:
    """Index terms (stems) of ``text``, in order, repeats kept for term frequency."""
    return stems(content_words(text, language), language)


def stems(surface_words: list[str], language: str = ENGLISH) -> list[str]:
    """Index terms of already extracted content words."""
    return [stem(word, language) for word in surface_words]

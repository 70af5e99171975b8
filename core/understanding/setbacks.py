"""What a customer's next message says about the answer they just got: that it did not
help ("that didn't help", "no me sirvió", "hat nicht geholfen"), or that they want a
person ("AGENT", "hablar con alguien").

Learning from a menu pick (:mod:`..knowledge.phrasings`) must not count a pick the
customer then disowned, so these are read on the message after every pick, in the six
languages the catalogs speak (:data:`.i18n.CATALOG_LANGUAGES`). The lists err towards
"it did not help": a false alarm costs the bot one piece of evidence, a missed one
could teach it a wrong answer.

Phrases are written lower-case without accents; a message is compared folded the same
way (case, accents, curly apostrophes), on whole words.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

#: Said anywhere in the message: the answer did not help (not understanding it is one way
#: of saying so: "no entiendo" after an answer was searched, and got a menu of articles
#: sharing nothing with it).
DID_NOT_HELP: dict[str, tuple[str, ...]] = {
    "en": ("didn't help", "didnt help", "did not help", "doesn't help", "doesnt help", "does not help",
           "not helpful", "wasn't helpful", "was not helpful", "unhelpful", "useless", "no help", "no use",
           "that's not it", "thats not it", "that is not it", "not what i asked", "not what i meant",
           "not my question", "wrong answer", "wrong article", "that's wrong", "didn't answer", "did not answer",
           "doesn't answer", "does not answer", "still doesn't work", "still does not work", "still not working",
           "still can't", "still cannot", "still don't know", "doesn't work", "didn't work", "did not work",
           "not what i need", "not what i needed", "not what i'm looking for", "not what i am looking for",
           "not what i was looking for", "not really what i", "already tried that", "i already tried", "irrelevant",
           "not relevant", "don't understand", "do not understand", "what do you mean", "doesn't make sense",
           "does not make sense", "makes no sense", "i'm confused", "not useful", "didn't solve",
           "did not solve", "doesn't solve", "does not solve", "didn't fix", "did not fix"),
    "es": ("no me ayudo", "no ayudo", "no ayuda", "no me ayuda", "no sirve", "no sirvio", "no me sirve",
           "no me sirvio", "no es eso", "no es lo que pregunte", "no era eso", "respuesta incorrecta", "inutil",
           "sigue sin funcionar", "no responde", "no contesta", "no funciona", "no funciono",
           "no es lo que busco", "no es lo que necesito", "ya lo intente", "ya lo probe", "no entiendo",
           "no lo entiendo", "no entendi", "que quiere decir", "que quieres decir", "no tiene sentido",
           "no me ha ayudado", "no ha ayudado", "no me ha servido", "no lo resuelve", "no resuelve"),
    "fr": ("ca n'aide pas", "cela n'aide pas", "ca ne m'aide pas", "ca ne m'a pas aide", "cela ne m'a pas aide",
           "ca n'a pas aide", "cela n'a pas aide", "ca n a pas aide", "ne m'a pas aide", "ne sert a rien",
           "ne m'aide pas", "ca ne resout pas", "ca n'a rien resolu", "pas d'aide",
           "pas utile", "inutile", "ce n'est pas ca", "c'est pas ca", "pas ce que j'ai demande",
           "mauvaise reponse", "ne repond pas", "ne marche toujours pas", "ne fonctionne toujours pas",
           "ca ne marche pas", "ca ne fonctionne pas", "pas ce que je cherche", "deja essaye",
           "je ne comprends pas", "je comprends pas", "je n'ai pas compris", "j'ai pas compris", "ca veut dire quoi",
           "ca n'a pas de sens"),
    "de": ("hilft nicht", "hat nicht geholfen", "hat mir nicht geholfen", "nicht hilfreich", "nutzlos",
           "bringt nichts", "das ist es nicht", "nicht das was ich gefragt habe", "nicht was ich gefragt habe",
           "falsche antwort", "funktioniert immer noch nicht", "geht immer noch nicht", "beantwortet nicht",
           "funktioniert nicht", "klappt nicht", "nicht was ich suche", "schon versucht", "verstehe ich nicht",
           "ich verstehe nicht", "ich verstehe das nicht", "was meinen sie", "was heisst das", "macht keinen sinn",
           "ergibt keinen sinn", "hilft mir nicht", "bringt mir nichts", "loest das problem nicht",
           "lost das problem nicht"),
    "pt": ("nao ajudou", "nao me ajudou", "nao ajuda", "nao me ajuda", "nao serve", "nao serviu", "inutil",
           "nao e isso", "nao era isso", "resposta errada", "ainda nao funciona", "nao responde", "nao funciona",
           "nao funcionou", "nao e o que procuro", "nao e o que preciso", "ja tentei", "nao entendi",
           "nao entendo", "nao percebi", "o que quer dizer", "nao faz sentido", "nao resolveu", "nao resolve"),
    "it": ("non mi ha aiutato", "non ha aiutato", "non aiuta", "non mi aiuta", "non e utile", "inutile",
           "non serve", "non e questo", "non era questo", "risposta sbagliata", "non funziona ancora",
           "ancora non funziona", "non risponde", "non funziona", "non e quello che cerco", "gia provato",
           "non capisco", "non ho capito", "cosa vuol dire", "che significa", "non ha senso", "non e servito",
           "non mi e servito", "non risolve"),
}
#: The whole message, give or take punctuation: a bare "no" after an answer disowns it.
DID_NOT_HELP_ALONE: tuple[str, ...] = ("no", "nope", "nah", "not really", "non", "nein", "nao", "no gracias",
                                       "nicht wirklich", "pas vraiment", "no realmente", "non proprio")
#: The whole reply: the customer wants none of the articles offered (after a menu), or
#: none of what was answered (after an answer).
NONE_OF_THESE: frozenset[str] = frozenset((
    "none", "none of these", "none of them", "none of those", "none of the above", "neither", "neither of them",
    "neither of these", "not these", "not those", "none of these help", "none of them help",
    "ninguno", "ninguna", "ninguno de estos", "ninguna de estas", "ninguno de ellos", "ninguno de esos",
    "ninguna de esas", "ninguno de los dos",
    "aucun", "aucune", "aucun d'eux", "aucune d'elles", "aucun de ceux ci", "ni l'un ni l'autre",
    "keiner", "keine", "keines", "keins", "keiner davon", "keine davon", "keines davon", "nichts davon",
    "nenhum", "nenhuma", "nenhum deles", "nenhuma delas", "nenhum destes", "nenhuma destas",
    "nessuno", "nessuna", "nessuno di questi", "nessuna di queste", "nessuno dei due",
))

#: The whole message: a person asked for by name (the bot tells customers to reply AGENT).
PERSON_ALONE: tuple[str, ...] = (
    "agent", "human", "person", "someone", "representative", "operator", "real person", "live agent",
    "agente", "humano", "persona", "operador", "asesor",
    "humain", "conseiller", "une personne", "quelqu'un",
    "mensch", "mitarbeiter", "berater", "kundendienst",
    "atendente", "pessoa", "alguem",
    "operatore", "umano", "qualcuno",
)
#: A request for a person inside a sentence: an ask, then (after a few words) a person.
PERSON_REQUEST: dict[str, tuple[str, ...]] = {
    "en": ("talk to someone", "speak to someone", "talk to a person", "speak to a person", "talk to a human",
           "speak to a human", "talk to an agent", "speak to an agent", "real person", "live agent",
           "customer service"),
    "es": ("hablar con alguien", "hablar con una persona", "hablar con un agente", "hablar con un humano",
           "persona real", "atencion al cliente"),
    "fr": ("parler a quelqu'un", "parler a une personne", "parler a un conseiller", "parler a un humain",
           "parler a un agent", "vraie personne", "service client"),
    "de": ("mit jemandem sprechen", "mit einem menschen", "mit einem mitarbeiter", "echten menschen",
           "echte person", "kundendienst", "kundenservice"),
    "pt": ("falar com alguem", "falar com uma pessoa", "falar com um atendente", "falar com um humano",
           "pessoa real", "atendimento ao cliente"),
    "it": ("parlare con qualcuno", "parlare con una persona", "parlare con un operatore", "parlare con un umano",
           "persona reale", "servizio clienti"),
}


def fold(text: str) -> str:
    """Lower case, no accents, straight apostrophes, single spaces: how phrases are written."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _phrases(lists: Iterable[Iterable[str]]) -> re.Pattern[str]:
    """Any of the phrases, on whole words, the last one maybe plural ("customer
    services", "wrong answers"); an apostrophe may be left out ("wasnt helpful", "cest
    pas ca"), as customers type on phones. Not inside another word: "no use" is not
    said in "no username"."""
    alternatives = sorted({re.escape(p).replace("'", "'?") for phrases in lists for p in phrases},
                          key=len, reverse=True)
    return re.compile(rf"(?<![\w'])(?:{'|'.join(alternatives)})s?(?![\w'])")


_DID_NOT_HELP = _phrases(DID_NOT_HELP.values())
_PERSON_REQUEST = _phrases(PERSON_REQUEST.values())
_ALONE_FILLER = re.compile(r"^(?:(?:please|pls|por favor|s'il vous plait|bitte|per favore|an?|the)\s+)*|"
                           r"(?:\s+(?:please|pls|por favor|s'il vous plait|bitte|per favore))*$")


def _bare(text: str) -> str:
    """The message folded, without surrounding punctuation and courtesy words."""
    words = re.sub(r"[^\w' ]+", " ", fold(text))
    return _ALONE_FILLER.sub("", " ".join(words.split())).strip()


#: The whole message: a thumbs-down or a frown (skin tones and variation selectors aside).
_THUMBS_DOWN = re.compile(r"\s*(?:\U0001f44e|[:;=]-?\(|\u2639|\U0001f641|\U0001f61e|\U0001f615)"
                          r"[\ufe0f\U0001f3fb-\U0001f3ff]*[\s!.]*")


def did_not_help(text: str) -> bool:
    """Whether ``text`` says the answer the customer just got did not help them."""
    return (_bare(text) in DID_NOT_HELP_ALONE or declines(text) or bool(_DID_NOT_HELP.search(fold(text)))
            or bool(_THUMBS_DOWN.fullmatch(text)))


_ALONE_WORDS = _phrases([DID_NOT_HELP_ALONE])
_NONE_WORDS = _phrases([NONE_OF_THESE])


def beyond_setback(text: str) -> str:
    """``text`` (folded) without what says the answer did not help: what else it asks.
    "nope, not what I asked" and "none of these" leave nothing; "no, it says delivered
    but it isn't here" leaves a question of its own."""
    return _ALONE_WORDS.sub(" ", _NONE_WORDS.sub(" ", _DID_NOT_HELP.sub(" ", fold(text))))


def only_setback(text: str, topic_words: Callable[[str], Sequence[str]]) -> bool:
    """Whether ``text`` says an answer did not help and asks nothing beyond that ("that
    didn't help", "none of these"), by ``topic_words`` (the knowledge base's reading of a
    text's words: this layer does not know it). "I already tried that, my card is still
    declined" asks: the bot searches it, and a knowledge gap lists it."""
    return did_not_help(text) and not topic_words(beyond_setback(text))


def asks_for_person(text: str) -> bool:
    """Whether ``text`` asks for a person, by name alone or in a request."""
    return _bare(text) in PERSON_ALONE or bool(_PERSON_REQUEST.search(fold(text)))


def declines(text: str) -> bool:
    """Whether a reply to a menu says none of its articles is wanted ("none of these",
    "ninguno", "keine davon"); after an answer, that it did not help."""
    words = " ".join(re.findall(r"[\w']+", fold(text).replace("-", " ")))
    return words in NONE_OF_THESE or words.removesuffix(" please").removesuffix(" thanks") in NONE_OF_THESE

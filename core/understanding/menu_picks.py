"""Which item of a menu a customer's reply picks: "2", "#2", "the second one", "la
primera", or words of its title ("the tracking one"), typos forgiven; anything else is
a new question, or "none of these" (:func:`.setbacks.declines`).

Places are read in the six languages the catalogs speak (:data:`..texts.i18n.
CATALOG_LANGUAGES`), written folded (lower case, no accents) as :func:`.setbacks.fold`
writes a message, in writing and from speech recognition ("Two.", "number three").
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from switchboard.core.understanding.setbacks import fold

#: Words that say nothing about which article was meant ("the first one", "that one").
_PICK_FILLER = frozenset("the a an one that this about please pls i want my me it its on for of to".split())
#: Words that ask or join but name nothing, in the catalogs' languages (folded): "is it
#: free?" shares "is" with "Where is my order?", and was taken for picking it.
_NAMES_NOTHING = frozenset("""
    how what when where why which who whose is are was were be been am do does did can could will would shall
    should may might must have has had get got i my me mine you your we our us he she they them their it its
    this that these those there here the a an to of for in on at by with from and or but not no so if then
    than too very just also any some all much many long more most
    como que cuando donde por porque cual quien es son esta estan era mi mis tu tus su sus el la los las un una
    unos unas de del al para en con y o pero no me te se lo le nos yo
    comment quoi quand ou pourquoi quel quelle quels quelles qui est sont etait mon ma mes ton ta tes son sa
    ses le les une des du au aux pour avec et mais ne pas je tu il elle nous vous ils elles ce cette
    wie was wann wo warum welche welcher welches wer ist sind war mein meine dein deine sein seine der die
    das ein eine einen dem den zu von fur mit und oder aber nicht ich du er sie es wir ihr
    qual quais quem sao meu minha meus minhas teu tua seu sua os as um uma do da dos das com mas nao eu ele
    ela
    come cosa quale quali chi sono mio mia miei mie tuo tua suo sua il gli lo uno di per non io lui lei
""".split())
#: A reply longer than this is a new question, not the name of a menu item.
_PICK_MAX_WORDS = 8
#: A menu item named by its place: ordinals and numbers, en, es, fr, de, pt, it.
PLACES: dict[str, int] = {
    **dict.fromkeys(("one", "first", "uno", "una", "primero", "primera", "primer", "un", "une", "premier",
                     "premiere", "eins", "erste", "ersten", "erster", "erstes", "um", "uma", "primeiro", "primeira",
                     "primo", "prima"), 1),
    **dict.fromkeys(("two", "second", "dos", "segundo", "segunda", "deux", "deuxieme", "seconde", "zwei",
                     "zweite", "zweiten", "zweiter", "zweites", "dois", "duas", "due", "secondo"), 2),
    **dict.fromkeys(("three", "third", "tres", "tercero", "tercera", "tercer", "trois", "troisieme", "drei",
                     "dritte", "dritten", "dritter", "drittes", "terceiro", "terceira", "tre", "terzo",
                     "terza"), 3),
    # Beyond a menu's three: "four" said to a spoken menu is a slip to answer with the menu again.
    **dict.fromkeys(("four", "fourth", "cuatro", "cuarto", "cuarta", "quatre", "quatrieme", "vier", "vierte",
                     "quatro", "quarto", "quarta", "quattro"), 4),
    **dict.fromkeys(("five", "fifth", "cinco", "quinto", "quinta", "cinq", "cinquieme", "funf", "funfte",
                     "cinque"), 5),
}
#: The menu's last item.
LAST = frozenset(("last", "ultimo", "ultima", "dernier", "derniere", "letzte", "letzten", "letzter", "letztes"))
#: Words around a place that do not change it ("option 2", "la primera opción", "die zweite bitte").
_PLACE_FILLER = frozenset((
    "the", "one", "option", "number", "no", "n", "choice", "article", "link", "please", "pls", "is", "it",
    "i", "i'd", "want", "like", "take",
    "el", "la", "lo", "opcion", "numero", "articulo", "por", "favor", "es", "quiero",
    "le", "les", "l", "s'il", "vous", "plait", "c'est", "je", "veux", "prends",
    "der", "die", "das", "den", "nummer", "artikel", "bitte", "ich", "nehme", "mochte",
    "o", "a", "opcao", "artigo", "quero",
    "il", "opzione", "articolo", "per", "favore", "voglio",
))
#: Articles that are also numbers ("una", "un"): a place only when nothing else names one.
_ONE_AS_ARTICLE = frozenset(("one", "un", "une", "una", "uno", "um", "uma"))
#: "2nd", "1st", "3º", "2e", "2.": a number with an ordinal ending.
_NUMBERED = re.compile(r"(\d{1,3})(?:st|nd|rd|th|o|a|e|er|re|eme|ieme|ste|te|ter)?")


def pick_choice(text: str, titles: Sequence[str]) -> int | None:
    """Which offered article the customer picked (0-based): its number ("2", "#2", "2."),
    or words of its title ("the tracking one" → "Where is my order? Tracking your
    parcel"), typos forgiven. None when the message is something else, which is then a
    new question."""
    number = menu_number(text, len(titles))
    if number is not None:
        return number - 1 if 1 <= number <= len(titles) else None
    bare = fold(text).lstrip("#").rstrip(".)!").strip()
    said = [w for w in _words(bare) if w not in _PICK_FILLER]
    if not said or len(said) > _PICK_MAX_WORDS:
        return None
    words = [w for w in said if w not in _NAMES_NOTHING]
    if not words:
        return None  # "is it free?", "how long do I have?": a question, naming no item
    shared = [sum(any(fuzz.ratio(w, t) >= 85 for t in _words(fold(title)) if t not in _NAMES_NOTHING) for w in words)
              for title in titles]
    best = max(shared, default=0)
    if best == 0 or shared.count(best) > 1 or best < len(words) / 2:
        return None  # no title named, two equally, or mostly other words: a new question
    return shared.index(best)


def menu_number(text: str, size: int = 0) -> int | None:
    """The place a reply to a menu names, if that is all it says: "2", "#2", "2.",
    "option 2", "the second one", "2nd", "la primera", "die zweite bitte", "the last
    one" (item ``size``, when the menu's size is given)."""
    bare = text.strip().lstrip("#").rstrip(".)!").strip()
    if bare.isdigit():
        return int(bare) if len(bare) <= 3 else None
    said = re.findall(r"[\w']+", fold(text))
    words = [w for w in said if w not in _PLACE_FILLER] or [w for w in said if w in _ONE_AS_ARTICLE][:1]
    if len(words) > 1:
        words = [w for w in words if w not in _ONE_AS_ARTICLE]
    if len(words) != 1:
        return None
    [word] = words
    if word in LAST:
        return size or None
    numbered = _NUMBERED.fullmatch(word)
    return int(numbered.group(1)) if numbered else PLACES.get(word)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)

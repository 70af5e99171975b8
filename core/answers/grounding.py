"""Is every sentence of a reply backed by a knowledge-base passage?

A customer on SMS cannot tell a hallucinated refund window from a real one, so a reply
is only sent when each of its sentences is supported by one of the passages it was
drafted from. "Supported" is a lexical stand-in for entailment, chosen because it is
deterministic, explainable to an agent ("30 is in no passage") and runs offline:

* most of the sentence's content words (stemmed, stopwords removed) occur in one
  passage: ``coverage = |sentence terms ∩ passage terms| / |sentence terms|`` at or
  above the threshold. Coverage is measured on the *sentence* side because the
  question is whether the passage says what the sentence says, not the reverse;
* every number in the sentence occurs in that passage, exactly ("30 days" is not
  "14 days"), and so does every link or e-mail address;
* the passage sentence that overlaps it most agrees on negation ("can" vs "cannot").

Anything else fails, and a failed check means the draft is not sent. The check is
strict on purpose: a refused draft costs a fallback (the extractive local answer or a
hand-off to a person); a wrong answer costs a customer's trust.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import Stemmer

from switchboard.core.knowledge.analysis import (
    COMBINING_MARKS,
    SENTENCE_MARKS,
    UNSPACED_STOPS,
    character_pairs,
    fold,
    language_of,
    stem,
    stopwords,
)
from switchboard.core.knowledge.records import Passage

#: 0.7 means a sentence of three content words needs all three in the passage, and one
#: of ten may be a paraphrase. Lower lets invented qualifiers through ("free", "all").
DEFAULT_THRESHOLD = 0.7

# -- sentence splitting -------------------------------------------------------------

#: Abbreviations after which a full stop does not end a sentence, even before a capital
#: ("e.g. Visa", "approx. 5 p.m. Monday"). "etc." is absent: it often ends one.
_ABBREVIATIONS = frozenset("""
    e.g i.e mr mrs ms dr st vs approx appt apt ca cf dept est ext fig incl
    max min mt tel ref a.m p.m jan feb mar apr jun jul aug sep sept oct nov dec
""".split())
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
#: Full stops, marks and ellipses followed by a space.
SPACED_STOPS = SENTENCE_MARKS + "\u2026"
# Terminal punctuation, closing quotes/brackets and a trailing citation marker stay with
# the sentence they end ("days." "[1]"); whitespace after them is the boundary.
#: A sentence ends at ". ! ? …" before a space or the line's end, or at Chinese and
#: Japanese full stops and marks, which no space follows (a Chinese article was one
#: "sentence" a paragraph: quoted whole, and grounded whole).
_BOUNDARY = re.compile(rf"[{SPACED_STOPS}]+[\"'\u201d\u2019)\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+|$)"
                       rf"|[{UNSPACED_STOPS}]+[\u300d\u300f\u201d\u2019\uff09)]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022\u25aa]|\d{1,2}[.)])\s+")
_PLACEHOLDER = "\x00{}\x00"


def split_sentences(text: str) -> list[str]:
    """Sentences of support prose, in order, stripped; line breaks always end one.

    Built for what support replies contain: links and e-mail addresses (whose dots are
    not boundaries), abbreviations ("e.g.", "approx."), decimals and prices ("3.5",
    "$4.99"), list markers ("1. Open the app") and citation markers after the full stop.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_MARKER.sub("", line).strip()
        if line:
            sentences.extend(_split_line(line))
    return sentences


def _split_line(line: str) -> list[str]:
    links: list[str] = []

    def hide(match: re.Match[str]) -> str:
        found = match.group()
        trailing = len(found) - len(found.rstrip(".,;:!?)]'\""))
        body, tail = (found[:-trailing], found[-trailing:]) if trailing else (found, "")
        links.append(body)
        return _PLACEHOLDER.format(len(links) - 1) + tail

    hidden = _URL.sub(hide, line)
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(hidden):
        if _continues(hidden, match):
            continue
        pieces.append(hidden[start:match.end()])
        start = match.end()
    pieces.append(hidden[start:])

    def unhide(piece: str) -> str:
        return re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], piece).strip()

    return [s for s in (unhide(p) for p in pieces) if s]


def _continues(text: str, boundary: re.Match[str]) -> bool:
    """Whether the punctuation at ``boundary`` is inside a sentence after all."""
    if not boundary.group().startswith("."):
        return False
    before = text[:boundary.start()]
    word = re.search(r"([\w.]+)$", before)
    if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
        return True
    after = text[boundary.end():].lstrip()
    # A lower-case continuation ("approx. two days", "etc. and") is the same sentence.
    return bool(after) and after[0].islower()


# -- what a sentence claims ------------------------------------------------------------

#: Words that carry no claim. Unlike the retrieval stopwords, negations ("not", "no")
#: and quantifiers ("all", "only", "every") are *kept out* of this list, because
#: "all orders ship free" and "no orders ship free" must not look like the same claim.
STOPWORDS = frozenset("""
    a an the and or but if then than so as of at by for from in into on onto to with
    within without via per about over under after before during until up down out off
    is are was were be been being am do does did doing done have has having had
    will would shall should can could may might must need needs
    i me my mine we us our ours you your yours he him his she her hers it its they
    them their theirs this that these those there here who whom whose which what when
    where why how
    hi hello hey dear please thanks thank ok okay yes yeah sure just also simply
    really very too again still get gets got getting let lets
    s t ll re ve d m
""".split())
NEGATIONS = frozenset("""
    not no never cannot none nobody nothing nowhere neither nor
    cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt
    havent hasnt hadnt
""".split())
# Number words a passage may spell out; "one" is accepted as 1 in a passage but not
# required from a sentence, where it is usually a pronoun ("one of our agents").
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16",
    "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30",
    "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
    "ninety": "90", "hundred": "100",
}
_GREETING_PREFIX = re.compile(r"^(?:hi|hello|hey)(?: there| [\w'-]{1,30})?\s*[,!]\s+", re.IGNORECASE)
_CITATION_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LETTER = rf"(?:[^\W\d_]|[{COMBINING_MARKS}])"  # a Hindi or Thai word with its vowel signs
_WORD = re.compile(rf"{_LETTER}+(?:['\u2019]{_LETTER}+)*")
_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    return _CITATION_MARKER.sub(" ", text)


def _words(text: str) -> list[str]:
    """Words with contractions folded: "can't" -> "cant", "customer's" -> "customer";
    Chinese, Japanese and Korean as character pairs, as the index reads them (a whole
    unspaced clause was one "word", shared by no question and no draft)."""
    out = []
    for word in _WORD.findall(_URL.sub(" ", text)):
        head, _, tail = word.partition("'")
        out.extend(character_pairs(head + tail if tail == "t" else head))
    return out


def content_terms(text: str, language: str = "en") -> frozenset[str]:
    """Stemmed content words of ``text``: what coverage is measured on.

    Shared with extractive drafting so "relates to the question" and "supported by the
    passage" are judged with the same notion of a word. Other than English, the
    language's stemmer and stop words (core/knowledge/analysis.py) are used, with its
    negations kept out of the stop words as they are here.
    """
    words = _words(_normalise(text))
    if language != "en":
        negations, skip = _negations(language), stopwords(language)
        return frozenset(stem(w, language) for w in words
                         if len(w) > 1 and fold(w) not in negations and w not in skip)
    return frozenset(
        _stem(w) for w in words
        if len(w) > 1 and w not in STOPWORDS and w not in NEGATIONS and w not in _NUMBER_WORDS
    )


#: Negations of the other catalog languages (accent-folded): a claim and its passage
#: must agree on them, as in English.
_FOREIGN_NEGATIONS = {
    "es": "no nunca jamas ni nada ninguno ninguna nadie tampoco sin",
    "fr": "ne pas non jamais aucun aucune rien personne ni sans",
    "de": "nicht kein keine keinen keinem keiner keines nie niemals nichts weder ohne",
    "pt": "nao nunca jamais nenhum nenhuma nada ninguem nem sem",
    "it": "non mai nessuno nessuna niente nulla senza",
}


@lru_cache(maxsize=16)
def _negations(language: str) -> frozenset[str]:
    return frozenset(_FOREIGN_NEGATIONS.get(language, "").split())


def language_of_passages(passages: Sequence[Passage]) -> str:
    return language_of(passages[0].locale) if passages else "en"


def _numbers(text: str, *, spelled: Iterable[str]) -> frozenset[str]:
    """Numbers in canonical form: "1,000" -> "1000", "5.00" -> "5", "9:00" -> "9"."""
    text = re.sub(r"(\d):00\b", r"\1", _URL.sub(" ", _normalise(text)))
    found = set()
    for raw in _NUMBER.findall(text):
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            raw = raw.replace(",", "")
        for part in raw.split(","):
            try:
                value = Decimal(part).normalize()
            except InvalidOperation:
                continue
            found.add(format(value, "f"))
    words = set(_words(text))
    found.update(digits for word, digits in _NUMBER_WORDS.items() if word in words and word in spelled)
    return frozenset(found)


def _links(text: str) -> frozenset[str]:
    return frozenset(_canonical_link(m.group()) for m in _URL.finditer(text))


def _canonical_link(link: str) -> str:
    link = link.rstrip(".,;:!?)]'\"").lower()
    link = re.sub(r"^https?://", "", link)
    link = re.sub(r"^www\.", "", link)
    return link.rstrip("/")


def _negated(text: str, language: str = "en") -> bool:
    if language != "en":
        return any(fold(w) in _negations(language) for w in _words(_normalise(text)))
    return any(w in NEGATIONS for w in _words(_normalise(text)))


@dataclass(frozen=True)
class _Claim:
    sentence: str
    terms: frozenset[str]
    numbers: frozenset[str]
    links: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, sentence: str, language: str = "en") -> _Claim:
        # "Hi Ada, returns are free." claims what "Returns are free." claims; the name
        # would otherwise count as a content word no passage contains.
        claim = _GREETING_PREFIX.sub("", sentence)
        spelled = set(_NUMBER_WORDS) - {"one"}
        return cls(sentence, content_terms(claim, language), _numbers(claim, spelled=spelled),
                   _links(claim), _negated(claim, language))


def _normalised(sentence: str) -> str:
    return " ".join(sentence.lower().strip().rstrip(".!?").split())


@dataclass(frozen=True)
class _Evidence:
    """One passage, analysed once per check."""

    passage: Passage
    terms: frozenset[str]
    numbers: frozenset[str]
    links: frozenset[str]
    sentences: tuple[tuple[frozenset[str], bool], ...]  # (terms, negated) per sentence
    verbatim: frozenset[str] = frozenset()  # the passage's sentences, normalised

    @classmethod
    def of(cls, passage: Passage) -> _Evidence:
        language = language_of(passage.locale)
        text = f"{passage.title}\n{passage.text}"
        links = _links(text) | ({_canonical_link(passage.url)} if passage.url else frozenset())
        split = split_sentences(text)
        sentences = tuple((content_terms(s, language), _negated(s, language)) for s in split)
        return cls(passage, content_terms(text, language), _numbers(text, spelled=_NUMBER_WORDS),
                   links, sentences, frozenset(_normalised(s) for s in split))

    def judge(self, claim: _Claim, threshold: float) -> tuple[float, str | None]:
        """(coverage, None) when this passage supports ``claim``, else (coverage, why)."""
        if not claim.terms and not claim.numbers and not claim.links:
            # "Yes." opening an article's answer says nothing by itself, but quoted from
            # the passage it is the passage's own word: the answer the customer asked for.
            if _normalised(claim.sentence) in self.verbatim:
                return 1.0, None
            return 0.0, "it states nothing a passage could support"
        coverage = len(claim.terms & self.terms) / len(claim.terms) if claim.terms else 1.0
        if coverage < threshold:
            missing = ", ".join(sorted(claim.terms - self.terms))
            return coverage, f"only {coverage:.0%} of its content words are in the passage (missing: {missing})"
        if missing_numbers := claim.numbers - self.numbers:
            return coverage, f"the number(s) {', '.join(sorted(missing_numbers))} are not in the passage"
        if missing_links := claim.links - self.links:
            return coverage, f"the link(s) {', '.join(sorted(missing_links))} are not in the passage"
        if claim.terms and not self._same_polarity(claim):
            return coverage, "it contradicts the passage's negation (e.g. 'can' vs 'cannot')"
        return coverage, None

    def _same_polarity(self, claim: _Claim) -> bool:
        """Whether a passage sentence that overlaps the claim most agrees on negation."""
        overlaps = [(len(terms & claim.terms), negated) for terms, negated in self.sentences]
        best = max((count for count, _ in overlaps), default=0)
        return any(negated == claim.negated for count, negated in overlaps if count == best)


# -- boilerplate ------------------------------------------------------------------

#: Sentences exempt from the check because they state nothing about the business.
#: Keep this list small and literal: every entry is a sentence that may reach a
#: customer without a source.
BOILERPLATE: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    # greeting
    r"(?:hi|hello|hey)(?: there| [\w'-]{1,30})?\s*[!.,]?",
    r"thanks? (?:you )?for (?:your message|contacting us|reaching out|getting in touch)\s*[!.]?",
    # the virtual-assistant disclosure
    r"(?:i'm|i am|this is) (?:a|an|the|your) (?:virtual|automated|ai) assistant\s*[!.]?",
    # the hand-off offer
    r"reply agent to (?:talk|speak|chat) (?:to|with) a (?:person|human)\s*[!.]?",
))
#: "Source: <link or title>" is exempt only when it names one of the passages: an
#: invented link is the worst thing a reply can contain.
_CITATION_LINE = re.compile(r"(?:source|sources|more)\s*:\s*(.+?)\s*", re.IGNORECASE)
#: An article without a URL is cited by title: '"Store pickup" in our help center'.
_NAMED_ARTICLE = re.compile(r'^"(.+)" in our help center$')


def _is_boilerplate(sentence: str) -> bool:
    text = sentence.strip().replace("\u2019", "'")
    return any(pattern.fullmatch(text) for pattern in BOILERPLATE)


def _cites_known_source(sentence: str, passages: Sequence[Passage]) -> bool | None:
    """None when ``sentence`` is no "Source: ..." line; else whether every source it
    names (link or title) is one of ``passages``."""
    cited = _CITATION_LINE.fullmatch(sentence.strip())
    if cited is None:
        return None
    names = [_NAMED_ARTICLE.sub(r"\1", n.strip()) for n in re.split(r"\s*\|\s*|\s+(?=https?://)", cited.group(1))
             if n.strip()]
    known = {_canonical_link(p.url) for p in passages if p.url} | {p.title.strip().lower() for p in passages}
    return bool(names) and all(_canonical_link(n) in known or n.lower().rstrip(".") in known for n in names)


# -- the check --------------------------------------------------------------------

@dataclass(frozen=True)
class GroundingResult:
    """``support`` maps every sentence, in order, to the id of the passage supporting it
    (None for exempt boilerplate and for unsupported sentences); ``reasons`` says why
    each unsupported sentence failed, for the agent reviewing a refused draft."""

    ok: bool
    unsupported: tuple[str, ...]
    support: tuple[tuple[str, str | None], ...]
    exempt: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()


@functools.lru_cache(maxsize=4096)
def _evidence_of(passage: Passage) -> _Evidence:
    """What a passage can support, remembered for the passages checked lately: a
    knowledge base's passages come back message after message, and reading one (its
    sentences split, stemmed and scanned for negations, numbers and links) cost more
    than checking a draft against it. A passage is immutable and compared by value,
    so an edited article's passage is a new entry."""
    return _Evidence.of(passage)


def check_grounded(draft: str, passages: Sequence[Passage], *,
                   threshold: float = DEFAULT_THRESHOLD) -> GroundingResult:
    """Check each sentence of ``draft`` against ``passages`` (see the module docstring).
    The draft is read in the passages' language: an answer is checked against articles
    written in the language it is written in (a translated answer is checked through its
    translation back, see core/texts/translation.py)."""
    language = language_of_passages(passages)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold} is outside (0, 1]: use e.g. {DEFAULT_THRESHOLD}.")
    evidence = [_evidence_of(p) for p in passages]
    support: list[tuple[str, str | None]] = []
    unsupported: list[str] = []
    exempt: list[str] = []
    reasons: list[tuple[str, str]] = []
    for sentence in _claims_and_citations(draft):
        known_source = _cites_known_source(sentence, passages)
        if known_source or _is_boilerplate(sentence):
            support.append((sentence, None))
            exempt.append(sentence)
            continue
        if known_source is False:
            passage_id, why = None, "it names a source that is none of the passages"
        else:
            passage_id, why = _best_support(_Claim.of(sentence, language), evidence, threshold)
        support.append((sentence, passage_id))
        if passage_id is None:
            unsupported.append(sentence)
            reasons.append((sentence, why))
    return GroundingResult(not unsupported, tuple(unsupported), tuple(support), tuple(exempt),
                           tuple(reasons))


def _claims_and_citations(draft: str) -> list[str]:
    """The draft's sentences, with a citation line kept whole: a title cited by name
    is often a question ('More: "Can I change my address?" in our help center'),
    and split at its question mark neither half names the article."""
    pieces: list[str] = []
    for line in draft.splitlines():
        if _CITATION_LINE.fullmatch(line.strip()):
            pieces.append(line.strip())
        else:
            pieces.extend(split_sentences(line))
    return pieces


def _best_support(claim: _Claim, evidence: Sequence[_Evidence],
                  threshold: float) -> tuple[str | None, str]:
    """The id of the supporting passage with the highest coverage (ties: earlier, i.e.
    better-ranked), or None and the reason from the closest passage."""
    best_id, best_coverage = None, -1.0
    closest_why, closest_coverage = "there are no passages to support it", -1.0
    for item in evidence:
        coverage, why = item.judge(claim, threshold)
        if why is None and coverage > best_coverage:
            best_id, best_coverage = item.passage.id, coverage
        elif why is not None and coverage > closest_coverage:
            closest_why, closest_coverage = why, coverage
    return best_id, closest_why

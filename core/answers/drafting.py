"""Drafting a self-service answer from retrieved passages, with its citations.

Two engines share one record, :class:`Draft`:

* ``compose_local`` is extractive: it quotes the one or two passage sentences that best
  match the question. It needs no model, is deterministic, and is grounded by
  construction, so it is both the default without an LLM and the fallback when an LLM
  draft is refused.
* ``LLMDrafter`` asks a chat model to answer from numbered passages under a versioned
  prompt, then turns its ``[n]`` markers into the passages' links.

Neither sends anything. ``ground_or_refuse`` is the gate in front of the customer:
a draft with a sentence no cited passage supports raises :class:`UngroundedDraft`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any, Literal, Protocol

from switchboard.core.answers.grounding import (
    DEFAULT_THRESHOLD,
    SPACED_STOPS,
    GroundingResult,
    check_grounded,
    content_terms,
    language_of_passages,
    split_sentences,
)
from switchboard.core.answers.tokens import count_tokens, truncate_to_tokens
from switchboard.core.knowledge.analysis import SENTENCE_MARKS, UNSPACED_STOPS
from switchboard.core.knowledge.records import Hit, Passage
from switchboard.core.knowledge.synonyms import SUPPORT_SYNONYM_GROUPS
from switchboard.core.settings import Settings
from switchboard.core.understanding.asking import QUESTION_MARKS

Engine = Literal["local", "llm"]

#: One SMS segment is 160 GSM-7 characters; two segments is the most a self-service
#: answer should take (a third costs money and is usually skimmed).
SMS_BUDGET_CHARS = 320
#: What the prompt tells the model to answer when the passages do not say.
ABSTAIN = "I don't know."
CITATION_PREFIX = "More: "
#: Two or three short sentences fit the SMS budget; more invites padding the model
#: cannot ground.
MAX_SENTENCES = 3


@dataclass(frozen=True)
class Draft:
    """A reply ready for the grounding gate: ``text`` is what the customer would read
    (citation line included, no ``[n]`` markers); ``citations`` are the passages it
    claims to be drawn from."""

    text: str
    citations: tuple[Passage, ...]
    engine: Engine
    model: str | None = None
    prompt_version: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        """The model said the passages do not answer: hand off rather than send."""
        return _is_abstention(self.text)


def _is_abstention(text: str) -> bool:
    """``ABSTAIN`` as models actually write it: "I don't know", "I do not know.", with
    a stray marker or a curly apostrophe."""
    bare = _MARKER.sub("", text).replace("\u2019", "'").strip().rstrip(".!").strip().lower()
    return bare in ("i don't know", "i do not know", "")


class UngroundedDraft(Exception):
    """A draft states something its passages do not support: it must not be sent."""

    def __init__(self, unsupported: Sequence[str], reasons: Sequence[tuple[str, str]] = ()) -> None:
        self.unsupported = tuple(unsupported)
        self.reasons = dict(reasons)
        listed = "; ".join(
            f"{sentence!r} ({self.reasons[sentence]})" if sentence in self.reasons else repr(sentence)
            for sentence in self.unsupported
        )
        super().__init__(
            f"draft not sent: {len(self.unsupported)} sentence(s) are not supported by the cited "
            f"passages: {listed}. Send the extractive answer (compose_local) or hand the "
            "conversation to an agent."
        )


def ground_or_refuse(draft: Draft, passages: Sequence[Passage] | None = None, *,
                     threshold: float = DEFAULT_THRESHOLD) -> Draft:
    """``draft`` unchanged when every sentence is supported, else raise UngroundedDraft.

    By default only the draft's own citations count as support: the link a customer is
    given should back what they were told, not some other passage retrieval found.
    """
    result: GroundingResult = check_grounded(
        draft.text, draft.citations if passages is None else passages, threshold=threshold
    )
    if not result.ok:
        raise UngroundedDraft(result.unsupported, result.reasons)
    return draft


def citation_line(passages: Sequence[Passage]) -> str:
    """"More: <link>" for each distinct source (two chunks of one article cite once). An
    article with no URL (a Markdown file) is named as one, so its title never reads as
    a broken link: 'More: "Store pickup" in our help center'."""
    seen: list[str] = []
    for passage in passages:
        if passage.citation not in seen:
            seen.append(passage.citation)
    cited = [c if c.startswith(("http://", "https://")) else f'"{c}" in our help center' for c in seen]
    return CITATION_PREFIX + " | ".join(cited) if cited else ""


# -- local, extractive ------------------------------------------------------------

#: How much a lower-ranked passage's sentence is discounted: retrieval saw evidence
#: (synonyms, embeddings, BM25 over the whole passage) that word overlap with the
#: question does not, so the second passage needs 1.5x the overlap to win.
RANK_DISCOUNT = 0.5


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    rank: int
    position: int
    sentence: str
    matched: frozenset[str]
    score: float


def compose_local(question: str, hits: Sequence[Hit], *, max_chars: int = SMS_BUDGET_CHARS,
                  max_passages: int = 3) -> Draft | None:
    """The 1-2 sentences of the top passages that best answer ``question``, quoted, with
    the source appended; None when no sentence shares a content word with the question
    or none fits ``max_chars`` (which counts the whole reply, citation included)."""
    language = language_of_passages([hit.passage for hit in hits[:1]])
    wanted = content_terms(question, language)
    if not wanted:
        return None
    candidates = _candidates(wanted, hits[:max_passages], language, answer_kind(question))
    for anchor in candidates:
        suffix = "\n" + citation_line([anchor.passage])
        if len(anchor.sentence) + len(suffix) > max_chars:
            continue  # never cut a sentence: "Refunds are not available" cut short inverts it
        chosen = [anchor]
        companion = _companion(anchor, candidates, room=max_chars - len(anchor.sentence) - len(suffix) - 1)
        if companion is not None:
            chosen.append(companion)
        body = join_sentences(c.sentence for c in sorted(chosen, key=lambda c: c.position))
        return Draft(text=body + suffix, citations=(anchor.passage,), engine="local")
    return None


def lead_of(passage: Passage) -> Draft:
    """The article's first sentences, verbatim (grounded by construction)."""
    suffix = "\n" + citation_line([passage])
    body = ""
    for sentence in split_sentences(passage.text):
        candidate = join_sentences([body, sentence])
        if len(candidate) + len(suffix) > SMS_BUDGET_CHARS:
            break
        body = candidate
    return Draft(text=(body or passage.title) + suffix, citations=(passage,), engine="local")


#: What a question asking when or how long wants in its answer, and one asking how
#: much: a sentence that says a time or an amount, in the catalogs' languages.
#: "When" asks only as a question ("when will", "when does"), not as the conjunction of a
#: problem told ("it fails when I pay"); French, Italian and Portuguese ask with it first.
#: A time may be a bound with no number: "how long do I have?" after the change-address
#: answer is told "until your order is dispatched" (it got delivery times).
_ASKS_WHEN = re.compile(
    r"\bwhen\s+(?:will|would|do|does|did|is|are|was|can|could|should|shall)\b|\bhow\s+(?:long|soon)\b|"
    r"\bhow\s+many\s+(?:days|hours|weeks)\b|\bcuándo\b|\bcu[aá]nto\s+(?:tarda|tiempo|dura)\b|^\W*(?:quand|quando)\b|"
    r"\bcombien\s+de\s+temps\b|\bwann\b|\bwie\s+lange\b|\bquanto\s+(?:tempo|ci\s+vuole|dura)\b", re.IGNORECASE)
_SAYS_WHEN = re.compile(
    r"\b\d+(?:\s*(?:to|-|–|a|à|bis|e)\s*\d+)?[\s-]*(?:working\s+|business\s+)?(?:minutes?|hours?|days?|weeks?|"
    r"months?|years?|minutos?|horas?|d[ií]as?|semanas?|m[eê]s(?:es)?|a[ñn]os?|heures?|jours?|semaines?|mois|"
    r"ans?|ann[ée]es?|minuten?|stunden?|tag(?:e|en)?|wochen?|monat(?:e|en)?|jahr(?:e|en)?|minut[io]|or[ae]|"
    r"giorn[io]|settiman[ae]|mes[ei]|ann[io])\b|\b(?:instant(?:ly)?|immediately|same\s+day|"
    r"next\s+(?:working\s+)?day|today|tomorrow|until|till|hasta|jusqu|até|fino\s+a)\b", re.IGNORECASE)
_ASKS_AMOUNT = re.compile(
    r"\b(?:how\s+much|cost|costs|price|fee|charge|cu[aá]nto\s+(?:cuesta|vale|cobr)|precio|combien|prix|co[uû]te|"
    r"wie\s*viel|kostet|preis|quanto\s+(?:costa|custa)|prezzo|pre[çc]o|free|gratis|gratuit[oe]?s?|kostenlos)\b",
    re.IGNORECASE)
_SAYS_AMOUNT = re.compile(r"[$€£¥]\s?\d|\d(?:[.,]\d+)?\s?(?:[$€£¥]|eur|usd|gbp|dollars?|euros?|pounds?)\b|"
                          r"\b(?:free|gratis|gratuit[oe]?s?|kostenlos|costs?|prices?|fees?|charged?|coste|precio|"
                          r"prix|frais|kosten|preis|geb[uü]hr(?:en)?|costo|prezzo|custo|pre[çc]o)\b", re.IGNORECASE)
#: What a sentence saying what the question asks for (a time, an amount) adds to its
#: score: more than any share of shared words, since one that shares them all but
#: says no time does not answer "when will I get my money back?".
ANSWER_KIND_BONUS = 1.0


def without_kind(question: str) -> str:
    """``question`` without the words that ask when or how much ("how long do I have?"
    → " do I have?"): what is left names what it asks about, if anything."""
    return _ASKS_AMOUNT.sub(" ", _ASKS_WHEN.sub(" ", question))


def answer_kind(question: str) -> re.Pattern[str] | None:
    """What a sentence must say to answer ``question``'s kind, when it asks when or how
    much ("when will I get the money back?": a time); None for other questions."""
    if _ASKS_WHEN.search(question):
        return _SAYS_WHEN
    if _ASKS_AMOUNT.search(question):
        return _SAYS_AMOUNT
    return None


def _candidates(wanted: frozenset[str], hits: Sequence[Hit], language: str = "en",
                kind: re.Pattern[str] | None = None) -> list[_Candidate]:
    """Sentences sharing a content word with the question (in English also as one of
    its support synonyms, :func:`_synonym_stems`), best first; with ``kind``
    (:func:`answer_kind`), those saying what the question asks for first.

    A passage's title counts for each of its sentences: help-centre articles put the
    question in the title ("Which payment methods do you accept?") and answer it in
    a body that need not repeat its words ("We accept Visa, …"). So does a section's
    heading (an FAQ page's "Can I change my order?", a label such as "International"),
    which is not quoted (:func:`section_heading`)."""
    found = []
    synonyms = _synonym_stems() if language == "en" else {}
    for rank, hit in enumerate(hits):
        heading, text = section_heading(hit.passage.text)
        title_terms = content_terms(f"{hit.passage.title}\n{heading or ''}", language) & wanted
        for position, sentence in enumerate(split_sentences(text)):
            if sentence.endswith(":"):
                continue  # introduces a list: says nothing on its own
            terms = content_terms(sentence, language) | title_terms
            said = terms & wanted
            # A word the customer used that the sentence says in the help center's own
            # words ("money back" / "a full refund") counts at half a word.
            meant = frozenset(w for w in wanted - said if synonyms.get(w, frozenset()) & terms)
            matched = said | meant
            # In the article retrieval chose (only: a time in the next article must not
            # take the answer to another article), a sentence saying the time asked for
            # answers though it shares no word: "We refund you within 3 working days"
            # for "when will I get the money back?".
            says = (kind is not None and hit.passage.article_id == hits[0].passage.article_id
                    and kind.search(sentence) is not None)
            if matched or says:
                shared = len(said) + SYNONYM_WEIGHT * len(meant)
                score = (shared / len(wanted) + (ANSWER_KIND_BONUS if says else 0.0)) / (1 + RANK_DISCOUNT * rank)
                found.append(_Candidate(hit.passage, rank, position, _terminated(sentence), matched, score))
    return sorted(found, key=lambda c: (-c.score, c.rank, c.position))


#: What a question's word met in a sentence only as its synonym counts for (retrieval,
#: too, weighs an expansion below the word typed).
SYNONYM_WEIGHT = 0.5


@lru_cache(maxsize=1)
def _synonym_stems() -> dict[str, frozenset[str]]:
    """Per content stem, the stems the support vocabulary ties to it (retrieval's own
    groups, core/knowledge/synonyms.py, English): a sentence is chosen with the words
    retrieval found its article by. "My kettle arrived broken and I want my money back"
    was answered "We are sorry! You do not need to send a broken item back unless we ask
    you to.", without the article's "a full refund"."""
    linked: dict[str, set[str]] = {}
    for group in SUPPORT_SYNONYM_GROUPS:
        stems = content_terms(" ".join(group))
        for one in stems:
            linked.setdefault(one, set()).update(stems - {one})
    return {one: frozenset(others) for one, others in linked.items()}


def section_heading(text: str) -> tuple[str | None, str]:
    """(the heading a passage opens with, the rest), or (None, the text): a first
    paragraph with more text after it that is one question, as an FAQ page's sections
    start ("Can I change my order after placing it?\n\nYou can change …"), or a short
    label ("International\n\nAllow 7-14 days."). Quoted, either reads as a stray line;
    its words say what the sentences under it are about."""
    first, _, rest = text.partition("\n\n")
    first = first.strip()
    if not rest.strip() or "\n" in first or first.startswith("- "):  # a list item is not a heading
        return None, text
    if first.endswith(QUESTION_MARKS) and len(split_sentences(first)) == 1:
        return first, rest
    if len(first.split()) <= _LABEL_WORDS and not _PUNCTUATED.search(first):
        return first, rest
    return None, text


#: A heading that is a label, not a question: at most this many words, no punctuation.
_LABEL_WORDS = 8
_PUNCTUATED = re.compile(f"[{re.escape(SENTENCE_MARKS + UNSPACED_STOPS)}:;,]")


def _companion(anchor: _Candidate, candidates: Sequence[_Candidate], room: int) -> _Candidate | None:
    """A second sentence from the anchor's passage (one source, one coherent quote),
    preferring one that matches question words the anchor does not."""
    same = [c for c in candidates
            if c.rank == anchor.rank and c.position != anchor.position and len(c.sentence) <= room]
    if not same:
        return None
    return max(same, key=lambda c: (len(c.matched - anchor.matched), c.score, -c.position))


def join_sentences(sentences: Iterable[str]) -> str:
    """Sentences run together as their script writes them: Chinese and Japanese put no
    space after a full stop."""
    text = ""
    for sentence in sentences:
        text += sentence if not text or text[-1] in UNSPACED_STOPS else " " + sentence
    return text


#: What may end a sentence as split_sentences cuts it: end marks (Chinese and Japanese
#: too) and the closing quotes and brackets after them (a full stop added after "…hi.”"
#: became a sentence of its own, "." , which no passage supports).
_ENDINGS = frozenset(")]\"'\u201d\u2019\uff09\u300d\u300f" + SPACED_STOPS + UNSPACED_STOPS)


def _terminated(sentence: str) -> str:
    return sentence if sentence[-1] in _ENDINGS else sentence + "."


# -- LLM --------------------------------------------------------------------------

class ChatReply(Protocol):
    @property
    def text(self) -> str | None: ...

    @property
    def usage(self) -> dict[str, int]: ...


class ChatClient(Protocol):
    """What the drafter needs of an LLM connector (``connectors.llm.LLMClient``), so
    the core names no vendor SDK and any OpenAI-compatible client fits."""

    def chat(self, *, model: str, messages: list[dict[str, Any]], max_tokens: int,
             temperature: float = 0, tools: list[dict[str, Any]] | None = None) -> ChatReply: ...


class PromptNotFound(LookupError):
    """No template file for the requested prompt version."""


@lru_cache(maxsize=16)
def load_prompt(version: str) -> Template:
    """The template ``switchboard/prompts/<version>.txt``. Prompts are files, versioned
    by name, so a change of wording is a new version that drafts record."""
    if not re.fullmatch(r"[a-z0-9_]+", version):
        raise PromptNotFound(f"prompt version {version!r} is not a file name: use e.g. 'answer_v1'.")
    path = resources.files("switchboard").joinpath("prompts", f"{version}.txt")
    try:
        return Template(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromptNotFound(
            f"no prompt template {version}.txt in switchboard/prompts/: add it, or use 'answer_v1'."
        ) from None


def json_reply(text: str) -> Any:
    """A model's JSON answer, without the ```json fence models often wrap it in; raises
    ValueError when it is not JSON (the caller then keeps its local result)."""
    return json.loads(text.strip().removeprefix("```json").removesuffix("```").strip())


_ROLES = {"user": "user", "customer": "user", "assistant": "assistant", "bot": "assistant",
          "agent": "assistant"}
#: Conversation entries that are our own bookkeeping ("handed to an agent"), not turns:
#: left out rather than sent with the system role, which would give them rule status.
_SKIPPED_ROLES = frozenset({"system"})
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
#: Tokens every chat message costs beyond its text (role and framing).
_MESSAGE_OVERHEAD = 4


@dataclass(frozen=True)
class TokenBudget:
    """How the prompt's tokens are shared. The question and the passages matter most;
    history is capped so a long conversation cannot push the passages out."""

    context: int = 3000  # prompt and answer together: well inside any chat model's window
    answer: int = 200
    question: int = 300
    history: int = 400
    history_turn: int = 150
    passage: int = 500
    min_passage: int = 40


class LLMDrafter:
    """Drafts answers with a chat model under the ``answer_v1``-style prompt.

    Question and history must already be redacted (the inbox stores them so): they are
    sent to the model and written to the outbox as they are.
    """

    def __init__(self, client: ChatClient, *, model_fast: str, model_strong: str,
                 prompt_version: str = "answer_v1", budget: TokenBudget = TokenBudget(),
                 max_chars: int = SMS_BUDGET_CHARS, max_passages: int = 5) -> None:
        self.client = client
        self.model_fast = model_fast
        self.model_strong = model_strong
        self.prompt_version = prompt_version
        self.budget = budget
        self.max_chars = max_chars
        self.max_passages = max_passages
        self.template = load_prompt(prompt_version)  # fail at start-up, not per message

    @classmethod
    def from_settings(cls, client: ChatClient, settings: Settings, **options: Any) -> LLMDrafter:
        return cls(client, model_fast=settings.model_fast, model_strong=settings.model_strong, **options)

    def compose(self, question: str, hits: Sequence[Hit], *,
                history: Sequence[tuple[str, str]] = (), complex: bool = False) -> Draft:
        """Ask the model; ``complex`` picks the strong model. ``history`` is (role, text)
        pairs, oldest first; role is user/customer, assistant/bot/agent, or system (left
        out)."""
        model = self.model_strong if complex else self.model_fast
        if not hits:
            # Nothing to ground on: the prompt's answer is known without paying for it.
            return Draft(ABSTAIN, (), "llm", None, self.prompt_version)
        messages, numbered = self.messages(question, hits, history=history, model=model)
        reply = self.client.chat(model=model, messages=messages, max_tokens=self.budget.answer,
                                 temperature=0)
        text, cited = _resolve_citations(reply.text or "", numbered)
        if _is_abstention(text):
            text, cited = ABSTAIN, ()
        else:
            # A reply without markers is taken to come from the top passage; the grounding
            # check then holds it to that passage, and the customer still gets its link.
            cited = cited or numbered[:1]
            text = f"{text}\n{citation_line(cited)}"
        return Draft(text, cited, "llm", model, self.prompt_version, dict(reply.usage))

    def messages(self, question: str, hits: Sequence[Hit], *, history: Sequence[tuple[str, str]] = (),
                 model: str | None = None) -> tuple[list[dict[str, str]], tuple[Passage, ...]]:
        """The chat messages within the token budget, and the passages numbered in them
        ([1] is the first), which is what the model's citations refer to."""
        budget = self.budget
        question = truncate_to_tokens(question, budget.question, model)
        frame = self._system("")
        left = (budget.context - budget.answer - count_tokens(frame, model)
                - count_tokens(question, model) - 2 * _MESSAGE_OVERHEAD)
        turns = self._history(history, model)
        left -= sum(count_tokens(t["content"], model) + _MESSAGE_OVERHEAD for t in turns)
        blocks: list[str] = []
        numbered: list[Passage] = []
        for hit in hits[: self.max_passages]:
            room = min(budget.passage, left)
            if room < budget.min_passage and numbered:
                break
            block = truncate_to_tokens(_passage_block(len(numbered) + 1, hit.passage),
                                       max(room, budget.min_passage), model)
            blocks.append(block)
            numbered.append(hit.passage)
            left -= count_tokens(block, model) + 1
        system = self._system("\n\n".join(blocks))
        messages = [{"role": "system", "content": system}, *turns, {"role": "user", "content": question}]
        return messages, tuple(numbered)

    def _system(self, passages: str) -> str:
        return self.template.substitute(
            prompt_version=self.prompt_version, passages=passages,
            max_chars=self.max_chars, max_sentences=MAX_SENTENCES,
        ).strip()

    def _history(self, history: Sequence[tuple[str, str]], model: str | None) -> list[dict[str, str]]:
        """The newest turns that fit the history budget, oldest first."""
        kept: list[dict[str, str]] = []
        left = self.budget.history
        for role, text in reversed(history):
            if role in _SKIPPED_ROLES:
                continue
            if role not in _ROLES:
                raise ValueError(f"history role {role!r} is unknown: use one of {', '.join(_ROLES)} "
                                 f"(or {', '.join(sorted(_SKIPPED_ROLES))}, which is left out).")
            text = truncate_to_tokens(text, min(self.budget.history_turn, left - _MESSAGE_OVERHEAD), model)
            cost = count_tokens(text, model) + _MESSAGE_OVERHEAD
            if not text or cost > left:
                break
            kept.append({"role": _ROLES[role], "content": text})
            left -= cost
        return kept[::-1]


def _passage_block(number: int, passage: Passage) -> str:
    return f"[{number}] {passage.title}\n{passage.text.strip()}"


def _resolve_citations(text: str, numbered: Sequence[Passage]) -> tuple[str, tuple[Passage, ...]]:
    """``text`` without ``[n]`` markers, and the passages the markers named, in order of
    first mention. A number naming no passage is dropped: the grounding check, not the
    marker, decides whether the sentence is supported."""
    cited: list[Passage] = []
    for match in _MARKER.finditer(text):
        for number in re.split(r"\s*,\s*", match.group(1)):
            index = int(number) - 1
            if 0 <= index < len(numbered) and numbered[index] not in cited:
                cited.append(numbered[index])
    clean = _MARKER.sub("", text)
    clean = re.sub(r"[ \t]+([.,;:!?])", r"\1", clean)
    clean = re.sub(r"[ \t]{2,}", " ", clean)
    return clean.strip(), tuple(cited)

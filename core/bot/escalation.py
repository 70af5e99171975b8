"""The escalation policy: when a self-service conversation goes to a person.

The rules live in a YAML file (the shipped default is
``switchboard/data/escalation_policy.yaml``) rather than in code, because when to stop
the bot is a business decision each contact centre makes differently, and the people
who make it edit files, not Python. So the loader is strict and talks back: an unknown
key, a missing trigger or a threshold out of range stops the load with the file, the
line and the field, instead of a policy that silently never escalates.

Triggers are checked in the order the file lists them and the first that fires wins.
Every trigger hands the customer over, so the order does not decide *whether* a person
takes over, only the reason recorded and shown to the agent (and any routing on it):
put the specific, urgent reasons (fraud, legal, "I want a person") before the generic
ones ("the bot did not know").
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from switchboard.core.understanding.enrichment import sentiment_trend

POLICY_FORMAT = 1
TRIGGER_NAMES: tuple[str, ...] = (
    "explicit_request", "negative_sentiment", "falling_sentiment", "low_confidence", "out_of_scope",
    "repeated_failures", "vip", "high_value", "legal", "fraud", "complaint", "cancellation",
    "repeat_contact", "too_many_turns", "too_long_with_bot",
)
#: Words that may surround a one-word request ("an AGENT please!") without making it
#: a sentence: the disclosure tells customers to reply AGENT, and they add courtesy.
ALONE_FILLER = frozenset({"please", "pls", "plz", "now", "asap", "just", "a", "an", "the"})
#: Words allowed between a request ("talk to") and the person asked for ("agent"):
#: "talk to one of your real agents". A closed list, so "talk to my bank about the
#: agent fee" does not read as a request for an agent.
REQUEST_FILLER = ("a", "an", "the", "some", "your", "one", "of", "another", "other", "different",
                  "real", "live", "actual", "proper", "human")
#: At most this many filler words between the request and the person.
REQUEST_MAX_FILLER = 4
#: What a person asked for may go on to do and still be someone else than the company's:
#: "I need someone else to collect my parcel", "I don't want people to see my orders",
#: "we need people to be able to pay by PayPal" are questions about a third party, not
#: requests to reach one of ours. A closed list, so every other "I need someone to ..."
#: ("... to help me", "... to cancel it") still reaches a person.
THIRD_PARTY_VERBS = ("be", "collect", "pick", "sign", "receive", "accept", "see", "use", "access", "log",
                     "know", "read", "share", "view", "pay", "order", "buy", "open", "find", "take", "have")
#: Longest stretch of the customer's message quoted in a trigger's detail.
QUOTE_CHARS = 100


# -- what the engine reads and returns ------------------------------------------------

@dataclass(frozen=True)
class Signals:
    """Everything the policy may look at for one customer message. Built by the caller
    from enrichment, retrieval and the conversation's record, so the engine itself
    never touches the database."""

    text: str
    intent: str | None
    intent_confidence: float
    in_scope: bool
    sentiment: float
    sentiment_history: tuple[float, ...]
    retrieval_confident: bool
    failed_answers: int
    customer_tier: str
    customer_value: float | None
    contacts_recent: int
    bot_turns: int
    minutes_with_bot: float
    #: Whether the message is like the examples of ``intent`` (core/intents/familiarity.py).
    intent_familiar: bool = True


@dataclass(frozen=True)
class Trigger:
    """Why the conversation goes to a person: ``name`` is one of TRIGGER_NAMES (stored
    as the handoff reason), ``detail`` is a sentence for the agent who picks it up."""

    name: str
    detail: str


class Rule(Protocol):
    """One trigger, ready to check. Read-only, like the policy that holds it."""

    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    def check(self, signals: Signals) -> str | None:
        """The detail sentence when the rule fires, else None."""


@dataclass(frozen=True)
class EscalationPolicy:
    """A loaded policy. Build one with :func:`load_policy` or :func:`parse_policy`."""

    handoff_eta: str
    repeat_window_days: int
    rules: tuple[Rule, ...]
    source: str = "<string>"
    #: A customer whose language no article is written in: "answer" from an article in
    #: another language (saying so), or "handoff" to a person who speaks theirs.
    other_languages: str = "answer"

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    def evaluate(self, signals: Signals, *, skipping: str | None = None) -> Trigger | None:
        """The first enabled trigger, in file order, that fires; None keeps the bot on.
        ``skipping`` names a trigger not to check (one the caller knows does not apply).

        One exception to file order: a topic the intent model alone reads gives way to a
        later topic the customer's own words name. "Я хочу подать жалобу" (I want to file
        a complaint) is read as legal by the model, across languages, and says
        "жалоб" (complaint) in so many words; the words are the surer evidence."""
        enabled = [rule for rule in self.rules if rule.enabled and rule.name != skipping]
        for position, rule in enumerate(enabled):
            detail = rule.check(signals)
            if detail is None:
                continue
            if isinstance(rule, TopicRule) and not rule.matcher.matches(signals.text):
                worded = next((later for later in enabled[position + 1:]
                               if isinstance(later, TopicRule) and later.matcher.matches(signals.text)), None)
                if worded is not None:
                    return Trigger(worded.name, worded.describe(signals))
            return Trigger(rule.name, detail)
        return None

# -- matching the customer's words ----------------------------------------------------

def _normalise(text: str) -> str:
    """Phones type curly apostrophes; keywords are written with straight ones."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _words_regex(phrases: Iterable[str]) -> str:
    """An alternation of phrases, each word-bounded, any run of spaces between words.
    Longest first so "customer service" wins over "customer"."""
    alternatives = sorted({r"\s+".join(map(re.escape, _normalise(p).split())) for p in phrases}, key=len, reverse=True)
    return "(?:" + "|".join(alternatives) + ")"


@dataclass(frozen=True)
class TextMatcher:
    """Keyword safety nets behind the intent model, which misses phrasings it was not
    trained on. Case-insensitive; phrases match whole words only."""

    phrases: re.Pattern[str] | None = None
    patterns: tuple[re.Pattern[str], ...] = ()
    alone: frozenset[str] = frozenset()
    requests: re.Pattern[str] | None = None

    @classmethod
    def build(cls, *, phrases: Sequence[str] = (), patterns: Sequence[str] = (), alone: Sequence[str] = (),
              asks: Sequence[str] = (), people: Sequence[str] = ()) -> TextMatcher:
        requests = None
        if asks and people:
            filler = _words_regex(REQUEST_FILLER)
            # "'s" after the person is about them, not a request: "get me the agent's name".
            # An ask that addresses the person ("talk to", "speak with") always asks for
            # them; one that only wants them ("need", "want", "get me") does not when they
            # are someone else or do what a third party does ("need someone to collect it").
            addressing = [a for a in asks if a.split()[-1].lower() in ("to", "with")]
            wanting = [a for a in asks if a not in addressing]
            person = rf"(?:\s+{filler}){{0,{REQUEST_MAX_FILLER}}}\s+{_words_regex(people)}s?(?!\w)(?!'\w)"
            third_party = rf"\s+(?:else\b|to\s+{_words_regex(THIRD_PARTY_VERBS)}(?!\w))"
            alternatives = [rf"{_words_regex(addressing)}{person}"] if addressing else []
            alternatives += [rf"{_words_regex(wanting)}{person}(?!{third_party})"] if wanting else []
            requests = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})", re.IGNORECASE)
        return cls(
            phrases=re.compile(rf"(?<!\w){_words_regex(phrases)}(?!\w)", re.IGNORECASE) if phrases else None,
            patterns=tuple(re.compile(p, re.IGNORECASE) for p in patterns),
            alone=frozenset(filter(None, (_alone_key(a) for a in alone))),
            requests=requests,
        )

    def matches(self, text: str) -> bool:
        text = _normalise(text)
        if self.alone and _alone_key(text) in self.alone:
            return True
        if self.requests is not None and self.requests.search(text):
            return True
        if self.phrases is not None and self.phrases.search(text):
            return True
        return any(pattern.search(text) for pattern in self.patterns)


def _alone_key(text: str) -> str:
    words = re.findall(r"[\w']+", _normalise(text).lower())
    return " ".join(word for word in words if word not in ALONE_FILLER)


def without_quote(detail: str | None) -> str | None:
    """A rule's reason without the customer's words it quotes at the end: what the
    append-only audit log keeps, since erasure cannot take words back from it."""
    if detail is None:
        return None
    head, separator, _ = detail.partition(": '")
    return f"{head}: '…'" if separator else detail


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS - 1].rstrip() + "…"
    return f"'{text}'"


# -- the rules ------------------------------------------------------------------------

TOPIC_LABELS = {
    "explicit_request": "customer asked for a person",
    "legal": "legal matter raised",
    "fraud": "possible fraud reported",
    "complaint": "customer wants to complain",
    "cancellation": "customer wants to cancel their account or subscription",
}


@dataclass(frozen=True)
class TopicRule:
    """Fires on a confident intent or on the customer's own words: the model covers
    phrasings nobody listed, the keywords cover phrasings the model never saw. The intent
    counts only when the message is like that intent's examples: a question from another
    help center's domain ("I need to know access rights for people to my google drive
    documents") is routed confidently to the nearest intent the model knows (legal), and
    is not a legal matter."""

    name: str
    enabled: bool
    intents: frozenset[str]
    min_confidence: float | None
    matcher: TextMatcher

    def check(self, signals: Signals) -> str | None:
        by_intent = (signals.intent in self.intents and self.min_confidence is not None
                     and signals.intent_confidence >= self.min_confidence and signals.intent_familiar)
        if by_intent or self.matcher.matches(signals.text):
            return self.describe(signals)
        return None

    def describe(self, signals: Signals) -> str:
        return f"{TOPIC_LABELS[self.name]}: {_quote(signals.text)}"


@dataclass(frozen=True)
class NegativeSentimentRule:
    enabled: bool
    below: float
    name: str = "negative_sentiment"

    def check(self, signals: Signals) -> str | None:
        if signals.sentiment < self.below:
            return f"very negative message (sentiment {signals.sentiment:+.2f}): {_quote(signals.text)}"
        return None


@dataclass(frozen=True)
class FallingSentimentRule:
    """Catches a conversation souring before any single message is angry enough for
    negative_sentiment. The trend is enrichment's robust (Theil-Sen) one, so a single
    outburst in a calm conversation is not a fall."""

    enabled: bool
    min_messages: int
    current_below: float
    name: str = "falling_sentiment"

    def check(self, signals: Signals) -> str | None:
        scores = (*signals.sentiment_history, signals.sentiment)
        if (len(scores) >= self.min_messages and signals.sentiment < self.current_below
                and sentiment_trend(scores) == "falling"):
            return (f"customer's mood is falling over {len(scores)} messages "
                    f"(from {scores[0]:+.2f} to {scores[-1]:+.2f})")
        return None


@dataclass(frozen=True)
class LowConfidenceRule:
    enabled: bool
    after_failed_answers: int
    name: str = "low_confidence"

    def check(self, signals: Signals) -> str | None:
        if not signals.retrieval_confident and signals.failed_answers >= self.after_failed_answers:
            earlier = signals.failed_answers
            after = f", after {earlier} earlier failed answer{'' if earlier == 1 else 's'}" if earlier else ""
            return f"no confident answer in the knowledge base{after}: {_quote(signals.text)}"
        return None


@dataclass(frozen=True)
class OutOfScopeRule:
    """The intent model says this is nothing we handle. The knowledge base often still
    answers such questions (the model knows a few intents, the help centre many
    articles), hence ``unless_retrieval_confident``."""

    enabled: bool
    after_failed_answers: int
    unless_retrieval_confident: bool
    name: str = "out_of_scope"

    def check(self, signals: Signals) -> str | None:
        if signals.in_scope or signals.failed_answers < self.after_failed_answers:
            return None
        if self.unless_retrieval_confident and signals.retrieval_confident:
            return None
        return f"outside what the bot handles: {_quote(signals.text)}"


@dataclass(frozen=True)
class VipRule:
    enabled: bool
    tiers: frozenset[str]
    name: str = "vip"

    def check(self, signals: Signals) -> str | None:
        if signals.customer_tier.strip().lower() in self.tiers:
            return f"customer is in the '{signals.customer_tier}' tier"
        return None


@dataclass(frozen=True)
class RepeatContactRule:
    enabled: bool
    at_least: int
    within_days: int
    name: str = "repeat_contact"

    def check(self, signals: Signals) -> str | None:
        if signals.contacts_recent >= self.at_least:
            return (f"customer's conversation number {signals.contacts_recent} "
                    f"in {self.within_days} days: the earlier ones did not solve it")
        return None


#: Triggers that fire when one number in Signals reaches the file's ``at_least``:
#: the Signals field read, and the detail sentence (``{value}`` is that field).
COUNTERS: dict[str, tuple[str, str]] = {
    "repeated_failures": ("failed_answers", "the bot failed to answer {value} times in this conversation"),
    "high_value": ("customer_value", "high-value customer (lifetime value {value:,.0f})"),
    "too_many_turns": ("bot_turns", "{value} bot replies without resolving the conversation"),
    "too_long_with_bot": ("minutes_with_bot", "{value:.0f} minutes with the bot without resolving the conversation"),
}


#: Counters that say the conversation went on without being resolved: a message that
#: closes it (thanks, an acknowledgement) resolves it. "👍" after the sixth answer made a
#: Zendesk ticket for an agent to read "👍".
UNRESOLVED_COUNTERS = frozenset({"too_many_turns", "too_long_with_bot"})


def _closes(signals: Signals) -> bool:
    return signals.intent == "thanks" and signals.in_scope and signals.intent_familiar


@dataclass(frozen=True)
class CountRule:
    name: str
    enabled: bool
    at_least: float

    def check(self, signals: Signals) -> str | None:
        field, detail = COUNTERS[self.name]
        if self.name in UNRESOLVED_COUNTERS and _closes(signals):
            return None  # "thanks", "👍": the conversation is resolved, no person needed for it
        value = getattr(signals, field)
        if value is not None and value >= self.at_least:  # an unknown customer value never fires
            return detail.format(value=value)
        return None


# -- the file's schema ----------------------------------------------------------------


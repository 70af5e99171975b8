"""What an agent reads first about a conversation: a few sentences built from the
timeline itself, so every statement in them can be traced to a message.

Offline the summary is extractive: the customer's most telling message in their own
(redacted) words, what the bot did about it, what the customer said last and why the
conversation was handed over. With a chat model configured the model may write it
instead, but its sentences must be supported by the timeline (the grounding check the
bot's answers pass); otherwise the extractive one is used. Links are never cut.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from switchboard.core.answers.grounding import check_grounded
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.records import Passage
from switchboard.core.store.models import Message

URL = re.compile(r"https?://\S+")
ELLIPSIS = "…"
#: Messages that say nothing about what the customer wants.
KEYWORDS = {"agent", "human", "person", "help", "stop", "start", "yes", "no", "hi", "hello", "thanks"}


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line in about ``limit`` characters, never ending inside a link:
    a link the cut would fall in is kept whole (a cut link is a wrong link)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = limit - 1
    for link in URL.finditer(flat):
        if link.start() < cut < link.end():
            cut = link.end()
            break
    return flat if cut >= len(flat) else flat[:cut].rstrip() + ELLIPSIS


def _informative(message: Message) -> int:
    words = content_words(message.body)
    return 0 if {w.lower() for w in words} <= KEYWORDS else len(words)


def the_ask(from_customer: Sequence[Message]) -> Message | None:
    """The customer's message that says most about what they want (the earliest of
    equals): "hi" and "AGENT" say nothing, "where is my order A1001" does."""
    scored = [(m, _informative(m)) for m in from_customer]
    best = max((score for _, score in scored), default=0)
    return next((m for m, score in scored if score == best and score > 0), None)


#: Intents that say how the customer talks, or that the model could not place, not what
#: they need: "wants help with human agent" or "with out of scope" tells the agent
#: nothing the handoff reason does not already say. (The out-of-scope names are
#: ``intents.OUT_OF_SCOPE_CATEGORIES``, written out here: that module loads scikit-learn.)
NOT_A_TOPIC = frozenset({"other", "oos", "out_of_scope", "human_agent", "greeting", "thanks"})


def _intent(messages: Sequence[Message]) -> str | None:
    """The latest intent that names what the customer needs."""
    for message in reversed(messages):
        intent = (message.meta.get("enrichment") or {}).get("intent")
        if intent and intent not in NOT_A_TOPIC:
            return str(intent).replace("_", " ")
    return None


def _cited_titles(message: Message) -> list[str]:
    return [str(s.get("title") or s.get("citation")) for s in message.meta.get("sources", []) if isinstance(s, dict)]


def extractive(messages: Sequence[Message], *, handoff_reason: str | None = None) -> str:
    """The summary in sentences taken from, or counted on, the timeline."""
    from_customer = [m for m in messages if m.author == "customer"]
    if not from_customer:
        return "The customer has not written yet."
    ask = the_ask(from_customer) or from_customer[-1]
    # The topic of the message quoted, so the two agree; the latest topic when it has none.
    intent = _intent([ask]) or _intent(from_customer)
    sentences = [(f"The customer wants help with {intent}: " if intent else "The customer wrote: ")
                 + f'"{one_line(ask.body, 200)}".']
    bot = [m for m in messages if m.author == "bot"]
    answers = [m for m in bot if m.meta.get("action") == "answer"]
    done = []
    if answers:
        titles = list(dict.fromkeys(t for m in answers for t in _cited_titles(m)))
        done.append(f"answered {len(answers)} time(s)" + (f" from {', '.join(titles[:3])}" if titles else ""))
    for action, words in (("choices", "offered choices"), ("clarify", "asked them to say more"),
                          ("action", "ran an action for them")):
        count = sum(1 for m in bot if m.meta.get("action") == action)
        if count:
            done.append(words + (f" ({count}×)" if count > 1 else ""))
    actions = [m for m in messages if m.direction == "internal"]
    if actions and not any(m.meta.get("action") == "action" for m in bot):
        done.append(f"ran {len(actions)} action(s) on their behalf")
    sentences.append("The bot " + ("; ".join(done) if done else "sent no answer") + ".")
    last = from_customer[-1]
    if last.id != ask.id:
        sentences.append(f'Their latest message: "{one_line(last.body, 160)}".')
    if handoff_reason:
        sentences.append(f"Handed over because of {handoff_reason.replace('_', ' ')}.")
    return " ".join(sentences)


def timeline_passages(messages: Sequence[Message]) -> list[Passage]:
    """The timeline as the passages a generated summary must be grounded in."""
    return [Passage(id=f"message-{m.id}", article_id=f"message-{m.id}", title=f"{m.author} message", text=m.body)
            for m in messages if m.body]


PROMPT = ("Summarise this customer-support conversation for the human agent taking it over, in at most three "
          "short sentences: what the customer wants, what was already tried, how they feel. Use only facts "
          "stated in the messages; do not add advice.")


#: How a summary reports speech ("the customer says …"): words no message contains, which
#: say who said something rather than what was said, so they are not held against it.
REPORTING = re.compile(r"\b(?:the\s+)?(?:customer|caller|bot|assistant)(?:'s)?\b|\b(?:says|said|reports?|reported|"
                       r"wr(?:ote|ites)|asks?|asked|wants?|wanted|mentions?|mentioned|states?|stated|explains?|"
                       r"explained|claims?|claimed|that)\b", re.IGNORECASE)


def grounded(candidate: str, messages: Sequence[Message]) -> bool:
    """Whether every sentence of a generated summary is supported by the timeline, once
    the words that only report who said it are set aside."""
    facts = REPORTING.sub(" ", candidate)
    return bool(candidate.strip()) and check_grounded(facts, timeline_passages(messages)).ok


def model_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    transcript = "\n".join(f"{m.author}: {one_line(m.body, 400)}" for m in messages if m.body)
    return [{"role": "system", "content": PROMPT}, {"role": "user", "content": transcript}]


def summarise(messages: Sequence[Message], *, handoff_reason: str | None = None,
              generate: Mapping[str, Any] | None = None) -> str:
    """The generated summary when one was given and it is grounded, else the extractive."""
    candidate = str((generate or {}).get("text") or "")
    if candidate and grounded(candidate, messages):
        return candidate.strip()
    return extractive(messages, handoff_reason=handoff_reason)

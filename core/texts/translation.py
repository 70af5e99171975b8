"""Translating between the customer's language and the knowledge base's, with the
configured language model (never on the local default: it has no translator).

An answer to a customer whose language no article is written in is drafted and
grounded in the articles' language as usual, then translated; the translation is
translated back and grounded again against the source passage, so a translation that
added or changed a fact is refused like any ungrounded draft (the customer then goes
to a person). The customer is told the answer is a translation (selfservice.TRANSLATED).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.answers.drafting import ChatClient, load_prompt
from switchboard.core.ports import VendorError, VendorUnavailable
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Message

PROMPT_VERSION = "translate_v1"
#: Short texts (a question, an SMS answer): the reply is at most about as long.
MAX_TOKENS = 400


def language_name(code: str, in_language: str = "en") -> str:
    """"fr" as its name in ``in_language`` ("French", "francés"); the code when unknown."""
    try:
        return Locale.parse(code).get_display_name(Locale.parse(in_language)) or code
    except (UnknownLocaleError, ValueError):
        return code


@dataclass(frozen=True)
class Translation:
    text: str
    model: str
    usage: dict[str, Any]


class Translator:
    """Translates short texts with the fast model, at temperature 0."""

    def __init__(self, client: ChatClient, settings: Settings) -> None:
        self.client = client
        self.model = settings.model_fast
        self.template = load_prompt(PROMPT_VERSION)

    def translate(self, text: str, *, source: str, target: str) -> Translation:
        """``text`` from ``source`` into ``target`` (ISO 639-1 codes)."""
        system = self.template.substitute(source=language_name(source), target=language_name(target))
        reply = self.client.chat(model=self.model, max_tokens=MAX_TOKENS, temperature=0, messages=[
            {"role": "system", "content": system}, {"role": "user", "content": text}])
        return Translation((reply.text or "").strip(), self.model, dict(reply.usage))


#: The language agents read customers' messages in, and write their replies in.
AGENT_LANGUAGE = "en"


class TranslationUnavailable(LookupError):
    """No translation can be offered: no model configured, or nothing to translate."""


def _translator(session: Session, account: Account, settings: Settings) -> Translator:
    if not ports.current().chat_model_configured(settings):
        raise TranslationUnavailable("no language model is configured (set OPENAI_API_KEY or OPENAI_BASE_URL) "
                                     "to translate for agents")
    return Translator(ports.current().chat_model(session, account, settings), settings)


def translate_customer_messages(session: Session, account: Account, settings: Settings,
                                messages: Iterable[Message]) -> int:
    """Give the agent an English reading of each customer message written in another
    language (stored beside the message, which stays as the customer wrote it, and
    audited). A model outage leaves the messages untranslated: the agent still has them."""
    pending = [m for m in messages if m.author == "customer" and "translation" not in (m.meta or {})
               and (m.meta or {}).get("language") not in (None, AGENT_LANGUAGE) and m.body.strip()]
    if not pending:
        return 0
    try:
        translator = _translator(session, account, settings)
    except TranslationUnavailable:
        return 0
    done = 0
    for message in pending:
        source = str(message.meta["language"])
        try:
            result = translator.translate(message.body, source=source, target=AGENT_LANGUAGE)
        except (VendorError, VendorUnavailable):
            break
        message.meta = {**message.meta, "translation": {"language": AGENT_LANGUAGE, "text": result.text,
                                                        "model": result.model}}
        audit(session, account_id=account.id, actor="llm", action="message.translated", subject_type="message",
              subject_id=message.id, detail={"from": source, "to": AGENT_LANGUAGE, "model": result.model})
        done += 1
    return done


def translate_agent_reply(session: Session, account: Account, settings: Settings, *, language: str, text: str,
                          ticket_id: int, actor: str) -> Translation:
    """An agent's draft reply in the customer's ``language``, for the agent to read and
    approve (by inserting it) before it is sent; the request and the result are audited."""
    if language == AGENT_LANGUAGE:
        raise TranslationUnavailable("the customer writes in English: there is nothing to translate")
    result = _translator(session, account, settings).translate(text, source=AGENT_LANGUAGE, target=language)
    audit(session, account_id=account.id, actor=actor, action="agent.reply_translated", subject_type="ticket",
          subject_id=ticket_id, detail={"to": language, "model": result.model, "original": text,
                                        "translation": result.text})
    return result

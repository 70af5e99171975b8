"""Translating between the customer's language and the knowledge base's, with the
configured language model (never on the local default: it has no translator).

An answer to a customer whose language no article is written in is drafted and
grounded in the articles' language as usual, then translated; the translation is
translated back and grounded again against the source passage, so a translation that
added or changed a fact is refused like any ungrounded draft (the customer then goes
to a person). The customer is told the answer is a translation (selfservice.TRANSLATED).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel import Locale, UnknownLocaleError

from switchboard.config import Settings

from .drafting import ChatClient, load_prompt

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

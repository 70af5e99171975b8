"""Every fixed text a customer can receive, in the customer's language.

Texts are written in English beside the code that sends them, marked with :func:`N_`
and a short key (``N_("clarify", "I couldn't find that…")``), and translated in gettext
message catalogs: ``switchboard/locale/<language>/LC_MESSAGES/switchboard.po``, one per
language, the key being each message's ``msgctxt``. ``pybabel extract -k N_:1c,2`` finds
them all (``tests/i18n`` checks that every catalog translates every one of them).

The catalogs are read as ``.po`` at run time with Babel, not compiled to ``.mo``: the
wheel ships the one file translators edit, so a compiled copy can never fall behind
it, and reading six small catalogs once per process costs milliseconds. A company can
override any text per language (``switchboard texts set``); an override is kept as an
account artifact (versioned, like the search index) and wins over the catalog.

A translation whose English source has changed since it was written is not used (its
``msgid`` no longer matches): the customer gets the current English text, never a stale
promise, and the completeness test fails until the catalog is updated.
"""
from __future__ import annotations

import importlib
import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.resources import package_path
from switchboard.core.store import artifacts
from switchboard.core.store.models import Message

#: The language the texts are written in, and what any other language falls back to.
SOURCE_LANGUAGE = "en"
#: Languages every catalog must be complete for (the completeness test checks each).
CATALOG_LANGUAGES = ("en", "es", "fr", "de", "pt", "it")
#: Languages a conversation can be in without a catalog (the rest of
#: ``enrichment.SUPPORTED_LANGUAGES``, which a test keeps in step): customers writing
#: them get the English texts unless the company overrides them. An override in any
#: other code would reach nobody who writes to us (a typo such as "sp" for "es" most of
#: all), so it is refused.
UNCATALOGUED_LANGUAGES = ("nl", "pl", "tr", "ar", "ru", "uk", "zh", "ja", "ko", "el", "he", "th", "hi")
DOMAIN = "switchboard"
#: The artifact kind an account's overrides are stored under.
OVERRIDES = "texts"

_BY_KEY: dict[str, str] = {}
_KEY_OF: dict[str, str] = {}
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class UnknownText(KeyError):
    """A key no customer-facing text has."""


class InvalidOverride(ValueError):
    """An override that could not be sent as it stands."""


def N_(key: str, text: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark ``text`` as a customer-facing text known as ``key``; returns it unchanged, so
    the English constant stays what the code and the tests use."""
    if _BY_KEY.get(key, text) != text or _KEY_OF.get(text, key) != key:
        raise ValueError(f"text key {key!r} is used for two different texts (or one text has two keys)")
    _BY_KEY[key] = text
    _KEY_OF[text] = key
    return text


#: Every module that marks customer texts, by name (as llm lists its DEFAULT_PLUGINS):
#: importing one registers its texts through :func:`N_`. Named, not imported, because
#: each of them imports this module; ``tests/i18n`` fails when a module marking texts
#: is missing here.
TEXT_MODULES = (
    "switchboard.core.actions.wording",
    "switchboard.core.actions.registry",
    "switchboard.core.helpdesk.handoff",
    "switchboard.core.outreach.drafts",
    "switchboard.core.conversation.inbound",
    "switchboard.core.bot.decisions",
    "switchboard.core.bot.menu_replies",
    "switchboard.core.bot.menus",
    "switchboard.core.helpdesk.tickets",
)


def registered() -> dict[str, str]:
    """Every marked text by key (those of the modules imported so far; see :func:`load_all`)."""
    return dict(_BY_KEY)


def load_all() -> dict[str, str]:
    """Import every module of :data:`TEXT_MODULES`, then return all their texts by key."""
    for name in TEXT_MODULES:
        importlib.import_module(name)
    return registered()


def language_of(locale: str | None) -> str | None:
    """``"pt-BR"`` → ``"pt"``; None for nothing usable."""
    if not locale:
        return None
    code = locale.replace("_", "-").split("-")[0].strip().lower()
    return code if _LANGUAGE.match(code) else None


def catalog_path(language: str) -> Path:
    return package_path("locale", language, "LC_MESSAGES", f"{DOMAIN}.po")


@cache
def catalog(language: str) -> dict[tuple[str, str], str]:
    """(key, English text) → translation, for the translated, non-fuzzy messages of one
    language's catalog; empty for a language without a catalog."""
    from babel.messages.pofile import read_po  # 30 ms a web worker pays only when it sends a translated text

    path = catalog_path(language)
    if not path.exists():
        return {}
    with path.open("rb") as file:
        parsed = read_po(file, locale=language, domain=DOMAIN)
    return {(str(message.context), str(message.id)): str(message.string)
            for message in parsed if message.id and message.context and message.string and not message.fuzzy}


def catalog_problems(language: str, path: Path | None = None) -> list[str]:
    """What keeps ``language``'s catalog from translating every marked text: a missing,
    empty, fuzzy or stale translation (its English source changed), or one whose
    ``{placeholders}`` differ from the source's. Empty when the catalog is complete."""
    from babel.messages.pofile import read_po  # 30 ms a web worker pays only when it sends a translated text

    path = path or catalog_path(language)
    if not path.exists():
        return [f"{path}: no catalog for {language!r}; copy switchboard/locale/switchboard.pot there"]
    with path.open("rb") as file:
        parsed = read_po(file, locale=language, domain=DOMAIN)
    found = {str(message.context): message for message in parsed if message.id and message.context}
    problems = []
    for key, source in sorted(load_all().items()):
        message = found.get(key)
        if message is None or not message.string:
            problems.append(f"{language}: {key} is not translated")
        elif message.id != source:
            problems.append(f"{language}: {key} translates an older English text; update msgid and msgstr")
        elif message.fuzzy:
            problems.append(f"{language}: {key} is marked fuzzy; review it and remove the flag")
        elif placeholders(str(message.string)) != placeholders(source):
            problems.append(f"{language}: {key} must use exactly the placeholders of {source!r}")
    return problems


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a text: a translation or override must have the same ones."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@dataclass(frozen=True)
class Texts:
    """The texts of one conversation: its language, with the account's overrides."""

    language: str = SOURCE_LANGUAGE
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __call__(self, text: str, **values: object) -> str:
        """``text`` (a marked English constant) in this language, formatted with ``values``."""
        key = _KEY_OF.get(text)
        if key is None:
            raise UnknownText(f"{text[:40]!r} is not marked with N_(): mark it beside the code that sends it")
        chosen = self._translation(key, text) or text
        return chosen.format(**values) if values else chosen

    def sent_in(self, text: str) -> str:
        """The language ``text`` is sent in: this one when the account's overrides or the
        catalog translate it, else English (a Dutch customer reads the English text)."""
        key = _KEY_OF.get(text)
        return self.language if key is not None and self._translation(key, text) else SOURCE_LANGUAGE

    def _translation(self, key: str, text: str) -> str | None:
        """``text`` as the account's overrides or this language's catalog write it."""
        return self.overrides.get(self.language, {}).get(key) or catalog(self.language).get((key, text))

    @property
    def translated(self) -> bool:
        """Whether this language has its own catalog (else the customer reads English)."""
        return self.language == SOURCE_LANGUAGE or bool(catalog(self.language))


ENGLISH = Texts()


def overrides(session: Session, account_id: int) -> dict[str, dict[str, str]]:
    """The account's overrides: language → key → text."""
    published = artifacts.latest(session, account_id, OVERRIDES)
    if published is None:
        return {}
    data = json.loads(artifacts.fetch(session, account_id, OVERRIDES, published.version))
    return {str(lang): {str(k): str(v) for k, v in texts.items()} for lang, texts in data.items()}


def texts_for(session: Session, account_id: int, language: str | None) -> Texts:
    """The texts to send in ``language`` (English when unknown) for one account."""
    return Texts(language or SOURCE_LANGUAGE, overrides(session, account_id))


#: How many of the customer's latest messages are looked at for the conversation's
#: language: a bound, so a long conversation costs what a short one does.
LANGUAGE_LOOKBACK = 20


def conversation_language(session: Session, conversation_id: int, locale: str | None) -> str:
    """The language a conversation was last held in (recorded on each customer message),
    else the customer's stored preference (``locale``), else English."""
    metas: Any = session.scalars(select(Message.meta).where(
        Message.conversation_id == conversation_id, Message.author == "customer").order_by(Message.id.desc())
        .limit(LANGUAGE_LOOKBACK))
    for meta in metas:
        if (meta or {}).get("language"):
            return str(meta["language"])
    return language_of(locale) or SOURCE_LANGUAGE


def texts_of_conversation(session: Session, account_id: int, conversation_id: int, locale: str | None) -> Texts:
    """The texts to send on an existing conversation (a recap, an acknowledgement)."""
    return texts_for(session, account_id, conversation_language(session, conversation_id, locale))


def set_override(session: Session, account_id: int, language: str, key: str, text: str | None) -> None:
    """Replace (or with None, remove) one text of one language for an account.

    Checked before it is stored, since a broken override would reach customers: the
    key must exist, the language be a two-letter code, and the text keep exactly the
    source's ``{placeholders}`` (a missing ``{eta}`` would send a promise with no time)."""
    texts = load_all()
    if key not in texts:
        raise UnknownText(f"no customer-facing text is called {key!r}; list them with `switchboard texts list`")
    if not _LANGUAGE.match(language):
        raise InvalidOverride(f"language {language!r}: use a two-letter ISO 639-1 code such as es or de")
    from switchboard.core.understanding.enrichment import detectable  # lingua: only when overriding

    if not detectable(language):
        raise InvalidOverride(
            f"no customer is ever answered in {language!r}: the catalogs have {', '.join(CATALOG_LANGUAGES)}; "
            f"{', '.join(UNCATALOGUED_LANGUAGES)} are also detected, and so is any other language your "
            "knowledge base's articles are written in (English texts unless you override them)")
    current = overrides(session, account_id)
    if text is None:
        current.get(language, {}).pop(key, None)
    else:
        text = text.strip()
        if not text:
            raise InvalidOverride("the text is empty: pass the text to send, or --remove to go back to the catalog")
        if placeholders(text) != placeholders(texts[key]):
            wanted = ", ".join(sorted(f"{{{p}}}" for p in placeholders(texts[key]))) or "none"
            raise InvalidOverride(f"{key}: the text must use exactly these placeholders: {wanted}")
        current.setdefault(language, {})[key] = text
    blob = json.dumps({lang: dict(sorted(t.items())) for lang, t in sorted(current.items()) if t},
                      ensure_ascii=False, sort_keys=True).encode()
    artifacts.publish(session, account_id, OVERRIDES, blob)
    session.commit()

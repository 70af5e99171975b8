"""The web chat channel in the domain's terms (issue 21): visitors and their signed
tokens, the widget's view of a timeline, and delivery of agent replies to the widget.

A visitor is a browser that opened the widget. It carries a token signed with the
deployment's secret (itsdangerous), naming its account and visitor id, kept by the
widget in the browser's storage: with it a visitor resumes their conversation after a
reload or a week. Each new visitor is a customer of its own (an identity of kind
``visitor``) until a verified phone or email links it to another customer.

The widget reads messages from the timeline (``channel == "web"``), never from a
queue of its own: what is on the record is what the visitor sees, and a message
delivered while no stream was open is there on the next read. Writes that a stream
should see at once ask for a wake-up after their transaction commits
(:func:`wake_after_commit`); the web app publishes those.
"""
from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import accounts, ports
from switchboard.core.bot.menus import NONE_OF_THESE
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import reply_address
from switchboard.core.knowledge.records import article_of
from switchboard.core.outcomes import metrics
from switchboard.core.pii.vault import opened, vault_for
from switchboard.core.settings import Settings, webchat_origins
from switchboard.core.store.models import (
    Account,
    Conversation,
    Customer,
    Identity,
    IdentityKind,
    KbArticle,
    Message,
    WebVisitor,
)
from switchboard.core.texts.i18n import SOURCE_LANGUAGE, Texts, overrides

CHANNEL = "web"
TOKEN_SALT = "switchboard.webchat.visitor"
TOKEN_MAX_AGE = timedelta(days=180)
#: How often a visitor's ``last_seen_at`` moves forward while they have a request or stream open.
SEEN_EVERY = timedelta(seconds=30)
#: The messages a resumed session shows: the latest, oldest first.
HISTORY = 50
#: At most this many messages per read after a given id (the widget asks again for more).
PAGE = 100
MAX_TEXT = 2000
MAX_CLIENT_ID = 64
NOTIFY_CHOICES = ("none", "sms", "email")
#: Where pending wake-ups wait in a session until its transaction commits.
WAKES = "switchboard.webchat.wakes"


def new_visitor_id() -> str:
    """"v_" and 22 url-safe characters (128 random bits)."""
    return "v_" + secrets.token_urlsafe(16)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT)


def issue_token(secret: str, account_id: int, visitor_id: str) -> str:
    return _serializer(secret).dumps({"a": account_id, "v": visitor_id})


def read_token(secret: str, token: str | None) -> tuple[int, str] | None:
    """(account id, visitor id) from a valid, unexpired token; None otherwise."""
    if not token or len(token) > 512:
        return None
    try:
        data = _serializer(secret).loads(token, max_age=int(TOKEN_MAX_AGE.total_seconds()))
    except BadData:  # a bad signature, an expired or malformed token
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("v"), str):
        return None
    return data["a"], data["v"]


def visitor_for_token(session: Session, secret: str, account: Account, token: str | None) -> WebVisitor | None:
    """The account's visitor the token names, or None (bad, expired, another account's,
    or a visitor erased since)."""
    found = read_token(secret, token)
    if found is None or found[0] != account.id:
        return None
    visitor = session.get(WebVisitor, found[1])
    return visitor if visitor is not None and visitor.account_id == account.id else None


def start_visitor(session: Session, account: Account, locale: str | None) -> WebVisitor:
    """A new visitor: a customer of its own, reachable on the web by its visitor id."""
    visitor_id = new_visitor_id()
    # Through the relationship: the customer's identities are known (the reply's
    # address) without reading them back.
    customer = Customer(account_id=account.id, locale=_locale(locale), attributes={},
                        identities=[Identity(account_id=account.id, kind=IdentityKind.VISITOR, value=visitor_id)])
    session.add(customer)
    session.flush()
    visitor = WebVisitor(id=visitor_id, account_id=account.id, customer_id=customer.id)
    session.add(visitor)
    session.flush()
    return visitor


def _locale(raw: str | None) -> str | None:
    """The browser's language tag, as far as the customer's locale column holds one."""
    if not raw:
        return None
    tag = raw.strip().replace("_", "-")[:16]
    return tag if tag and all(part.isalnum() for part in tag.split("-")) else None


def seen(visitor: WebVisitor, now: datetime | None = None) -> bool:
    """Move ``last_seen_at`` forward unless it moved within SEEN_EVERY; True when it did."""
    now = now or datetime.now(UTC)
    last = visitor.last_seen_at if visitor.last_seen_at.tzinfo else visitor.last_seen_at.replace(tzinfo=UTC)
    if now - last < SEEN_EVERY:
        return False
    visitor.last_seen_at = now
    return True


#: A visitor seen this recently still has the widget open: an open stream moves
#: ``last_seen_at`` every SEEN_EVERY and reconnects at least every minute.
PRESENT_WITHIN = timedelta(seconds=90)


def is_present(visitor: WebVisitor, now: datetime | None = None) -> bool:
    """Whether the visitor has the widget open (or had it until a moment ago)."""
    now = now or datetime.now(UTC)
    last = visitor.last_seen_at if visitor.last_seen_at.tzinfo else visitor.last_seen_at.replace(tzinfo=UTC)
    return now - last < PRESENT_WITHIN


#: The customer's browsers considered (most recently seen first).
VISITORS = 10


def visitors_of(session: Session, customer_id: int) -> list[WebVisitor]:
    """The customer's latest web chat visitors (browsers), the latest seen first."""
    return list(session.scalars(select(WebVisitor).where(WebVisitor.customer_id == customer_id)
                                .order_by(WebVisitor.last_seen_at.desc()).limit(VISITORS)))


def external_id(visitor_id: str, client_id: str) -> str:
    """The timeline's id of a visitor's message: the same for a repeated client_id, and
    short enough for Message.external_id whatever the client sent."""
    return "web_" + hashlib.sha256(f"{visitor_id}:{client_id}".encode()).hexdigest()[:40]


# -- what the widget reads ------------------------------------------------------------------

def messages_after(session: Session, customer_id: int, after: int = 0, *, limit: int = PAGE) -> list[Message]:
    """The customer's web chat messages with an id above ``after``, oldest first."""
    conversations = select(Conversation.id).where(Conversation.customer_id == customer_id)
    return list(session.scalars(select(Message).where(
        Message.conversation_id.in_(conversations), Message.channel == CHANNEL, Message.id > after)
        .order_by(Message.id).limit(limit)))


def latest_messages(session: Session, customer_id: int, *, limit: int = HISTORY) -> list[Message]:
    """The customer's latest ``limit`` web chat messages, oldest first."""
    conversations = select(Conversation.id).where(Conversation.customer_id == customer_id)
    newest = session.scalars(select(Message).where(
        Message.conversation_id.in_(conversations), Message.channel == CHANNEL)
        .order_by(Message.id.desc()).limit(limit)).all()
    return list(reversed(newest))


def message_json(session: Session, settings: Settings, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages as the widget shows them (the contract's ``Msg``). What we wrote is shown
    as it was sent (the vault tokens the bot's reply was allowed to open, as an SMS
    opens them: ``meta["opened"]``, never an agent's text);
    the customer's own words as stored, redacted."""
    articles = _articles(session, messages)
    none_of_these = _none_of_these(session)
    shown = []
    for message in messages:
        meta = message.meta or {}
        text = message.body
        if meta.get("opened") and message.author == "bot":
            text = opened(session, vault_for(settings), account_id=message.account_id,
                          conversation_id=message.conversation_id, text=text, tokens=meta["opened"])
        if message.author == "bot":
            text = _without_what_the_widget_draws(text, meta)
        shown.append({
            "id": message.id, "author": message.author, "text": text,
            "at": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "sources": [_source(message.account_id, s, articles) for s in meta.get("sources") or ()
                        if isinstance(s, dict)],
            "choices": _choices(meta, message.account_id, none_of_these),
            "client_id": meta.get("client_id"),
        })
    return shown


def _choices(meta: dict[str, Any], account_id: int,
             none_of_these: Callable[[int, str | None], str]) -> list[dict[str, str]]:
    """A menu's articles as buttons sending their number, and a last button, "None of
    these" in the conversation's language, sending its own label: the bot reads it as
    the customer wanting none of them (core/understanding/menu_picks.py)."""
    choices = [{"label": str(c.get("title", "")), "value": str(n)}
               for n, c in enumerate(meta.get("choices") or (), 1) if isinstance(c, dict)]
    if not choices:
        return []
    none = none_of_these(account_id, meta.get("language"))
    return [*choices, {"label": none, "value": none}]


def _none_of_these(session: Session) -> Callable[[int, str | None], str]:
    """The "None of these" label by account and language, each account's text overrides
    read once for a page of messages, not once a menu."""
    @functools.cache
    def account_overrides(account_id: int) -> dict[str, dict[str, str]]:
        return overrides(session, account_id)

    return lambda account_id, language: Texts(language or SOURCE_LANGUAGE, account_overrides(account_id))(
        NONE_OF_THESE)


def _without_what_the_widget_draws(text: str, meta: dict[str, Any]) -> str:
    """The bot's reply without the lines an SMS needs and the widget draws itself: the
    citation lines ("More: <link>", in the conversation's language; one under each
    answer when a message asked two things) when the sources come as a list of links,
    and the menu's "Reply with the number…" line under its numbered titles when the
    choices come as buttons. The timeline keeps the SMS text."""
    lines = text.split("\n")
    citations = [str(s.get("citation")) for s in meta.get("sources") or () if isinstance(s, dict) and s.get("citation")]
    if citations and len(lines) > 1:
        lines = [lines[0], *(line for line in lines[1:] if not _cites_only(line, citations))]
    choices = [c for c in meta.get("choices") or () if isinstance(c, dict)]
    last_choice = next((i for i, line in enumerate(lines) if line.startswith(f"{len(choices)}. ")), None)
    if choices and last_choice is not None and last_choice == len(lines) - 2:
        lines.pop()
    return "\n".join(lines).rstrip()


def _cites_only(line: str, citations: Sequence[str]) -> bool:
    """Whether ``line`` is a citation line: one or more of ``citations`` after a one- or
    two-word label ending in a colon ("More:", "Más información:")."""
    rest = line
    for citation in citations:
        rest = rest.replace(citation, "")
    label = rest.replace("|", " ").strip()
    return rest != line and label.endswith(":") and len(label.split()) <= 2


def _articles(session: Session, messages: Iterable[Message]) -> dict[tuple[int, str], KbArticle]:
    wanted: dict[int, set[str]] = {}
    for message in messages:
        for source in (message.meta or {}).get("sources") or ():
            if isinstance(source, dict) and isinstance(source.get("passage"), str):
                wanted.setdefault(message.account_id, set()).add(article_of(source["passage"]))
    found: dict[tuple[int, str], KbArticle] = {}
    for account_id, ids in wanted.items():
        for article in session.scalars(select(KbArticle).where(
                KbArticle.account_id == account_id, KbArticle.external_id.in_(sorted(ids)))):
            found[account_id, article.external_id] = article
    return found


def _source(account_id: int, source: dict[str, Any],
            articles: dict[tuple[int, str], KbArticle]) -> dict[str, str | None]:
    """A cited passage as a link: its article's title and url; an article removed since
    keeps what the citation said (the url, or the title without one)."""
    passage = source.get("passage")
    article = articles.get((account_id, article_of(passage))) if isinstance(passage, str) else None
    if article is not None:
        return {"title": article.title, "url": article.url}
    citation = str(source.get("citation") or "")
    is_url = citation.startswith(("http://", "https://"))
    return {"title": citation, "url": citation if is_url else None}


@dataclass(frozen=True)
class Appearance:
    """What the widget shows before anything is said: the account's settings."""

    name: str
    colour: str
    greeting: str | None


def appearance(account: Account, settings: Settings) -> Appearance:
    """The default account reads the environment; the others their own settings."""
    name = (accounts.setting(account, "webchat_name", settings, str)
            or accounts.company_name(account, settings) or accounts.NEUTRAL_COMPANY)
    colour = accounts.setting(account, "webchat_colour", settings, str, inherit=True) or settings.webchat_colour
    return Appearance(name, colour, accounts.setting(account, "webchat_greeting", settings, str) or None)


def allowed_origins(account: Account, settings: Settings) -> tuple[str, ...]:
    """The sites that may embed this account's widget (``webchat_origins``)."""
    origins = accounts.setting(account, "webchat_origins", settings,
                               lambda raw: webchat_origins(raw, "webchat_origins"))
    return tuple(origins or ())


# -- delivery to the widget -----------------------------------------------------------------

def wake_after_commit(session: Session, settings: Settings, account_id: int, customer_id: int) -> None:
    """Ask that the customer's open widget streams look again once this transaction
    commits (the web app publishes the wake-up: Redis, or within the process)."""
    session.info.setdefault(WAKES, set()).add((settings.redis_url, account_id, customer_id))


def deliver_agent_reply_to_web(session: Session, account: Account, conversation: Conversation, customer: Customer,
                               reply: Any, settings: Settings) -> str:
    """An agent's public reply on a web chat conversation: delivered to the widget
    (on the timeline, streams woken). ``reply`` is a ``handoff.AgentReply``. Returns
    the outcome ``handoff.deliver_agent_reply`` reports ("delivered").

    The hook for notifying a visitor who left (by SMS or email, per ``WebVisitor.notify``):
    extend here, after the reply is on the timeline (``visitors_of`` and ``is_present``
    tell whether any of the customer's browsers still has the widget open)."""
    result = ports.current().messenger(session, account, settings).send_message(
        to=reply_address(customer, CHANNEL), body=reply.body, channel=CHANNEL,
        idempotency_key=f"agent-reply:{reply.comment_id}")
    sent = timeline.append(session, conversation, direction="outbound", channel=CHANNEL, author="agent",
                           body=reply.body, external_id=result.response.get("sid"),
                           status=result.response.get("status"), meta={"zendesk_comment_id": reply.comment_id})
    metrics.agent_replied(session, conversation, sent)
    return "delivered"

"""/api/sidebar: what the Zendesk sidebar app shows, and the agent's verdicts.

Requests arrive through Zendesk's proxy carrying the account's key (the app's secure
`token` setting, which never reaches the browser), or a Zendesk signed-URL JWT that is
verified with the app's public key. Either way the account is the one the credential
belongs to, and only that account's tickets are answered; anything else is refused
and logged.

The app sends the agent it runs for (ZAF's ``currentUser``) with every request, so
what they do is audited as ``zendesk:<user id>``, like their comments on a ticket. A
signed token names the agent itself (its ``sub``), verified: that wins over what the
app says. An app from before the identity headers is audited as "agent", as it was.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import unquote

import jwt
from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from switchboard.apps.sign_in import CODE_SECONDS, issue_code
from switchboard.core import accounts, ports
from switchboard.core.calls.card import live_card
from switchboard.core.customers import timeline
from switchboard.core.errors import MalformedPayload
from switchboard.core.helpdesk import assist
from switchboard.core.helpdesk.handoff import PACKAGE_MESSAGES, conversation_for_ticket, summarise
from switchboard.core.outcomes import metrics
from switchboard.core.quality import wrapup
from switchboard.core.quality.screen import check_reply
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, Message, Suggestion
from switchboard.core.texts import i18n, translation
from switchboard.core.understanding.enrichment import sentiment_trend
from switchboard.intake import db

log = logging.getLogger(__name__)
blueprint = Blueprint("sidebar", __name__, url_prefix="/api/sidebar")

#: The agent's identity as the app reads it from ZAF (``client.get('currentUser')``).
#: Name and email are percent-encoded UTF-8 (``encodeURIComponent``): header values are Latin-1.
AGENT_ID_HEADER = "X-Zendesk-User-Id"
AGENT_NAME_HEADER = "X-Zendesk-User-Name"
AGENT_EMAIL_HEADER = "X-Zendesk-User-Email"
#: What an app without the identity headers may still say about who it is (a label only).
LEGACY_AGENT_HEADERS = ("X-Zendesk-Agent", "X-Agent")


@dataclass(frozen=True)
class Agent:
    """Who is using the sidebar. ``user_id`` is the Zendesk user's; ``verified`` when a
    Zendesk signed token said so, rather than the app. Without an id the agent is only
    the app's ``label`` ("agent" unless an old header said otherwise)."""

    user_id: str | None = None
    name: str | None = None
    email: str | None = None
    verified: bool = False
    label: str = "agent"

    @property
    def actor(self) -> str:
        """How the audit trail names them: ``zendesk:<id>``, like an agent's comment."""
        return f"zendesk:{self.user_id}" if self.user_id else self.label

    @property
    def principal(self) -> str:
        """The governed actions' actor, which has always been ``zendesk:…``."""
        return self.actor if self.user_id else f"zendesk:{self.label}"[:200]

    def audit_detail(self) -> dict[str, Any] | None:
        """What the audit trail keeps besides the actor: the name and email received."""
        if not self.user_id:
            return None
        return {"id": self.user_id, "name": self.name, "email": self.email, "verified": self.verified}


def current_agent() -> Agent:
    return g.agent


def _header_text(name: str, limit: int) -> str | None:
    value = unquote(request.headers.get(name, "")).strip()
    return "".join(ch for ch in value if ch.isprintable())[:limit] or None


def _agent(claims: Mapping[str, Any] | None) -> Agent:
    """The agent from a verified token's ``sub``, else from the app's headers."""
    label = next((v.strip()[:200] for h in LEGACY_AGENT_HEADERS if (v := request.headers.get(h, "")).strip()),
                 "agent")
    said = request.headers.get(AGENT_ID_HEADER, "").strip()
    if said and not (said.isascii() and said.isdigit() and len(said) <= 20):
        raise MalformedPayload(f"{AGENT_ID_HEADER} must be the agent's Zendesk user id, digits only (ZAF's "
                               "currentUser.id)")
    name, email = _header_text(AGENT_NAME_HEADER, 200), _header_text(AGENT_EMAIL_HEADER, 254)
    signed = str((claims or {}).get("sub") or "").strip()[:64]
    if signed:
        if said and said != signed:
            log.warning("sidebar: the app said agent %s but Zendesk's signed token says %s; using the token",
                        said, signed)
            return Agent(signed, verified=True, label=label)
        return Agent(signed, name, email, verified=True, label=label)
    if said:
        return Agent(said, name, email, label=label)
    return Agent(label=label)


def account_for_jwt(token: str) -> Account | None:
    """The account of a verified Zendesk signed-URL token (the dashboard's sign-in too)."""
    verified = _verified_jwt(token)
    return verified[0] if verified is not None else None


def _verified_jwt(token: str) -> tuple[Account, dict[str, Any]] | None:
    """A Zendesk signed-URL token (RS256), verified with the public key configured for
    the account whose subdomain issued it; with its claims."""
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = str(unverified.get("iss", ""))
    subdomain = issuer.removesuffix(".zendesk.com")
    session = db.session()
    account = session.scalar(select(Account).where(Account.zendesk_subdomain == subdomain))
    if account is None:
        return None
    settings = current_app.config["SETTINGS"]
    key = accounts.setting(account, "zendesk_app_public_key", settings, str)
    if not key:
        return None
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                            options={"verify_aud": False, "require": ["exp", "iss"]})
    except jwt.PyJWTError as exc:
        log.warning("sidebar JWT refused: %s", type(exc).__name__)
        return None
    return account, claims


def require_agent(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        account, claims = None, None
        if token.startswith(accounts.KEY_PREFIX):
            account = accounts.account_for_api_key(db.session(), token)
        elif token.count(".") == 2 and (verified := _verified_jwt(token)) is not None:
            account, claims = verified
        if account is None:
            log.warning("sidebar request refused on %s from %s: bad or missing credential", request.path,
                        request.remote_addr)
            return jsonify(error="check the Switchboard app's token setting: this request carried no valid "
                                 "account key or Zendesk signed token"), 401
        g.account = account
        g.agent = _agent(claims)
        return view(*args, **kwargs)

    return wrapper


@blueprint.post("/dashboard-session")
@require_agent
def dashboard_session() -> ResponseReturnValue:
    """A one-minute code the app posts to /dashboard/login in a new window, so an agent
    or supervisor opens the dashboard from the sidebar without typing a key."""
    return jsonify(code=issue_code(g.account, current_agent().actor), expires_in=CODE_SECONDS,
                   login_path="/dashboard/login")


@blueprint.get("/tickets/<int:ticket_id>")
@require_agent
def ticket(ticket_id: int) -> ResponseReturnValue:
    session = db.session()
    account: Account = g.account
    conversation = conversation_for_ticket(session, account.id, ticket_id)
    suggestions = session.scalars(select(Suggestion).where(
        Suggestion.account_id == account.id, Suggestion.zendesk_ticket_id == ticket_id,
        Suggestion.status.in_(["ready", "inserted"])).order_by(Suggestion.rank, Suggestion.id)).all()
    if conversation is None and not suggestions:
        log.info("sidebar: ticket %s is unknown to account %s", ticket_id, account.slug)
        abort(404, f"Switchboard has no context for ticket {ticket_id}")
    view: dict[str, Any] = {"ticket_id": ticket_id, "customer": None, "handoff": None, "timeline": [],
                            "enrichment": {"intent": None, "intent_confidence": 0.0, "sentiment": None,
                                           "sentiment_label": None, "trend": None},
                            "suggestions": [{"id": s.id, "engine": s.engine, "text": s.text,
                                             "sources": [{"title": src.get("title"), "url": src.get("url")}
                                                         for src in s.sources]} for s in suggestions],
                            "actions": []}
    if conversation is not None:
        customer = session.get(Customer, conversation.customer_id)
        assert customer is not None
        messages = list(session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                        .order_by(Message.id)))
        from_customer = [m for m in messages if m.author == "customer"]
        enrichments = [m.meta["enrichment"] for m in from_customer if m.meta.get("enrichment")]
        latest = next((e for e in reversed(enrichments) if e.get("intent")), enrichments[-1] if enrichments else {})
        identities: dict[str, list[str]] = {"phone": [], "whatsapp": [], "email": []}
        for identity in customer.identities:
            identities.setdefault(identity.kind.value, []).append(identity.value)
        identities.pop("zendesk_user", None)
        language = i18n.conversation_language(session, conversation.id, customer.locale)
        view["customer"] = {"name": customer.display_name, "tier": customer.tier, "identities": identities,
                            "channels": sorted({m.channel for m in messages}),
                            "language": {"code": language, "name": translation.language_name(language)}}
        view["handoff"] = {"trigger": conversation.handoff_reason, "detail": None,
                           "summary": summarise(from_customer)} if conversation.handoff_reason else None
        # The customer's other recent conversations (their SMS thread beside this web
        # chat, once a visitor proved their number) are part of what the agent reads.
        shown = timeline.with_related(session, conversation, messages, limit=PACKAGE_MESSAGES)
        view["customer"]["channels"] = sorted({m.channel for m in shown})
        view["timeline"] = [{"at": m.created_at.isoformat(), "channel": m.channel, "author": m.author,
                             "body": m.body, "translation": (m.meta.get("translation") or {}).get("text"),
                             "conversation_id": m.conversation_id}
                            for m in shown]
        view["enrichment"] = {"intent": latest.get("intent"), "intent_confidence": latest.get("intent_confidence", 0.0),
                              "sentiment": latest.get("sentiment"), "sentiment_label": latest.get("sentiment_label"),
                              "trend": sentiment_trend([e["sentiment"] for e in enrichments]) if enrichments else None}
        view["actions"] = assist.actions_for(latest.get("intent"))
        view["call"] = live_card(session, current_app.config["SETTINGS"], conversation)
        view["disposition"] = wrapup.latest_disposition(session, g.account, current_app.config["SETTINGS"],
                                                        conversation)
        metrics.package_opened(session, conversation, current_agent().actor)
        session.commit()
    return jsonify(view)


@blueprint.post("/suggestions/<int:suggestion_id>/feedback")
@require_agent
def feedback(suggestion_id: int) -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("rating") not in ("up", "down"):
        raise MalformedPayload('send JSON like {"rating": "up"} or {"rating": "down", "reason": "outdated"}')
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MalformedPayload("reason must be a string")
    session, agent = db.session(), current_agent()
    try:
        assist.record_rating(session, g.account.id, suggestion_id, agent=agent.actor, rating=body["rating"],
                             reason=reason, settings=current_app.config["SETTINGS"],
                             agent_detail=agent.audit_detail())
    except assist.UnknownSuggestion as exc:
        abort(404, str(exc))
    session.commit()
    return "", 204


@blueprint.post("/suggestions/<int:suggestion_id>/inserted")
@require_agent
def inserted(suggestion_id: int) -> ResponseReturnValue:
    session, agent = db.session(), current_agent()
    try:
        assist.record_inserted(session, g.account.id, suggestion_id, agent=agent.actor,
                               settings=current_app.config["SETTINGS"], agent_detail=agent.audit_detail())
    except assist.UnknownSuggestion as exc:
        abort(404, str(exc))
    used = session.get(Suggestion, suggestion_id)
    metrics.suggestion_used(session, g.account.id, used.conversation_id if used else None, suggestion_id,
                            agent.actor)
    session.commit()
    return "", 204


def ticket_conversation(ticket_id: int) -> Conversation:
    """The conversation behind the signed-in account's ticket; 404 when Switchboard has
    none (the sidebar shows its cards only on Switchboard's tickets)."""
    conversation = conversation_for_ticket(db.session(), g.account.id, ticket_id)
    if conversation is None:
        abort(404, f"Switchboard has no conversation for ticket {ticket_id}")
    return conversation


@blueprint.post("/tickets/<int:ticket_id>/reply-translation")
@require_agent
def reply_translation(ticket_id: int) -> ResponseReturnValue:
    """The agent's reply in the customer's language, to read and approve (insert) before
    sending; audited (core/texts/translation.py)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise MalformedPayload('send JSON like {"text": "your reply in English"}')
    session, account = db.session(), g.account
    conversation = ticket_conversation(ticket_id)
    customer = session.get(Customer, conversation.customer_id)
    language = i18n.conversation_language(session, conversation.id, customer.locale if customer else None)
    try:
        result = translation.translate_agent_reply(session, account, current_app.config["SETTINGS"],
                                                   language=language, text=body["text"].strip()[:2000],
                                                   ticket_id=ticket_id, actor=current_agent().actor)
    except translation.TranslationUnavailable as exc:
        abort(409, str(exc))
    except (ports.VendorError, ports.VendorUnavailable) as exc:
        abort(503, f"the language model did not answer ({exc}); try again, or reply in English")
    session.commit()
    return jsonify({"language": language, "translation": result.text, "model": result.model})


@blueprint.post("/tickets/<int:ticket_id>/draft-check")
@require_agent
def draft_check(ticket_id: int) -> ResponseReturnValue:
    """The agent's draft against the guardrails (risky promises, disclaimers the ticket's
    intent needs, the style card) before they send it: each finding with its words and a
    fix. Audited without the draft's words (they may carry the customer's details)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise MalformedPayload('send JSON like {"text": "your reply as written"}')
    session, account = db.session(), g.account
    conversation = ticket_conversation(ticket_id)
    latest = session.scalars(select(Message).where(Message.conversation_id == conversation.id,
                                                   Message.author == "customer").order_by(Message.id.desc())
                             .limit(PACKAGE_MESSAGES)).all()
    intent = next((m.meta["enrichment"].get("intent") for m in latest
                   if (m.meta.get("enrichment") or {}).get("intent")), None)
    findings = check_reply(current_app.config["SETTINGS"], body["text"][:4000], intent, account=account)
    agent = current_agent()
    audit(session, account_id=account.id, actor=agent.actor, action="quality.draft_checked",
          subject_type="ticket", subject_id=ticket_id,
          detail={"flagged": bool(findings), "rules": [f"{f.guardrail}.{f.rule}" for f in findings],
                  "intent": intent, **({"agent": agent.audit_detail()} if agent.user_id else {})})
    session.commit()
    return jsonify({"flagged": bool(findings), "intent": intent, "findings": [f.as_json() for f in findings]})


@blueprint.post("/tickets/<int:ticket_id>/disposition")
@require_agent
def correct_disposition(ticket_id: int) -> ResponseReturnValue:
    """The agent's correction of the ticket's wrap-up code: written to the ticket and
    learned from (core/quality/wrapup.py)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"].strip():
        raise MalformedPayload('send JSON like {"code": "returns_refunds"}')
    session, account = db.session(), g.account
    conversation = ticket_conversation(ticket_id)
    try:
        score = wrapup.correct(session, account, current_app.config["SETTINGS"], conversation,
                               code=body["code"].strip(), agent=current_agent().actor)
    except wrapup.UnknownDisposition as exc:
        abort(409, str(exc))
    session.commit()
    return jsonify({"disposition": score.disposition, "corrected_by": score.corrected_by,
                    "confidence": score.disposition_confidence})


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

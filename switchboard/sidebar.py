"""/api/sidebar: what the Zendesk sidebar app shows, and the agent's verdicts.

Requests arrive through Zendesk's proxy carrying the account's key (the app's secure
`token` setting, which never reaches the browser), or a Zendesk signed-URL JWT that is
verified with the app's public key. Either way the account is the one the credential
belongs to, and only that account's tickets are answered; anything else is refused
and logged.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from switchboard import db
from switchboard.core import accounts, assist, metrics
from switchboard.core.enrichment import sentiment_trend
from switchboard.core.handoff import conversation_for_ticket, summarise
from switchboard.errors import MalformedPayload
from switchboard.models import Account, Customer, Message, Suggestion

log = logging.getLogger(__name__)
blueprint = Blueprint("sidebar", __name__, url_prefix="/api/sidebar")


def _account_for_jwt(token: str) -> Account | None:
    """A Zendesk signed-URL token (RS256), verified with the public key configured for
    the account whose subdomain issued it."""
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
    key = (settings.zendesk_app_public_key if account.slug == accounts.DEFAULT_SLUG
           else (account.secrets or {}).get("zendesk_app_public_key"))
    if not key:
        return None
    try:
        jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                   options={"verify_aud": False, "require": ["exp", "iss"]})
    except jwt.PyJWTError as exc:
        log.warning("sidebar JWT refused: %s", type(exc).__name__)
        return None
    return account


def require_agent(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        account = None
        if token.startswith(accounts.KEY_PREFIX):
            account = accounts.account_for_api_key(db.session(), token)
        elif token.count(".") == 2:
            account = _account_for_jwt(token)
        if account is None:
            log.warning("sidebar request refused on %s from %s: bad or missing credential", request.path,
                        request.remote_addr)
            return jsonify(error="check the Switchboard app's token setting: this request carried no valid "
                                 "account key or Zendesk signed token"), 401
        g.account = account
        g.agent = request.headers.get("X-Zendesk-Agent") or request.headers.get("X-Agent") or "agent"
        return view(*args, **kwargs)

    return wrapper


@blueprint.post("/dashboard-session")
@require_agent
def dashboard_session() -> ResponseReturnValue:
    """A one-minute code the app posts to /dashboard/login in a new window, so an agent
    or supervisor opens the dashboard from the sidebar without typing a key."""
    from switchboard.dashboard import CODE_SECONDS, issue_code

    return jsonify(code=issue_code(g.account, g.agent), expires_in=CODE_SECONDS, login_path="/dashboard/login")


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
        view["customer"] = {"name": customer.display_name, "tier": customer.tier, "identities": identities,
                            "channels": sorted({m.channel for m in messages})}
        view["handoff"] = {"trigger": conversation.handoff_reason, "detail": None,
                           "summary": summarise(from_customer)} if conversation.handoff_reason else None
        view["timeline"] = [{"at": m.created_at.isoformat(), "channel": m.channel, "author": m.author,
                             "body": m.body} for m in messages]
        view["enrichment"] = {"intent": latest.get("intent"), "intent_confidence": latest.get("intent_confidence", 0.0),
                              "sentiment": latest.get("sentiment"), "sentiment_label": latest.get("sentiment_label"),
                              "trend": sentiment_trend([e["sentiment"] for e in enrichments]) if enrichments else None}
        view["actions"] = assist.actions_for(latest.get("intent"))
        metrics.package_opened(session, conversation, g.agent)
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
    session = db.session()
    try:
        assist.record_rating(session, g.account.id, suggestion_id, agent=g.agent, rating=body["rating"],
                             reason=reason)
    except assist.UnknownSuggestion as exc:
        abort(404, str(exc))
    session.commit()
    return "", 204


@blueprint.post("/suggestions/<int:suggestion_id>/inserted")
@require_agent
def inserted(suggestion_id: int) -> ResponseReturnValue:
    session = db.session()
    try:
        assist.record_inserted(session, g.account.id, suggestion_id, agent=g.agent)
    except assist.UnknownSuggestion as exc:
        abort(404, str(exc))
    used = session.get(Suggestion, suggestion_id)
    metrics.suggestion_used(session, g.account.id, used.conversation_id if used else None, suggestion_id, g.agent)
    session.commit()
    return "", 204


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

"""Play the customer without a phone: the playground page and `switchboard chat`.

A simulated message takes the real path (inbox → processing → self-service → Twilio
connector) with a sandboxed Twilio, so what you see is what a customer would get.
It is served only when Twilio is sandboxed for the default account, and only to
requests from this machine, so it can never text a real person or expose a real
conversation.
"""
from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard import tasks
from switchboard.core import accounts
from switchboard.core.actions.config import load_actions_config
from switchboard.core.customers import identity
from switchboard.core.errors import MalformedPayload
from switchboard.core.helpdesk.handoff import Handoff, build_package
from switchboard.core.helpdesk.routing import Route
from switchboard.core.settings import Settings
from switchboard.core.store import inbox
from switchboard.core.store.models import Account, Conversation, Customer, IdentityKind, Message, OutboxCall
from switchboard.intake import db
from switchboard.wiring import MESSAGING_VENDORS, sandboxed_vendors

blueprint = Blueprint("playground", __name__)
DEFAULT_PHONE = "+15550100001"


def enabled(account: Account, settings: Settings) -> bool:
    return "twilio" in sandboxed_vendors(account, settings)


def simulate(session: Session, settings: Settings, *, text: str, phone: str = DEFAULT_PHONE,
             channel: str = "sms") -> dict[str, Any]:
    """Deliver ``text`` as if Twilio had, process it now, and return the conversation."""
    account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
    assert account is not None
    if channel not in ("sms", "whatsapp"):
        raise MalformedPayload("channel must be 'sms' or 'whatsapp'")
    e164 = identity.to_e164(phone)
    to = account.twilio_whatsapp_number if channel == "whatsapp" else account.twilio_phone_number
    sid = "SM" + uuid.uuid4().hex
    form = {"MessageSid": sid, "AccountSid": account.twilio_account_sid or "AC" + "0" * 32,
            "From": f"whatsapp:{e164}" if channel == "whatsapp" else e164,
            "To": to or "+15005550006", "Body": text[:1600], "NumMedia": "0"}
    if channel == "whatsapp":
        form.update(WaId=e164.lstrip("+"), ProfileName="Playground customer")
    event, _ = inbox.record(session, account_id=account.id, vendor="twilio", kind="twilio.message",
                            dedupe_key=sid, payload=form)
    inbox.process(session, event.id, tasks.handlers())
    return conversation_view(session, settings, account.id, e164)


#: Twilio's default Advanced Opt-Out answers, which the customer gets from Twilio, not us.
CARRIER_REPLIES = {
    "opt_out": "You have successfully been unsubscribed. You will not receive any more messages from this "
               "number. Reply START to resubscribe.",
    "opt_in": "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
              "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


def conversation_view(session: Session, settings: Settings, account_id: int, e164: str) -> dict[str, Any]:
    found = identity.find_identity(session, account_id, IdentityKind.PHONE, e164)
    if found is None:
        return {"conversation": None, "messages": []}
    conversation = session.scalar(select(Conversation).where(Conversation.customer_id == found.customer_id)
                                  .order_by(Conversation.id.desc()).limit(1))
    if conversation is None:
        return {"conversation": None, "messages": []}
    messages = session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                               .order_by(Message.id)).all()
    customer = session.get(Customer, conversation.customer_id)
    package = None
    if conversation.handoff_reason:
        assert customer is not None
        package = build_package(session, conversation, customer,
                                Handoff(conversation.handoff_reason, "", Route(None, "normal", ())),
                                references=load_actions_config(settings.actions_file).references)
    # (when, order among equals, the row): a carrier's answer sorts just after the message it answers.
    rows: list[tuple[datetime, float, dict[str, Any]]] = [
        (m.created_at, m.id, {"id": m.id, "author": m.author, "direction": m.direction,
                              "channel": m.channel, "body": m.body,
                              "action": m.meta.get("action"), "reason": m.meta.get("reason"),
                              "sources": m.meta.get("sources", []), "redactions": m.meta.get("redactions", {}),
                              "enrichment": m.meta.get("enrichment")}) for m in messages]
    for m in messages:  # what Twilio itself answers to STOP/START, which we never send
        if m.meta.get("consent") in CARRIER_REPLIES:
            rows.append((m.created_at, m.id + 0.5, {
                "id": f"carrier-{m.id}", "author": "carrier", "direction": "outbound", "channel": m.channel,
                "body": CARRIER_REPLIES[m.meta["consent"]], "action": "sent by Twilio",
                "reason": "Advanced Opt-Out answers STOP and START itself", "sources": [], "redactions": {},
                "enrichment": None}))
    on_timeline = {m.body for m in messages if m.direction == "outbound"}
    for call in texts_to(session, account_id, e164, since=conversation.started_at):
        body = str(call.payload.get("body") or "")
        if body and body not in on_timeline:
            rows.append((call.created_at, call.id, {
                "id": f"text-{call.id}", "author": "text", "direction": "outbound", "channel": _channel(call),
                "body": body,
                "action": "sandboxed text", "reason": "not kept on the timeline", "sources": [],
                "redactions": {}, "enrichment": None}))
    return {
        "conversation": {"id": conversation.id, "status": conversation.status,
                         "opted_out": customer is not None and customer.opted_out_at is not None,
                         "handoff_reason": conversation.handoff_reason, "channel": conversation.channel,
                         "zendesk_ticket_id": conversation.zendesk_ticket_id, "handoff_package": package},
        # Texts the sandbox recorded for this customer that are not on the conversation's
        # timeline (a one-time code is never stored there) show where they were sent.
        "messages": [row for _, _, row in sorted(rows, key=lambda r: (_utc(r[0]), r[1]))],
    }


def texts_to(session: Session, account_id: int, e164: str, *, since: datetime) -> list[OutboxCall]:
    """Sandboxed Twilio sends to this number (SMS or WhatsApp) since ``since``."""
    calls = session.scalars(select(OutboxCall).where(
        OutboxCall.account_id == account_id, OutboxCall.vendor == "twilio", OutboxCall.status == "sandboxed",
        OutboxCall.operation == "messages.create", OutboxCall.created_at >= since).order_by(OutboxCall.id))
    return [c for c in calls if str(c.payload.get("to") or "").removeprefix("whatsapp:") == e164]


def _channel(call: OutboxCall) -> str:
    return "whatsapp" if str(call.payload.get("to") or "").startswith("whatsapp:") else "sms"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _local_only() -> None:
    """Served only when asked for or in sandbox mode (Settings.playground), only while
    Twilio is sandboxed, and only to this machine: ``remote_addr`` is the client's own
    address only behind proxies counted in SWITCHBOARD_TRUSTED_PROXIES; behind a proxy on
    this host that is not counted, every request looks local, which is why outside
    sandbox mode an operator must opt in."""
    settings: Settings = current_app.config["SETTINGS"]
    session = db.session()
    account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
    reason = off_reason(account, settings) if account is not None else "the playground is off: no default account"
    if reason:
        abort(404, reason)
    address = request.remote_addr or ""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(403, "the playground is only served to this machine (behind a reverse proxy, set "
                   "SWITCHBOARD_TRUSTED_PROXIES to the number of proxies)")


def off_reason(account: Account, settings: Settings) -> str | None:
    """Why /playground is not served (None: it is, to this machine), in the words the
    404 and `switchboard serve` use."""
    if settings.playground is False:
        return "the playground is off (SWITCHBOARD_PLAYGROUND=0)"
    if not enabled(account, settings):
        return "the playground is off because Twilio is live: it never texts real customers"
    if settings.playground is None and not sandbox_mode(account, settings):
        return ("the playground is off because Zendesk or Slack are live (its made-up customers would reach your "
                "agents): set SWITCHBOARD_PLAYGROUND=1 to serve it to this machine anyway")
    return None


def sandbox_mode(account: Account, settings: Settings) -> bool:
    """No vendor live for ``account``: everything it would send is recorded instead."""
    return sandboxed_vendors(account, settings) >= {cls.vendor for cls in MESSAGING_VENDORS}


@blueprint.get("/playground")
def page() -> ResponseReturnValue:
    _local_only()
    return render_template("playground.html", default_phone=DEFAULT_PHONE)


@blueprint.post("/playground/messages")
def post_message() -> ResponseReturnValue:
    _local_only()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
        raise MalformedPayload("send JSON like {\"text\": \"where is my order?\", \"channel\": \"sms\"}")
    try:
        view = simulate(db.session(), current_app.config["SETTINGS"], text=body["text"],
                        phone=str(body.get("phone") or DEFAULT_PHONE), channel=str(body.get("channel") or "sms"))
    except identity.InvalidAddress as exc:
        raise MalformedPayload(f"phone: {exc}") from None
    return jsonify(view)


@blueprint.get("/playground/conversation")
def get_conversation() -> ResponseReturnValue:
    _local_only()
    session = db.session()
    account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
    assert account is not None
    try:
        e164 = identity.to_e164(request.args.get("phone") or DEFAULT_PHONE)
    except identity.InvalidAddress as exc:
        raise MalformedPayload(f"phone: {exc}") from None
    return jsonify(conversation_view(session, current_app.config["SETTINGS"], account.id, e164))


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

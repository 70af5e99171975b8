"""What each kind of inbox event does once it is processed.

A dispatch table of small functions, one per event kind; an unknown kind is an error
named in the event row, not a silent drop.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.models import Account, Conversation, Customer, InboxEvent, Message

from . import assist as assist_core
from . import handoff, identity, slack_interactions, tickets, timeline
from .audit import audit
from .inbox import Handler
from .redaction import redact
from .replies import Inbound, handle_inbound


def twilio_message(session: Session, event: InboxEvent, settings: Settings) -> None:
    """An inbound SMS/WhatsApp message joins its customer's timeline, redacted, and
    self-service answers it (or hands it to a person)."""
    form = event.payload
    address = identity.parse_twilio_address(form["From"])
    customer = identity.resolve_customer(
        session, event.account_id, address,
        wa_id=form.get("WaId"), profile_name=form.get("ProfileName"),
    )
    rated = tickets.pending_csat(session, customer, form.get("Body", ""))
    conversation = rated or timeline.current_conversation(session, customer, address.channel)
    # National-format numbers ("020 7946 0958") are only recognisable with a region: the
    # sender's own is the best guess for the numbers they write; the company's country
    # (SWITCHBOARD_COUNTRY, else the region of our number they wrote to) is searched too,
    # so a number is redacted even from a sender whose region says nothing.
    redacted = redact(form.get("Body", ""), default_region=identity.region_of(address.e164),
                      also_regions=(identity.company_region(settings, form.get("To")),))
    media = [form[f"MediaUrl{i}"] for i in range(int(form.get("NumMedia") or 0)) if f"MediaUrl{i}" in form]
    timeline.append(
        session, conversation, direction="inbound", channel=address.channel, author="customer",
        body=redacted.text, external_id=form["MessageSid"], status="received",
        meta={"redactions": redacted.kinds, "media": media, "inbox_event_id": event.id},
    )
    # The raw delivery was kept only until it was processed: keep the redacted text.
    event.payload = {**form, "Body": redacted.text}
    account = session.get(Account, event.account_id)
    assert account is not None
    message = session.scalar(select(Message).where(
        Message.account_id == event.account_id, Message.external_id == form["MessageSid"]))
    assert message is not None
    if rated is not None:
        tickets.record_csat(session, account, settings, rated, message)
        return
    handle_inbound(session, Inbound(account, customer, conversation, message), settings)


def twilio_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    """A delivery status callback moves our outbound message forward, never back."""
    form = event.payload
    _outreach_status(session, event, settings)
    message = session.scalar(
        select(Message).where(
            Message.account_id == event.account_id, Message.external_id == form["MessageSid"]
        )
    )
    if message is None:
        return  # a message we did not send from this deployment (e.g. from the console)
    if timeline.advance_status(message, form["MessageStatus"]):
        if form.get("ErrorCode"):
            message.meta = {**message.meta, "error_code": form["ErrorCode"]}
    if form.get("ErrorCode") == OPTED_OUT_ERROR:
        _mark_opted_out(session, message)


OPTED_OUT_ERROR = "21610"


def _outreach_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    """A campaign recipient's status follows its message's (issue 6)."""
    from .outreach.sending import on_status

    account = session.get(Account, event.account_id)
    assert account is not None
    on_status(session, account, settings, sid=event.payload["MessageSid"], status=event.payload["MessageStatus"],
              error_code=event.payload.get("ErrorCode"))


def _mark_opted_out(session: Session, message: Message) -> None:
    """Twilio says the number opted out: record it so nothing is sent there again."""
    conversation = session.get(Conversation, message.conversation_id)
    customer = session.get(Customer, conversation.customer_id) if conversation else None
    if customer is not None and customer.opted_out_at is None:
        customer.opted_out_at = datetime.now(UTC)
        audit(session, account_id=customer.account_id, actor="twilio", action="consent.opt_out",
              subject_type="customer", subject_id=customer.id, detail={"error_code": OPTED_OUT_ERROR})


def zendesk_comment_added(session: Session, event: InboxEvent, settings: Settings) -> None:
    """An agent's public reply goes to the customer; internal notes never do."""
    ticket_id = int(event.payload["detail"]["id"])
    comment = event.payload.get("event", {}).get("comment") or {}
    author = comment.get("author") or {}
    reply = handoff.AgentReply(
        ticket_id=ticket_id, comment_id=str(comment.get("id") or event.dedupe_key),
        body=str(comment.get("body") or ""), public=bool(comment.get("is_public")),
        author_id=str(author["id"]) if author.get("id") is not None else None,
        author_is_staff=bool(author.get("is_staff")))
    account = session.get(Account, event.account_id)
    assert account is not None
    outcome = handoff.deliver_agent_reply(session, account, reply, settings)
    if outcome == "delivered":
        assist_core.record_sent_reply(session, account.id, ticket_id, agent=f"zendesk:{reply.author_id}",
                                      sent=reply.body)
    elif outcome in ("from_customer", "unknown_ticket") and reply.public and not reply.author_is_staff:
        tickets.on_ticket_changed(session, account, settings, ticket_id=ticket_id, text=reply.body,
                                  write_back=True)
    audit(session, account_id=event.account_id, actor=f"zendesk:{reply.author_id}", action="zendesk.comment",
          subject_type="ticket", subject_id=ticket_id, detail={"outcome": outcome, "comment_id": reply.comment_id})


def zendesk_status_changed(session: Session, event: InboxEvent, settings: Settings) -> None:
    """Solved closes the conversation; solved back to open (an agent reopening the
    ticket, or the customer answering a solved ticket) is recorded as a reopen."""
    from . import metrics

    change = event.payload.get("event") or {}
    current = str(change.get("current") or event.payload["detail"].get("status", "")).lower()
    previous = str(change.get("previous") or "").lower()
    account = session.get(Account, event.account_id)
    assert account is not None
    ticket_id = int(event.payload["detail"]["id"])
    if current in ("solved", "closed"):
        if handoff.close_solved(session, account, ticket_id):
            tickets.after_solved(session, account, settings, ticket_id=ticket_id)
    elif previous == "solved" and current in ("new", "open", "pending", "hold"):
        conversation = handoff.conversation_for_ticket(session, account.id, ticket_id)
        if conversation is None:
            return
        try:  # when Zendesk says it happened, else now
            at = datetime.fromisoformat(str(event.payload.get("time") or "").replace("Z", "+00:00"))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
        except ValueError:
            at = datetime.now(UTC)
        metrics.ticket_reopened(session, conversation, at=at, dedupe_key=f"reopened:{conversation.id}:{event.id}")


def zendesk_ticket_created(session: Session, event: InboxEvent, settings: Settings) -> None:
    """A new ticket (ours from a handoff, or from any channel): enrich it and have
    suggestions ready before an agent opens it."""
    detail = event.payload["detail"]
    account = session.get(Account, event.account_id)
    assert account is not None
    text = f"{detail.get('subject') or ''}\n{detail.get('description') or ''}".strip()
    tickets.on_ticket_changed(session, account, settings, ticket_id=int(detail["id"]), text=text, write_back=True)
    from .outreach.triggers import from_zendesk_ticket

    from_zendesk_ticket(session, account, settings, detail)  # incident tickets start outreach (issue 6)


def zendesk_tags_changed(session: Session, event: InboxEvent, settings: Settings) -> None:
    """An incident/outage tag added after creation starts outreach too (issue 6)."""
    from .outreach.triggers import from_zendesk_ticket

    account = session.get(Account, event.account_id)
    assert account is not None
    detail = dict(event.payload["detail"])
    current = (event.payload.get("event") or {}).get("current")
    if isinstance(current, list):
        detail["tags"] = current
    from_zendesk_ticket(session, account, settings, detail)


def recorded_only(session: Session, event: InboxEvent, settings: Settings) -> None:
    """Zendesk and Slack events the foundation keeps in the audit trail; the handoff,
    agent-assist and outreach capabilities register richer handlers for their kinds."""
    audit(
        session, account_id=event.account_id, actor=event.vendor, action="webhook.received",
        subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind},
    )


VendorHandler = Callable[[Session, InboxEvent, Settings], None]

HANDLERS: dict[str, VendorHandler] = {
    "twilio.message": twilio_message,
    "twilio.status": twilio_status,
    "zendesk.ticket.comment_added": zendesk_comment_added,
    "zendesk.ticket.status_changed": zendesk_status_changed,
    "zendesk.ticket.created": zendesk_ticket_created,
    "zendesk.ticket.tags_changed": zendesk_tags_changed,
    "slack.block_actions": slack_interactions.block_actions,
    "slack.view_submission": slack_interactions.view_submission,
}


def handler_for(kind: str) -> VendorHandler | None:
    if kind in HANDLERS:
        return HANDLERS[kind]
    if kind.startswith(("zendesk.", "slack.")):
        return recorded_only
    return None


class Registry(Mapping[str, Handler]):
    """The handlers bound to the running service's settings, as inbox.process expects."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __getitem__(self, kind: str) -> Handler:
        handler = handler_for(kind)
        if handler is None:
            raise KeyError(kind)
        return partial(handler, settings=self.settings)

    def __iter__(self) -> Iterator[str]:
        return iter(HANDLERS)

    def __len__(self) -> int:
        return len(HANDLERS)

"""Data-subject requests and retention: erase a customer, export their data, purge old data.

Erasure works in three passes. The first knows the tables that hold a customer's data
(identities, the timeline, the vault, outreach rows, suggestions, governed actions)
and clears them by their links. The second erases whole the records that carry their
words without a customer column to say so: vendor calls and webhook deliveries linked
by an address, their ticket or helpdesk user, or one of their ids in the idempotency
key (core/customer_data/footprint.py), and audit entries about them, whose detail becomes a
tombstone (the one change the append-only audit log accepts). The third does not
trust either: it walks every text and JSON column of every account-scoped table (from
the models' metadata) and scrubs whatever still contains one of the customer's
identifiers or their words, so a column added later that copies them is erased too.
Aggregates (conversation outcomes, metric events, counts) stay, and one audit entry
records that it happened, with counts only.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, String, Text, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from switchboard.core import accounts
from switchboard.core.customer_data.footprint import Footprint
from switchboard.core.customers.identity import InvalidAddress, to_e164
from switchboard.core.knowledge import phrasings
from switchboard.core.pii.vault import Vault
from switchboard.core.quality.erasure import forget_conversations
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Account,
    ActionExecution,
    AuditEntry,
    Base,
    Conversation,
    Customer,
    CustomerVerification,
    Identity,
    IdentityKind,
    InboxEvent,
    Message,
    OutboxCall,
    OutreachRecipient,
    Suggestion,
    SuggestionFeedback,
    VaultEntry,
    WebVisitor,
)

ERASED = "[erased]"
PURGED = "[purged]"
PURGED_PAYLOAD = {"purged": True}
#: Words shorter than this are not searched for in other tables ("ok", "yes"): they
#: identify nobody.
MIN_NEEDLE = 6
#: Tables the generic pass never rewrites: they hold no customer's data (the audit log's
#: entries about the customer are tombstoned instead, _erase_audit_details).
_NOT_SCRUBBED = {"audit_log", "accounts", "api_keys", "kb_articles", "artifacts", "sync_state"}
#: Vendor records, erased whole when they are the customer's (_erase_calls, _erase_events).
_ERASED_WHOLE = {"outbox_calls", "inbox_events"}
ERASED_PAYLOAD = {"erased": True}


class UnknownCustomer(LookupError):
    """No customer of the account has that phone, WhatsApp number, email or id."""


def _rows(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return int(cast("CursorResult[Any]", session.execute(statement)).rowcount)


def find_customer(session: Session, account_id: int, identity: str) -> Customer:
    """A customer by phone (any format with a country code), email, Zendesk user or
    ``customer:<id>``."""
    raw = identity.strip()
    if raw.startswith("customer:") and raw[9:].isdigit():
        customer = session.get(Customer, int(raw[9:]))
        if customer is not None and customer.account_id == account_id:
            return customer
        raise UnknownCustomer(f"no customer {raw} in this account")
    values = {raw, raw.lower()}
    try:
        values.add(to_e164(raw.removeprefix("whatsapp:")))
    except InvalidAddress:
        pass
    found = session.scalar(select(Identity).where(Identity.account_id == account_id, Identity.value.in_(values))
                           .limit(1))
    if found is None:
        raise UnknownCustomer(f"no customer with the identity {raw!r} in this account; give a phone number with its "
                              "country code (+44…), an email, or customer:<id>")
    return found.customer


# --- export -----------------------------------------------------------------------------


def export(session: Session, account: Account, customer: Customer, vault: Vault, *, actor: str) -> dict[str, Any]:
    """Everything stored about the customer (data-subject access), the vaulted values
    decrypted; the audit keeps that an export was made, not what it held."""
    conversations = session.scalars(select(Conversation).where(Conversation.customer_id == customer.id)
                                    .order_by(Conversation.id)).all()
    vaulted = session.scalars(select(VaultEntry).where(VaultEntry.customer_id == customer.id)
                              .order_by(VaultEntry.id)).all()
    actions = session.scalars(select(ActionExecution).where(ActionExecution.customer_id == customer.id)
                              .order_by(ActionExecution.id)).all()
    outreach = session.scalars(select(OutreachRecipient).where(OutreachRecipient.customer_id == customer.id)
                               .order_by(OutreachRecipient.id)).all()
    data = {
        "customer": {"id": customer.id, "name": customer.display_name, "tier": customer.tier,
                     "locale": customer.locale, "timezone": customer.timezone, "attributes": customer.attributes,
                     "opted_out_at": _iso(customer.opted_out_at), "created_at": _iso(customer.created_at)},
        "identities": [{"kind": i.kind.value, "value": i.value} for i in customer.identities],
        "conversations": [
            {"id": c.id, "channel": c.channel, "status": c.status, "zendesk_ticket_id": c.zendesk_ticket_id,
             "started_at": _iso(c.started_at), "csat_score": c.csat_score,
             "messages": [{"at": _iso(m.created_at), "direction": m.direction, "channel": m.channel,
                           "author": m.author, "body": m.body} for m in c.messages]}
            for c in conversations],
        "vault": [{"conversation_id": v.conversation_id, "token": v.token, "kind": v.kind,
                   "value": vault.open(v.sealed), "at": _iso(v.created_at)} for v in vaulted],
        "governed_actions": [{"id": a.id, "action": a.action, "status": a.status, "params": a.params,
                              "result": a.result, "at": _iso(a.created_at)} for a in actions],
        "outreach": [{"campaign_id": r.campaign_id, "phone": r.phone, "status": r.status,
                      "channel": r.channel} for r in outreach],
    }
    audit(session, account_id=account.id, actor=actor, action="privacy.exported", subject_type="customer",
          subject_id=customer.id, detail={"conversations": len(conversations), "vaulted": len(vaulted)})
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- erase ------------------------------------------------------------------------------


@dataclass
class Erased:
    """What an erasure changed, by table (counts only: what the audit keeps)."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        if count:
            self.rows[table] = self.rows.get(table, 0) + count


def erase(session: Session, account: Account, customer: Customer, vault: Vault, *, actor: str) -> Erased:
    """Remove the customer's personal data everywhere it is stored, in the caller's
    transaction; aggregates and the customer row (its id, tier) stay for the metrics."""
    erased = Erased()
    identifiers, words = _needles(session, customer, vault)
    footprint = Footprint.of(session, account.id, customer)  # before the identities go
    conversation_ids, ticket_ids = sorted(footprint.conversations), sorted(footprint.tickets)
    if conversation_ids:
        erased.add("messages", _rows(session, update(Message).where(Message.conversation_id.in_(conversation_ids))
                                     .values(body=ERASED, meta={"erased": True})))
    erased.add("vault_entries", _rows(session, delete(VaultEntry).where(VaultEntry.customer_id == customer.id)))
    for table, count in phrasings.forget_customer(session, account.id, customer.id).items():
        erased.add(table, count)  # what the bot learned from their questions
    erased.add("conversation_scores", forget_conversations(session, account.id, conversation_ids))
    suggestions = select(Suggestion.id).where(Suggestion.account_id == account.id, or_(
        Suggestion.conversation_id.in_(conversation_ids), Suggestion.zendesk_ticket_id.in_(ticket_ids)))
    erased.add("suggestion_feedback", _rows(session, update(SuggestionFeedback).where(
        SuggestionFeedback.suggestion_id.in_(suggestions)).values(sent_text=None, reason=None)))
    erased.add("suggestions", _rows(session, update(Suggestion).where(Suggestion.id.in_(suggestions))
                                    .values(query=ERASED, text=ERASED)))
    erased.add("action_executions", _rows(session, update(ActionExecution).where(
        ActionExecution.id.in_(sorted(footprint.executions))).values(params={"erased": True}, facts={},
                                                                     result=None, error=None)))
    erased.add("customer_verifications", _rows(session, delete(CustomerVerification).where(
        CustomerVerification.customer_id == customer.id)))
    erased.add("outreach_recipients", _rows(session, update(OutreachRecipient).where(
        OutreachRecipient.customer_id == customer.id).values(phone="", reason="erased on request",
                                                             status="skipped")))
    # A web chat visitor's token stops resuming anything: the visitor is gone with its id.
    erased.add("web_visitors", _rows(session, delete(WebVisitor).where(WebVisitor.customer_id == customer.id)))
    erased.add("identities", _rows(session, delete(Identity).where(Identity.customer_id == customer.id)))
    session.expire(customer, ["identities"])
    customer.display_name = None
    customer.attributes = {"erased": True}
    customer.locale = customer.timezone = None
    session.flush()
    needles = sorted(identifiers | words, key=len, reverse=True)
    calls = _erase_calls(session, account.id, footprint, needles)
    events = _erase_events(session, account.id, footprint, sorted(identifiers, key=len, reverse=True))
    erased.add("outbox_calls", len(calls))
    erased.add("inbox_events", len(events))
    erased.add("audit_log", _erase_audit_details(session, account.id, footprint, needles, calls=calls,
                                                 events=events))
    for table, count in _scrub_everywhere(session, account.id, customer.id, conversation_ids, ticket_ids,
                                          identifiers, words):
        erased.add(table, count)
    audit(session, account_id=account.id, actor=actor, action="privacy.erased", subject_type="customer",
          subject_id=customer.id, detail={"rows": erased.rows})
    return erased


# Vendor records and the audit log are erased whole, not scrubbed: what they quote of the
# customer is rarely their words verbatim (a note cuts a message at 160 characters, a
# model's prompt or an agent's reply rephrases it, a translation has none of its words),
# so a record that is theirs loses its content, and so does any other that contains
# their words (a past call's record: nothing anyone needs is lost with it).


def _erase_calls(session: Session, account_id: int, footprint: Footprint, needles: list[str]) -> set[int]:
    """Outbox rows addressed to them, about their ticket or helpdesk user, sent under one
    of their keys, or holding their words: payload and response blanked. One not yet
    made is not made (an erased customer is messaged no more)."""
    done: set[int] = set()
    for row in session.execute(select(OutboxCall.id, OutboxCall.idempotency_key, OutboxCall.payload,
                                      OutboxCall.response, OutboxCall.error, OutboxCall.status)
                               .where(OutboxCall.account_id == account_id).execution_options(yield_per=500)).all():
        if row.payload == ERASED_PAYLOAD:
            continue
        if not (footprint.owns_key(row.idempotency_key) or footprint.names(row.payload)
                or footprint.names(row.response) or _holds([row.payload, row.response, row.error], needles)):
            continue
        unsent = row.status in ("pending", "sending")
        session.execute(update(OutboxCall).where(OutboxCall.id == row.id).values(
            payload=ERASED_PAYLOAD, response=None, error="erased on request before it was sent" if unsent else None,
            **({"status": "failed"} if unsent else {})))
        done.add(row.id)
    return done


def _erase_events(session: Session, account_id: int, footprint: Footprint, identifiers: list[str]) -> set[int]:
    """Inbox events their messages came from, or that name them (From, To, WaId, their
    ticket) or hold one of their identifiers: payload blanked; one still waiting is not
    processed. Their words alone do not make an event theirs: each event is one
    sender's message, and another customer who wrote the same words keeps them."""
    done: set[int] = set()
    for row in session.execute(select(InboxEvent.id, InboxEvent.payload, InboxEvent.error, InboxEvent.status)
                               .where(InboxEvent.account_id == account_id).execution_options(yield_per=500)).all():
        if row.payload == ERASED_PAYLOAD:
            continue
        if not (row.id in footprint.events or footprint.names(row.payload)
                or _holds([row.payload, row.error], identifiers)):
            continue
        waiting = {"status": "done", "processed_at": datetime.now(UTC)} if row.status == "received" else {}
        session.execute(update(InboxEvent).where(InboxEvent.id == row.id).values(
            payload=ERASED_PAYLOAD, error=None, **waiting))
        done.add(row.id)
    return done


def _erase_audit_details(session: Session, account_id: int, footprint: Footprint, needles: list[str], *,
                         calls: set[int], events: set[int]) -> int:
    """Audit entries about them (their conversation, ticket, message, action, or a record
    erased above) or holding their words keep actor, action, subject and time; their
    detail becomes the tombstone, the one change the database lets an entry undergo
    (migration 0016). The privacy entries hold counts only and stay whole."""
    linked = {"outbox_call": calls, "inbox_event": events}
    count = 0
    for row in session.execute(select(AuditEntry.id, AuditEntry.action, AuditEntry.subject_type,
                                      AuditEntry.subject_id, AuditEntry.detail)
                               .where(AuditEntry.account_id == account_id).execution_options(yield_per=500)).all():
        if row.action.startswith("privacy.") or row.detail == ERASED_PAYLOAD:
            continue
        subject = row.subject_id if row.subject_id and row.subject_id.isdigit() else None
        theirs = (footprint.about(row.subject_type, row.subject_id, row.detail or {})
                  or (subject is not None and int(subject) in linked.get(row.subject_type or "", ())))
        if theirs or _holds(row.detail, needles):
            session.execute(update(AuditEntry).where(AuditEntry.id == row.id).values(detail=ERASED_PAYLOAD))
            count += 1
    return count


def _holds(value: Any, needles: list[str]) -> bool:
    """Any needle inside any string of a JSON value."""
    return bool(needles) and _scrub(value, needles) is not value


def _needles(session: Session, customer: Customer, vault: Vault) -> tuple[set[str], set[str]]:
    """What identifies the customer (identities and the forms vendors write them in,
    name, vaulted values), and their own words (the lines of the messages they wrote)."""
    identifiers: set[str] = set()
    for identity in customer.identities:
        identifiers.add(identity.value)
        if identity.kind in (IdentityKind.PHONE, IdentityKind.WHATSAPP):
            identifiers.add(identity.value.lstrip("+"))  # WhatsApp's WaId
    if customer.display_name and len(customer.display_name.strip()) >= 3:
        identifiers.add(customer.display_name.strip())
    for entry in session.scalars(select(VaultEntry).where(VaultEntry.customer_id == customer.id)):
        identifiers.add(vault.open(entry.sealed))
    conversations = select(Conversation.id).where(Conversation.customer_id == customer.id)
    words: set[str] = set()
    for body in session.scalars(select(Message.body).where(Message.conversation_id.in_(conversations),
                                                           Message.author == "customer")):
        words.update(line.strip() for line in body.splitlines())
    identifiers = {n for n in identifiers if len(n) >= MIN_NEEDLE or n == customer.display_name}
    return identifiers, {n for n in words if len(n) >= MIN_NEEDLE} - identifiers


def _scrub_everywhere(session: Session, account_id: int, customer_id: int, conversation_ids: list[int],
                      ticket_ids: list[int], identifiers: set[str], words: set[str]) -> Iterator[tuple[str, int]]:
    """Every text and JSON column of every account-scoped table, rewritten where it
    still holds one of the customer's identifiers, or their words in a row that is
    theirs (linked to them, or naming them): the pass that covers tables the first pass
    does not know. Another customer who wrote the same words ("where is my parcel")
    keeps them."""
    if not identifiers and not words:
        return
    only_identifiers = sorted(identifiers, key=len, reverse=True)
    everything = sorted(identifiers | words, key=len, reverse=True)
    theirs, tickets = set(conversation_ids), set(ticket_ids)
    for table in Base.metadata.sorted_tables:
        if table.name in _NOT_SCRUBBED | _ERASED_WHOLE or "account_id" not in table.c:
            continue
        columns = [c for c in table.c if isinstance(c.type, (String, Text, JSON))
                   or isinstance(getattr(c.type, "impl", None), JSON)]
        if not columns:
            continue
        key = list(table.primary_key.columns)
        links = [c for c in (table.c.get("customer_id"), table.c.get("conversation_id"),
                             table.c.get("zendesk_ticket_id")) if c is not None]
        changed = 0
        for row in session.execute(select(*key, *links, *columns).where(table.c.account_id == account_id)
                                   .execution_options(yield_per=500)).all():
            mapping = row._mapping
            linked = (mapping.get("customer_id") == customer_id and "customer_id" in table.c) or (
                "conversation_id" in table.c and mapping.get("conversation_id") in theirs) or (
                "zendesk_ticket_id" in table.c and mapping.get("zendesk_ticket_id") in tickets)
            names_them = linked or any(_scrub(mapping[c.name], only_identifiers) is not mapping[c.name]
                                       for c in columns)
            needles = everything if names_them else only_identifiers
            values: dict[str, Any] = {}
            for column in columns:
                value = mapping[column.name]
                scrubbed = _scrub(value, needles)
                if scrubbed is not value:
                    length = getattr(column.type, "length", None)
                    values[column.name] = scrubbed[:length] if isinstance(scrubbed, str) and length else scrubbed
            if values:
                session.execute(update(table).where(*(k == mapping[k.name] for k in key)).values(**values))
                changed += 1
        if changed:
            yield table.name, changed


def _scrub(value: Any, needles: list[str]) -> Any:
    """``value`` with every needle replaced, or ``value`` itself when none occurs."""
    if isinstance(value, str):
        if not any(n in value for n in needles):
            return value
        for needle in needles:
            value = value.replace(needle, ERASED)
        return value
    if isinstance(value, dict):
        scrubbed = {k: _scrub(v, needles) for k, v in value.items()}
        return value if all(scrubbed[k] is value[k] for k in value) else scrubbed
    if isinstance(value, list):
        items = [_scrub(v, needles) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


# --- retention --------------------------------------------------------------------------


def retention_days(account: Account, settings: Settings) -> int | None:
    """SWITCHBOARD_RETENTION_DAYS for the default account, its ``retention_days`` setting
    for the others (a number of days, or off); None keeps everything."""
    def days(raw: str) -> int | None:
        if raw.lower() == "off":
            return None
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"the retention_days setting of account {account.slug!r} is {raw!r}: use a number of "
                             "days (1 or more) or off")
        return int(raw)
    return accounts.setting(account, "retention_days", settings, days, inherit=True)


def purge_expired(session: Session, account: Account, settings: Settings, *,
                  now: datetime | None = None) -> dict[str, int]:
    """Delete vaulted originals and blank transcripts older than the account's retention
    period; the audit keeps that it happened (counts, cut-off), not what was purged."""
    days = retention_days(account, settings)
    if days is None:
        return {}
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    purged = {
        "vault_entries": _rows(session, delete(VaultEntry).where(
            VaultEntry.account_id == account.id, VaultEntry.created_at < cutoff)),
        "messages": _rows(session, update(Message).where(
            Message.account_id == account.id, Message.created_at < cutoff, Message.body != PURGED)
            .values(body=PURGED, meta={"purged": True})),
        "suggestions": _rows(session, update(Suggestion).where(
            Suggestion.account_id == account.id, Suggestion.created_at < cutoff, Suggestion.text != PURGED)
            .values(query=PURGED, text=PURGED)),
        "inbox_events": _rows(session, update(InboxEvent).where(
            InboxEvent.account_id == account.id, InboxEvent.received_at < cutoff,
            InboxEvent.status != "received", InboxEvent.payload != PURGED_PAYLOAD).values(payload=PURGED_PAYLOAD)),
        "outbox_calls": _rows(session, update(OutboxCall).where(
            OutboxCall.account_id == account.id, OutboxCall.created_at < cutoff,
            OutboxCall.status.in_(("sent", "sandboxed", "failed")), OutboxCall.payload != PURGED_PAYLOAD)
            .values(payload=PURGED_PAYLOAD, response=None)),
    }
    purged = {table: count for table, count in purged.items() if count}
    if purged:
        audit(session, account_id=account.id, actor="retention", action="privacy.retention_purged",
              detail={"days": days, "before": cutoff.isoformat(), "rows": purged})
    return purged


def purge_all(session: Session, accounts: Iterable[Account], settings: Settings) -> dict[str, dict[str, int]]:
    """Beat's daily purge over every account; each account commits on its own."""
    done: dict[str, dict[str, int]] = {}
    for account in accounts:
        purged = purge_expired(session, account, settings)
        session.commit()
        if purged:
            done[account.slug] = purged
    return done


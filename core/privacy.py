"""Data-subject requests and retention: erase a customer, export their data, purge old data.

Erasure works in two passes. The first knows the tables that hold a customer's data
(identities, the timeline, the vault, outreach rows, suggestions, governed actions)
and clears them by their links. The second does not trust that list: it walks every
text and JSON column of every account-scoped table (from the models' metadata) and
scrubs whatever still contains one of the customer's identifiers or their words, so a
column added later that copies them is erased too. Aggregates (conversation outcomes,
metric events, counts) stay, and one audit entry records that it happened — without
the data, because the audit log is append-only.
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

from switchboard.config import Settings
from switchboard.models import (
    Account,
    ActionExecution,
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

from .accounts import DEFAULT_SLUG
from .audit import audit
from .identity import InvalidAddress, to_e164
from .knowledge import phrasings
from .vault import Vault

ERASED = "[erased]"
PURGED = "[purged]"
PURGED_PAYLOAD = {"purged": True}
#: Words shorter than this are not searched for in other tables ("ok", "yes"): they
#: identify nobody.
MIN_NEEDLE = 6
#: Tables the generic pass never rewrites: the audit log is append-only (it must hold
#: no personal data in the first place), the others hold none.
_NOT_SCRUBBED = {"audit_log", "accounts", "api_keys", "kb_articles", "artifacts", "sync_state"}


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
    conversation_ids = list(session.scalars(select(Conversation.id).where(Conversation.customer_id == customer.id)))
    ticket_ids = [t for t in session.scalars(select(Conversation.zendesk_ticket_id).where(
        Conversation.customer_id == customer.id)) if t is not None]
    event_ids = [m.meta.get("inbox_event_id") for m in session.scalars(
        select(Message).where(Message.conversation_id.in_(conversation_ids)))]
    if conversation_ids:
        erased.add("messages", _rows(session, update(Message).where(Message.conversation_id.in_(conversation_ids))
                                     .values(body=ERASED, meta={"erased": True})))
    if event_ids := [e for e in event_ids if isinstance(e, int)]:
        erased.add("inbox_events", _rows(session, update(InboxEvent).where(
            InboxEvent.account_id == account.id, InboxEvent.id.in_(event_ids)).values(payload={"erased": True},
                                                                                      error=None)))
    erased.add("vault_entries", _rows(session, delete(VaultEntry).where(VaultEntry.customer_id == customer.id)))
    for table, count in phrasings.forget_customer(session, account.id, customer.id).items():
        erased.add(table, count)  # what the bot learned from their questions
    suggestions = select(Suggestion.id).where(Suggestion.account_id == account.id, or_(
        Suggestion.conversation_id.in_(conversation_ids), Suggestion.zendesk_ticket_id.in_(ticket_ids)))
    erased.add("suggestion_feedback", _rows(session, update(SuggestionFeedback).where(
        SuggestionFeedback.suggestion_id.in_(suggestions)).values(sent_text=None, reason=None)))
    erased.add("suggestions", _rows(session, update(Suggestion).where(Suggestion.id.in_(suggestions))
                                    .values(query=ERASED, text=ERASED)))
    erased.add("action_executions", _rows(session, update(ActionExecution).where(
        ActionExecution.customer_id == customer.id).values(params={"erased": True}, facts={}, result=None,
                                                           error=None)))
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
    for table, count in _scrub_everywhere(session, account.id, customer.id, conversation_ids, identifiers,
                                          words):
        erased.add(table, count)
    audit(session, account_id=account.id, actor=actor, action="privacy.erased", subject_type="customer",
          subject_id=customer.id, detail={"rows": erased.rows})
    return erased


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
                      identifiers: set[str], words: set[str]) -> Iterator[tuple[str, int]]:
    """Every text and JSON column of every account-scoped table, rewritten where it
    still holds one of the customer's identifiers, or their words in a row that is
    theirs (linked to them, or naming them): the pass that covers tables the first pass
    does not know. Another customer who wrote the same words ("where is my parcel")
    keeps them."""
    if not identifiers and not words:
        return
    only_identifiers = sorted(identifiers, key=len, reverse=True)
    everything = sorted(identifiers | words, key=len, reverse=True)
    theirs = set(conversation_ids)
    for table in Base.metadata.sorted_tables:
        if table.name in _NOT_SCRUBBED or "account_id" not in table.c:
            continue
        columns = [c for c in table.c if isinstance(c.type, (String, Text, JSON))
                   or isinstance(getattr(c.type, "impl", None), JSON)]
        if not columns:
            continue
        key = list(table.primary_key.columns)
        links = [c for c in (table.c.get("customer_id"), table.c.get("conversation_id")) if c is not None]
        changed = 0
        for row in session.execute(select(*key, *links, *columns).where(table.c.account_id == account_id)
                                   .execution_options(yield_per=500)).all():
            mapping = row._mapping
            linked = (mapping.get("customer_id") == customer_id and "customer_id" in table.c) or (
                "conversation_id" in table.c and mapping.get("conversation_id") in theirs)
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
    if account.slug == DEFAULT_SLUG:
        return settings.retention_days
    raw = str((account.secrets or {}).get("retention_days") or "").strip()
    if raw.lower() in ("", "off"):
        return settings.retention_days if not raw else None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"the retention_days setting of account {account.slug!r} is {raw!r}: use a number of "
                         "days (1 or more) or off")
    return int(raw)


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


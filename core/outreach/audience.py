"""Who a campaign reaches, and the segments it splits them into.

Customers are read in one query with their phone number and filtered in Python: the
criteria are over a JSON column whose operators differ between SQLite and
PostgreSQL, and one pass over an account's customers takes well under a second at
100,000 (bench/outreach.py).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Result, and_, select
from sqlalchemy.orm import Session

from switchboard.core.customers import identity
from switchboard.core.outreach.errors import InvalidCampaign
from switchboard.core.store.models import Customer, Identity, IdentityKind


@dataclass(frozen=True)
class Member:
    customer_id: int
    phone: str
    name: str | None
    tier: str
    locale: str | None
    attributes: dict[str, Any]
    opted_out_at: datetime | None

    def value_of(self, key: str) -> str:
        if key == "tier":
            return self.tier
        if key == "locale":
            return (self.locale or "unknown").split("-")[0].lower()
        return str(self.attributes.get(key, "unknown"))


def select_members(session: Session, account_id: int, criteria: dict[str, Any]) -> list[Member]:
    """Customers of the account that match every criterion and have a phone number."""
    if "phones" in criteria or "rows" in criteria:
        _ensure_listed(session, account_id, criteria)
    members = _all_members(session, account_id)
    listed = _listed_numbers(criteria)
    return [m for m in members if _matches(m, criteria, listed)]


def segment(members: Iterable[Member], segment_by: str | None) -> dict[str, list[Member]]:
    """Members grouped by the value of ``segment_by`` (one segment "all" without it)."""
    groups: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        groups["all" if segment_by is None else member.value_of(segment_by)[:80]].append(member)
    return dict(sorted(groups.items()))


def _all_members(session: Session, account_id: int) -> list[Member]:
    # Spelled out: a dict[str, Any] column among them sends select() to its untyped overload.
    rows: Result[int, str, str | None, str, str | None, dict[str, Any], datetime | None] = session.execute(
        select(Customer.id, Identity.value, Customer.display_name, Customer.tier, Customer.locale,
               Customer.attributes, Customer.opted_out_at)
        .join(Identity, and_(Identity.customer_id == Customer.id, Identity.kind == IdentityKind.PHONE))
        .where(Customer.account_id == account_id)
        .order_by(Customer.id, Identity.id)
    )
    seen: set[int] = set()
    members = []
    for cid, phone, name, tier, locale, attributes, opted_out_at in rows:
        if cid in seen:
            continue
        seen.add(cid)
        members.append(Member(cid, phone, name, tier or "standard", locale, attributes or {}, opted_out_at))
    return members


def _matches(member: Member, criteria: dict[str, Any], listed: set[str] | None) -> bool:
    if listed is not None and member.phone not in listed:
        return False
    if "tier" in criteria and member.tier.lower() not in {v.lower() for v in criteria["tier"]}:
        return False
    if "locale" in criteria and member.value_of("locale") not in {v.split("-")[0].lower()
                                                                  for v in criteria["locale"]}:
        return False
    for key, wanted in (criteria.get("attributes") or {}).items():
        value = member.attributes.get(key)
        if value is None or str(value).lower() not in {w.lower() for w in wanted}:
            return False
    return True


def _listed_numbers(criteria: dict[str, Any]) -> set[str] | None:
    if "phones" not in criteria and "rows" not in criteria:
        return None
    numbers = {identity.to_e164(p) for p in criteria.get("phones") or []}
    numbers |= {identity.to_e164(row["phone"]) for row in criteria.get("rows") or []}
    return numbers


def _ensure_listed(session: Session, account_id: int, criteria: dict[str, Any]) -> None:
    """An explicit list may name people who never wrote in: they become customers, and
    the CSV's other columns become attributes the template can use."""
    rows = [{"phone": p} for p in criteria.get("phones") or []] + list(criteria.get("rows") or [])
    for row in rows:
        try:
            address = identity.Address("sms", identity.to_e164(row["phone"]))
        except identity.InvalidAddress as exc:
            raise InvalidCampaign(f"criteria: {exc}") from None
        customer = identity.resolve_customer(session, account_id, address, profile_name=row.get("name") or None)
        extra = {k: v for k, v in row.items() if k not in ("phone", "name") and v}
        if extra:
            customer.attributes = {**(customer.attributes or {}), **extra}
    session.flush()

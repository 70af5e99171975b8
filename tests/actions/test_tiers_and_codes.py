"""Membership tiers from verified data (the order system's customer record) decide the
ABCD refund windows: gold unlimited, silver 182 days, bronze 90, guest 30. And one-time
codes cannot be re-requested without limit."""
from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import Customer, Identity
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import days_ago, sends
from .order_server import OrderServer
from .test_selfservice_actions import executions, say


def add_order(order_system: OrderServer, oid: str, *, phone: str, membership: str | None, delivered: int) -> None:
    customer = {"phone": phone, **({"membership": membership} if membership else {})}
    order_system.orders[oid] = {"id": oid, "status": "delivered", "total": 20.0, "currency": "USD",
                                "placed_at": days_ago(delivered + 2), "delivered_at": days_ago(delivered),
                                "eta": None, "customer": customer}


def refund_as(vendor: VendorClient, app: Flask, phone: str, oid: str) -> str:
    """Ask for a refund from ``phone``, answering the one-time code if one is texted."""
    reply = say(vendor, app, f"refund order {oid}", sender=phone)
    if "code" in reply:
        codes = [m.group(1) for s in sends(app) if s["to"] == phone
                 and (m := re.search(r"verification code is (\d+)", s["body"]))]
        reply = say(vendor, app, codes[-1], sender=phone)
    if reply.startswith("Reply YES to "):  # the preview: a self-service change runs on the customer's YES
        reply = say(vendor, app, "YES", sender=phone)
    return reply


@pytest.mark.parametrize(("membership", "inside", "outside", "window"), [
    ("gold", 2000, None, None), ("silver", 170, 200, 182), ("bronze", 80, 100, 90), ("Guest", 25, 40, 30)])
def test_refund_windows_follow_the_tier_the_order_system_reports(
        app: Flask, vendor: VendorClient, order_system: OrderServer, membership: str, inside: int,
        outside: int | None, window: int | None) -> None:
    phone = "+14155550777"
    add_order(order_system, "T1001", phone=phone, membership=membership, delivered=inside)
    assert refund_as(vendor, app, phone, "T1001").startswith("Done: a refund of $20.00 for order T1001")
    if outside is not None:
        add_order(order_system, "T1002", phone=phone, membership=membership, delivered=outside)
        reply = refund_as(vendor, app, phone, "T1002")
        assert f"within {window} days of delivery" in reply
        assert executions(app)[-1].reasons == ["outside_window"]
    with get_db(app).session() as session:
        customer = session.scalars(select(Customer).join(Identity).where(Identity.value == phone)).one()
        assert customer.tier == membership.lower()  # kept from the verified record


def test_without_a_reported_tier_the_customer_is_a_guest(app: Flask, vendor: VendorClient,
                                                         order_system: OrderServer) -> None:
    add_order(order_system, "T2001", phone="+14155550778", membership=None, delivered=45)
    assert "within 30 days of delivery" in refund_as(vendor, app, "+14155550778", "T2001")


def test_codes_are_capped_per_customer_per_hour(app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    for _ in range(3):
        assert "texted a 6-digit code" in say(vendor, app, "where is my order A1001?")
    reply = say(vendor, app, "where is my order A1001?")
    assert "already texted you several codes in the last hour" in reply
    assert len([s for s in sends(app) if "verification code is" in s["body"]]) == 3
    assert executions(app)[-1].reasons == ["too_many_codes"]

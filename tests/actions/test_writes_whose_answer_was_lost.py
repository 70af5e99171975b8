"""A write to the company's system whose answer was lost (a read timeout, a worker
killed after the system applied it) is sent again only to a system that applies a
write once per Idempotency-Key; to any other it is not re-sent (a person checks), so a
refund is never applied twice. Against the loopback order system over real HTTP."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from switchboard.core.actions.config import load_actions_config
from switchboard.core.store.models import Account, OutboxCall
from switchboard.intake.db import get_db
from switchboard.vendors.http_action import HttpActionConnector, OutcomeUnknown
from switchboard.vendors.outbound import VendorOutcomeUnknown

from .order_server import OrderServer

KEY = "action:77:refund"
VARIABLES = {"order_id": "A1002", "amount": 180.0, "currency": "USD", "reason": "damaged"}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with get_db(app).session() as db_session:
        yield db_session


def connector(app: Flask, session: Session, *, idempotent: bool, timeout: float = 5.0) -> HttpActionConnector:
    config = load_actions_config(app.config["SETTINGS"].actions_file)
    system = replace(config.systems["shop"], idempotent=idempotent, timeout_seconds=timeout)
    account = session.scalar(select(Account).where(Account.slug == "default"))
    return HttpActionConnector(session, account, app.config["SETTINGS"], system=system)


def left_by_a_killed_worker(session: Session) -> None:
    """The state a worker killed mid-call leaves: the attempt claimed long ago, no answer."""
    session.execute(update(OutboxCall).where(OutboxCall.idempotency_key == KEY)
                    .values(status="sending", attempted_at=datetime.now(UTC) - timedelta(minutes=5)))
    session.commit()


def refund_op(app: Flask):  # type: ignore[no-untyped-def]
    return load_actions_config(app.config["SETTINGS"].actions_file).operation("refund_create")


def test_a_lost_answer_to_a_non_idempotent_system_is_not_sent_again(
        app: Flask, session: Session, order_system: OrderServer) -> None:
    shop = connector(app, session, idempotent=False)
    shop.run(refund_op(app), VARIABLES, idempotency_key=KEY)
    assert len(order_system.refunds) == 1
    left_by_a_killed_worker(session)

    with pytest.raises(OutcomeUnknown, match="not sent again: check in shop"):
        connector(app, session, idempotent=False).run(refund_op(app), VARIABLES, idempotency_key=KEY)
    assert len(order_system.calls("POST", "/orders/A1002/refunds")) == 1  # no second POST
    assert len(order_system.refunds) == 1


def test_a_lost_answer_to_an_idempotent_system_is_resent_under_the_same_key(
        app: Flask, session: Session, order_system: OrderServer) -> None:
    connector(app, session, idempotent=True).run(refund_op(app), VARIABLES, idempotency_key=KEY)
    left_by_a_killed_worker(session)

    answer = connector(app, session, idempotent=True).run(refund_op(app), VARIABLES, idempotency_key=KEY)
    posts = order_system.calls("POST", "/orders/A1002/refunds")
    assert [p["headers"].get("Idempotency-Key") for p in posts] == [KEY, KEY]
    assert len(order_system.refunds) == 1 and answer["refund_id"] == order_system.refunds[0]["id"]


def test_a_read_timeout_on_a_write_leaves_the_attempt_in_flight(
        app: Flask, session: Session, order_system: OrderServer) -> None:
    order_system.hold("/orders/A1002/refunds")  # applied, then no answer in time
    try:
        with pytest.raises(VendorOutcomeUnknown):
            connector(app, session, idempotent=False, timeout=0.5).run(refund_op(app), VARIABLES,
                                                                       idempotency_key=KEY)
    finally:
        order_system.release.set()
    row = session.scalar(select(OutboxCall).where(OutboxCall.idempotency_key == KEY))
    assert row is not None and row.status == "sending"  # not "pending": no blind retry
    assert len(order_system.refunds) == 1

"""When the company's system says no or is down: a 404 on a write is a failure (only
the lookup reads not-found as an answer), an outage leaves no execution "running" but
one the same request runs again, and a stuck row does not count toward limits."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from switchboard.core.store import inbox
from switchboard.core.store.models import ActionExecution, Customer, InboxEvent
from switchboard.intake.db import get_db
from switchboard.tasks import handlers

from ..signing import VendorClient
from .conftest import sends
from .order_server import OrderServer
from .test_approvals_and_sidebar import handed_over, run
from .test_selfservice_actions import agreed, executions, last_code, say, verified

Answer = Callable[[str, str, Any, str | None], tuple[int, dict[str, Any]]]


def break_path(order_system: OrderServer, fragment: str, status: int) -> dict[str, bool]:
    """Make the order system answer ``status`` on paths containing ``fragment`` while
    the returned switch is on."""
    original: Answer = order_system.route
    switch = {"on": True}

    def answer(method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, Any]]:
        if fragment in path and switch["on"]:
            return status, {"error": "broken on purpose"}
        return original(method, path, body, auth)

    order_system.route = answer  # type: ignore[method-assign]
    return switch


def test_a_404_on_a_write_fails_and_the_agent_sees_it(app: Flask, vendor: VendorClient,
                                                      order_system: OrderServer) -> None:
    break_path(order_system, "/appointments/", 404)
    ticket = handed_over(app, vendor)
    response = run(vendor, app, ticket, "reschedule", {"params": {"appointment_id": "V9999", "date": "2099-01-05"}},
                   "resched-1")
    assert response.status_code == 502
    assert response.json["status"] == "failed" and response.json["reasons"] == ["target_not_found"]
    assert "couldn't find" in response.json["message"] and "nothing was changed" in response.json["message"]
    assert "HTTP 404" in response.json["error"]


def test_a_404_on_a_customers_reschedule_is_not_reported_as_done(app: Flask, vendor: VendorClient,
                                                                 order_system: OrderServer) -> None:
    break_path(order_system, "/appointments/", 404)
    reply = agreed(vendor, app, verified(vendor, app, "please reschedule the technician visit V9999 to 2099-01-05"))
    assert reply.startswith("I couldn't find that in our system, so nothing was changed")
    assert executions(app)[0].status == "failed"


def test_an_outage_answers_503_and_the_same_key_runs_it_once_later(app: Flask, vendor: VendorClient,
                                                                  order_system: OrderServer) -> None:
    outage = break_path(order_system, "/appointments/", 503)
    ticket = handed_over(app, vendor)
    body = {"params": {"appointment_id": "V3003", "date": "2099-01-05"}}
    first = run(vendor, app, ticket, "reschedule", body, "same")
    assert first.status_code == 503 and first.headers["Retry-After"]
    assert first.json["retry"] is True and "retry it" in first.json["message"]
    assert first.json["status"] == "requested"  # not "running": the retry picks it up
    outage["on"] = False
    second = run(vendor, app, ticket, "reschedule", body, "same")
    assert second.status_code == 200 and second.json["status"] == "succeeded"
    third = run(vendor, app, ticket, "reschedule", body, "same")  # a double click after success
    assert third.json["repeated"] is True
    assert len(order_system.calls("POST", "/appointments/V3003/reschedule")) == 2  # the failed one and one more
    assert [e.status for e in executions(app) if e.action == "reschedule"] == ["succeeded"]


def test_an_outage_after_the_code_is_retried_by_the_inbox_and_the_customer_is_told(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    outage = break_path(order_system, "/orders/", 503)
    say(vendor, app, "where is my order A1001?")
    before = len(sends(app))
    say(vendor, app, last_code(app))  # the code is right, the order system is down
    assert len(sends(app)) == before  # nothing said yet: the event waits for its retry
    [execution] = executions(app)
    assert execution.status == "requested"
    with get_db(app).session() as session:
        event = session.scalars(select(InboxEvent).order_by(InboxEvent.id.desc())).first()
        assert event.status == "received" and "VendorUnavailable" in event.error
        event_id = event.id
    outage["on"] = False
    with app.app_context(), get_db(app).session() as session:  # what the sweep does in production
        assert inbox.process(session, event_id, handlers()) == "done"
    assert sends(app)[-1]["body"] == "Order A1001 is shipped; expected delivery Friday."
    assert executions(app)[0].status == "succeeded"


def stuck_refund(app: Flask, *, lease_left: timedelta) -> None:
    """A $200 refund row left "running" (a worker died mid-call)."""
    with get_db(app).session() as session:
        customer = session.scalars(select(Customer)).one()
        session.add(ActionExecution(
            account_id=customer.account_id, action="refund", idempotency_key=f"stuck:{lease_left}", role="bot",
            actor="bot", customer_id=customer.id, params={"order_id": "A1009"}, facts={}, amount_cents=20000,
            status="running", reasons=[], expires_at=datetime.now(UTC) + lease_left, created_at=datetime.now(UTC)))
        session.commit()


def test_a_stuck_running_refund_does_not_count_toward_the_limit(app: Flask, vendor: VendorClient,
                                                                order_system: OrderServer) -> None:
    say(vendor, app, "where is my order A1001")
    say(vendor, app, last_code(app))
    stuck_refund(app, lease_left=timedelta(minutes=3))  # still in flight: it counts
    assert "refund limit" in say(vendor, app, "refund order A1004")  # 200 + 90 > 250
    stuck_refund(app, lease_left=-timedelta(minutes=30))  # long dead: it does not
    with get_db(app).session() as session:
        live = session.scalars(select(ActionExecution).where(ActionExecution.idempotency_key.like("stuck:0:03%"))).one()
        live.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
    assert agreed(vendor, app, say(vendor, app, "refund order A1004")).startswith("Done: a refund of $90.00")

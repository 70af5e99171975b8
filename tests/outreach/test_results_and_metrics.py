"""What happens after Twilio takes the messages: the dashboard's outreach events from
signed status callbacks, the delivery results posted even when the last two callbacks
race, and Twilio's 21610 (opted out) answered through its real HTTP layer."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import responses
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from switchboard.core.accounts import by_slug
from switchboard.core.outreach import campaigns, sending, spec
from switchboard.core.outreach.ratelimit import LocalRateLimiter
from switchboard.core.store.models import AuditEntry, Customer, MetricEvent, OutreachCampaign, OutreachRecipient
from switchboard.intake import db
from switchboard.intake.db import get_db

from ..conftest import TWILIO_SID, _truncate_postgres, base_env
from ..signing import VendorClient
from .conftest import APPROVER, add_customer, calls, campaign, click, make_outreach_app, post_campaign
from .test_sending import recipients, status

BODY = {"name": "Delay", "criteria": {"attributes": {"region": "north"}}, "template": "Hi {first_name}."}
MESSAGES_URL = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/AC\w+/Messages\.json")


def events(app: Flask) -> list[tuple[str, int | None, str | None]]:
    with get_db(app).session() as session:
        return sorted((e.kind, e.customer_id, e.channel) for e in session.scalars(
            select(MetricEvent).where(MetricEvent.kind.like("outreach.%"))))


def results_posts(app: Flask) -> list[str]:
    return [c.payload["text"] for c in calls(app, "chat.postMessage") if "Delivery results" in c.payload["text"]]


def test_outreach_events_come_from_the_real_flow_once_each(app: Flask, api_key: str, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        ada, bob, cy = (add_customer(session, f"+1415555014{n}", name=name, region="north").id
                        for n, name in enumerate(("Ada", "Bob", "Cy"), start=1))
    campaign_id = post_campaign(app.test_client(), api_key, BODY).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", campaign_id))
    vendor.slack_interaction(click("outreach:approve", campaign_id))  # a double click sends nothing twice
    assert events(app) == sorted(("outreach.sent", c, "sms") for c in (ada, bob, cy))
    sids = {phone: r.message_sid for phone, r in recipients(app).items()}

    status(vendor, sids["+14155550141"], "delivered", "+14155550141")
    status(vendor, sids["+14155550141"], "read", "+14155550141")  # read implies delivered: still one
    status(vendor, sids["+14155550142"], "undelivered", "+14155550142", ErrorCode="30003")
    status(vendor, sids["+14155550142"], "failed", "+14155550142", ErrorCode="30003")  # same rank: ignored
    status(vendor, sids["+14155550143"], "sent", "+14155550143")  # not an outcome yet

    assert events(app) == sorted([("outreach.sent", c, "sms") for c in (ada, bob, cy)]
                                 + [("outreach.delivered", ada, "sms"), ("outreach.failed", bob, "sms")])
    status(vendor, sids["+14155550143"], "failed", "+14155550143", ErrorCode="30006")
    kinds = [kind for kind, _, _ in events(app)]
    counted = [kinds.count(kind) for kind in ("outreach.sent", "outreach.delivered", "outreach.failed")]
    assert counted == [3, 1, 2]


def test_results_raced_away_by_the_last_two_callbacks_are_posted_by_tick_once(tmp_path: Path, pg_url: str) -> None:
    _truncate_postgres(pg_url)
    app = make_outreach_app(base_env(tmp_path, pg_url))
    settings = app.config["SETTINGS"]
    with app.app_context():
        session = db.session()
        for n in (1, 2):
            add_customer(session, f"+1415555010{n}", name=f"C{n}", region="north")
        account = by_slug(session, "default")
        assert account is not None
        built, _ = campaigns.create(session, account, settings, spec.parse(BODY), trigger="api", created_by="t")
        campaigns.decide(session, account, built.id, "approve", user=APPROVER)
        sending.run(session, settings, built.id, limiter=LocalRateLimiter())
        campaign_id = built.id
        sids = [r.message_sid for r in session.scalars(select(OutreachRecipient).order_by(OutreachRecipient.id))]
    assert campaign(app, campaign_id).status == "sent"

    # Two workers handle the two last callbacks at once (read committed): each still
    # sees the other recipient queued, so neither posts the results.
    first, second = (OrmSession(get_db(app).engine, expire_on_commit=False) for _ in range(2))
    with app.app_context():
        for worker, sid in ((first, sids[0]), (second, sids[1])):
            account = by_slug(worker, "default")
            assert account is not None
            assert sending.on_status(worker, account, settings, sid=sid, status="delivered", error_code=None)
        first.commit()
        second.commit()
    first.close()
    second.close()
    assert results_posts(app) == [] and campaign(app, campaign_id).status == "sent"

    with app.app_context():
        assert campaigns.tick(db.session(), settings, enqueue=lambda cid: None)["finished"] == [campaign_id]
        assert campaigns.tick(db.session(), settings, enqueue=lambda cid: None)["finished"] == []
    assert results_posts(app) == ["Delivery results: delivered 2."]
    assert campaign(app, campaign_id).status == "done"
    get_db(app).dispose()


def test_twilio_21610_skips_the_customer_as_opted_out_and_the_next_campaign_too(
        env: dict[str, str], api_key_app) -> None:  # type: ignore[no-untyped-def]
    app, key = api_key_app(SWITCHBOARD_SANDBOX="0")  # Twilio live (faked below); Slack has no token: sandbox
    with get_db(app).session() as session:
        ada = add_customer(session, "+14155550101", name="Ada", region="north").id
        add_customer(session, "+14155550102", name="Bob", region="north")
    vendor = VendorClient(app.test_client(), twilio_token="", zendesk_secret="",
                          slack_secret=env["SLACK_SIGNING_SECRET"], public_url=env["SWITCHBOARD_PUBLIC_URL"])

    def twilio(request):  # type: ignore[no-untyped-def]
        to = parse_qs(request.body)["To"][0]
        if to == "+14155550101":
            return 400, {}, ('{"code": 21610, "message": "Attempt to send to unsubscribed recipient", '
                             '"more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}')
        return 201, {}, f'{{"sid": "SM{"b" * 32}", "status": "queued", "account_sid": "{TWILIO_SID}"}}'

    with responses.RequestsMock() as http:
        http.add_callback(responses.POST, MESSAGES_URL, callback=twilio)
        first = post_campaign(app.test_client(), key, BODY).get_json()["id"]
        vendor.slack_interaction(click("outreach:approve", first))
        assert sorted(parse_qs(c.request.body)["To"][0] for c in http.calls) == ["+14155550101", "+14155550102"]

        rows = recipients(app)
        assert (rows["+14155550101"].status, rows["+14155550101"].reason) == ("skipped", "opted_out")
        assert rows["+14155550102"].status == "queued"
        with get_db(app).session() as session:
            assert session.get(Customer, ada).opted_out_at is not None  # type: ignore[union-attr]
            [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.opt_out")).all()
            assert (entry.subject_id, entry.detail["error_code"]) == (str(ada), "21610")
            assert session.get(OutreachCampaign, first).status == "sent"  # type: ignore[union-attr]
        assert [kind for kind, _, _ in events(app)] == ["outreach.sent"]  # Bob only
        assert "skipped (opted out) 1" in calls(app, "chat.postMessage")[-1].payload["text"]

        second = post_campaign(app.test_client(), key, BODY).get_json()
        assert second["recipients"]["skipped:opted_out"] == 1  # known now, skipped before approval
        vendor.slack_interaction(click("outreach:approve", second["id"]))
        assert [parse_qs(c.request.body)["To"][0] for c in http.calls][2:] == ["+14155550102"]

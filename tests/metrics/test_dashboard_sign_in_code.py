"""The sidebar's way into the dashboard: a one-minute code obtained with the app's
credential (through Zendesk's proxy), posted to /dashboard/login."""
from __future__ import annotations

from flask import Flask

from switchboard.core import accounts
from switchboard.core.store.models import Account
from switchboard.intake.db import get_db


def _key(app: Flask, slug: str = "default") -> str:
    with get_db(app).session() as session:
        account = accounts.by_slug(session, slug)
        assert account is not None
        return accounts.create_api_key(session, account, "sidebar")


def test_a_code_from_the_sidebar_signs_the_browser_in(app: Flask) -> None:
    client = app.test_client()
    answer = client.post("/api/sidebar/dashboard-session", headers={"Authorization": f"Bearer {_key(app)}"})
    assert answer.status_code == 200 and answer.json["expires_in"] == 60
    browser = app.test_client()
    assert browser.get("/dashboard").status_code == 302  # not signed in yet
    signed_in = browser.post("/dashboard/login", data={"code": answer.json["code"]})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/dashboard/")
    page = browser.get("/dashboard/")
    assert page.status_code == 200 and "Switchboard outcomes" in page.get_data(as_text=True)


def test_no_code_without_the_apps_credential_and_a_tampered_code_is_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/api/sidebar/dashboard-session").status_code == 401
    assert client.post("/api/sidebar/dashboard-session",
                       headers={"Authorization": "Bearer sb_not-a-key"}).status_code == 401
    code = client.post("/api/sidebar/dashboard-session",
                       headers={"Authorization": f"Bearer {_key(app)}"}).json["code"]
    tampered = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    refused = client.post("/dashboard/login", data={"code": tampered})
    assert refused.status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_the_code_signs_in_to_the_account_that_asked_for_it(app: Flask) -> None:
    with get_db(app).session() as session:
        session.add(Account(slug="globex", name="Globex Corp", secrets={}))
        session.commit()
    code = app.test_client().post("/api/sidebar/dashboard-session",
                                  headers={"Authorization": f"Bearer {_key(app, 'globex')}"}).json["code"]
    browser = app.test_client()
    browser.post("/dashboard/login", data={"code": code})
    assert "Globex Corp" in browser.get("/dashboard/").get_data(as_text=True)

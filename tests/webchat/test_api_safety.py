"""The widget's API is on the open internet: a request without a valid token, from a
site not allowed to embed the chat, of the wrong type or size, or over a rate limit is
refused with an answer saying why, and nothing of it is stored."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request

from switchboard.app import create_app
from switchboard.apps.webchat import limits
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from .conftest import SLUG, Visitor, inbox, timeline

SHOP_SITE = "https://shop.example.com"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "SWITCHBOARD_WEBCHAT_ORIGINS": f"{SHOP_SITE}, https://www.example.com"}


def test_a_bad_token_is_refused_401_and_nothing_is_stored(visitor: Visitor, shop: Flask) -> None:
    for token in ("not-a-token", visitor.token[:-3] + "xyz" if visitor.token else "", ""):
        response = visitor.send("hello", Authorization=f"Bearer {token}")
        assert response.status_code == 401, token
        assert "start a new session" in response.get_json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert visitor.client.get(f"/chat/{SLUG}/messages", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert visitor.client.get(f"/chat/{SLUG}/stream?token=nope").status_code == 401
    assert inbox(shop) == [] and timeline(shop) == []


def test_another_accounts_token_is_refused(visitor: Visitor, shop: Flask) -> None:
    from switchboard.core import accounts
    from switchboard.core.store.models import Account

    with get_db(shop).session() as session:
        session.add(Account(slug="other", name="Other Co", secrets={}))
        session.commit()
        assert accounts.by_slug(session, "other") is not None
    response = visitor.client.post("/chat/other/messages", json={"text": "hi", "client_id": "x"},
                                   headers={"Authorization": f"Bearer {visitor.token}"})
    assert response.status_code == 401
    assert inbox(shop) == []


def test_an_origin_not_allowed_is_refused_403_naming_the_setting_and_nothing_is_stored(shop: Flask) -> None:
    allowed = Visitor(shop.test_client(), origin=SHOP_SITE)
    allowed.start()
    allowed.origin = "https://evil.example.net"

    response = allowed.send("hello")

    assert response.status_code == 403
    assert "webchat_origins" in response.get_json()["error"]
    assert "Access-Control-Allow-Origin" not in response.headers
    refused = shop.test_client().post(f"/chat/{SLUG}/session", json={}, headers={"Origin": "https://evil.example.net"})
    assert refused.status_code == 403
    assert inbox(shop) == []


def test_an_allowed_origin_gets_cors_answers_and_a_preflight(shop: Flask) -> None:
    client = shop.test_client()
    preflight = client.options(f"/chat/{SLUG}/messages", headers={
        "Origin": SHOP_SITE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP_SITE
    assert "Origin" in preflight.headers["Vary"]
    assert {"Authorization", "Content-Type"} <= {h.strip() for h in
                                                 preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    browser = Visitor(client, origin=SHOP_SITE)
    started = client.post(f"/chat/{SLUG}/session", json={}, headers={"Origin": SHOP_SITE})
    assert started.status_code == 200
    assert started.headers["Access-Control-Allow-Origin"] == SHOP_SITE
    browser.token = started.get_json()["token"]
    assert browser.send("hello").headers["Access-Control-Allow-Origin"] == SHOP_SITE
    # The Switchboard's own pages (the demo) need no allow-listing.
    own = client.post(f"/chat/{SLUG}/session", json={}, headers={"Origin": "https://switchboard.example.com"})
    assert own.status_code == 200


def test_a_body_that_is_not_json_is_refused_415(visitor: Visitor, shop: Flask) -> None:
    response = visitor.client.post(f"/chat/{SLUG}/messages", data="text=hello&client_id=1",
                                   content_type="application/x-www-form-urlencoded", headers=visitor.headers())
    assert response.status_code == 415
    assert "application/json" in response.get_json()["error"]
    plain = visitor.client.post(f"/chat/{SLUG}/session", data='{"token": null}', content_type="text/plain")
    assert plain.status_code == 415
    assert inbox(shop) == []


def test_an_oversized_body_is_refused_413_and_an_overlong_text_400(visitor: Visitor, shop: Flask) -> None:
    huge = visitor.send("x" * 9000)
    assert huge.status_code == 413
    assert "8 KB" in huge.get_json()["error"]
    long = visitor.send("x" * 2001)
    assert long.status_code == 400 and "text" in long.get_json()["error"]
    assert visitor.send("   ").status_code == 400
    missing = visitor.client.post(f"/chat/{SLUG}/messages", json={"text": "hi"}, headers=visitor.headers())
    assert (missing.status_code, missing.get_json()["error"]) == (400, "client_id is missing")
    assert visitor.send("y" * 2000).status_code == 202  # the limit itself is allowed
    assert [event.payload["text"][:1] for event in inbox(shop)] == ["y"]


def test_over_the_visitors_rate_limit_is_429_with_retry_after(env: dict[str, str]) -> None:
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True,
                                                 "WEBCHAT_LIMITS": {"messages_per_visitor": "3/minute"}})
    try:
        browser = Visitor(app.test_client())
        browser.start()
        for n in range(3):
            assert browser.send(f"hello {n}").status_code == 202
        browser.origin = SHOP_SITE  # the widget on the shop's site must be able to read the refusal
        refused = browser.send("one more")
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        # Plain words for the visitor, not Flask-Limiter's "3 per 1 minute".
        assert refused.get_json()["error"].startswith("You're sending messages faster than we can read them")
        assert "per" not in refused.get_json()["error"]
        assert refused.headers["Access-Control-Allow-Origin"] == SHOP_SITE
        assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
        assert len(inbox(app)) == 3
        # Another visitor from the same address is not held back by the first one's limit.
        other = Visitor(app.test_client())
        other.start()
        assert other.send("hello").status_code == 202
    finally:
        get_db(app).dispose()


def test_the_limiter_sees_the_web_chats_requests_only(visitor: Visitor, shop: Flask) -> None:
    """Flask-Limiter's request hooks run for the limited views' blueprints, where they
    still add the rate-limit headers; a vendor's webhook or a probe never reaches them."""
    consulted: list[str | None] = []

    @shop.extensions[limits.EXTENSION].request_filter
    def _spy() -> bool:
        consulted.append(request.endpoint)
        return False

    client = shop.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.post("/webhooks/twilio/messages", data={"MessageSid": "SM1"}).status_code in (401, 403)
    assert consulted == []
    sent = visitor.send("hello")
    assert sent.status_code == 202 and sent.headers["X-RateLimit-Limit"] == "10"
    assert consulted and set(consulted) == {"webchat.post_message"}


def test_over_the_ips_session_limit_is_429(env: dict[str, str]) -> None:
    app = create_app(load_settings(env), config={"TESTING": True, "WEBCHAT_LIMITS": {"sessions_per_ip": "2/hour"}})
    try:
        client = app.test_client()
        first = client.post(f"/chat/{SLUG}/session", json={})
        assert [first.status_code] + [client.post(f"/chat/{SLUG}/session", json={}).status_code
                                      for _ in range(2)] == [200, 200, 429]
        refused = client.post(f"/chat/{SLUG}/session", json={})
        assert "Retry-After" in refused.headers and "new chats" in refused.get_json()["error"]
        # A returning visitor resumes with their token: not a new session, not counted, not refused.
        for _ in range(3):
            resumed = client.post(f"/chat/{SLUG}/session", json={"token": first.get_json()["token"]})
            assert resumed.status_code == 200 and resumed.get_json()["visitor"] == first.get_json()["visitor"]
        # A made-up token is a new session, and counted.
        assert client.post(f"/chat/{SLUG}/session", json={"token": "forged.token"}).status_code == 429
        # A preflight is not counted.
        assert client.options(f"/chat/{SLUG}/session").status_code == 204
    finally:
        get_db(app).dispose()


def test_an_unknown_account_is_404(shop: Flask) -> None:
    response = shop.test_client().post("/chat/nobody/session", json={})
    assert response.status_code == 404 and "nobody" in response.get_json()["error"]


def test_the_config_gives_the_name_colour_and_greeting(env: dict[str, str]) -> None:
    app = create_app(load_settings({**env, "SWITCHBOARD_COMPANY_NAME": "Acme",
                                     "SWITCHBOARD_WEBCHAT_COLOUR": "#AA3300",
                                     "SWITCHBOARD_WEBCHAT_GREETING": "Hi! Ask us anything."}),
                     config={"TESTING": True})
    try:
        answer = app.test_client().get(f"/chat/{SLUG}/config", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        assert answer.get_json() == {"name": "Acme", "colour": "#aa3300", "greeting": "Hi! Ask us anything.",
                                     "locale": "fr-FR"}
    finally:
        get_db(app).dispose()


def test_the_widgets_files_are_served_with_their_types_or_a_404_saying_what_is_missing(env: dict[str, str],
                                                                                          tmp_path: Path) -> None:
    assets = tmp_path / "widget-build"
    assets.mkdir()
    app = create_app(load_settings(env), config={"TESTING": True, "WEBCHAT_ASSETS": str(assets)})
    try:
        client = app.test_client()
        missing = client.get("/chat/widget.js")
        assert missing.status_code == 404
        assert "apps/webchat/assets/widget.js" in missing.get_json()["error"]
        (assets / "widget.js").write_text("console.log('chat');")
        (assets / "widget.css").write_text(".chat{}")
        (assets / "demo.html").write_text("<!doctype html><title>demo</title>")

        script = client.get("/chat/widget.js")
        assert (script.status_code, script.mimetype, script.get_data(as_text=True)) == (
            200, "text/javascript", "console.log('chat');")
        assert script.headers["Access-Control-Allow-Origin"] == "*"
        assert client.get("/chat/widget.css").mimetype == "text/css"
        assert client.get("/chat/demo").mimetype == "text/html"
    finally:
        get_db(app).dispose()

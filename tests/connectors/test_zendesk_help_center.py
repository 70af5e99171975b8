"""An approved knowledge draft created in a Help Center section, or an approved edit
of an existing article updating its translation (issue 38), against Zendesk's API faked
at the HTTP layer: the recorded body is what is sent, once per key, and a 429 is raised
with Zendesk's Retry-After instead of slept through."""
from __future__ import annotations

import json

import pytest
import responses
from sqlalchemy.orm import Session

from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.vendors.outbound import VendorError, VendorRateLimited
from switchboard.vendors.zendesk.connector import HELP_CENTER_ARTICLE, HELP_CENTER_TRANSLATION, ZendeskConnector

from .conftest import basic, outbox_rows

URL = "https://acme.zendesk.com/api/v2/help_center/sections/360001234567/articles.json"
PAYLOAD = {"section_id": "360001234567",
           "article": {"title": "Do you sell gift cards?", "body": "<p>Yes, from $10 to $200.</p>",
                       "locale": "en-us", "draft": True, "user_segment_id": None}}


def test_the_article_is_posted_to_its_section_once(session: Session, live_account: Account,
                                                   live_settings: Settings, http: responses.RequestsMock) -> None:
    http.post(URL, status=201, json={"article": {"id": 4401, "draft": True,
                                                 "html_url": "https://acme.zendesk.com/hc/en-us/articles/4401"}})
    connector = ZendeskConnector(session, live_account, live_settings)
    first = connector.call(HELP_CENTER_ARTICLE, PAYLOAD, idempotency_key="kb-draft:1:v1")
    again = ZendeskConnector(session, live_account, live_settings).call(
        HELP_CENTER_ARTICLE, PAYLOAD, idempotency_key="kb-draft:1:v1")
    [call] = http.calls
    assert json.loads(call.request.body or b"") == {"article": PAYLOAD["article"]}
    assert call.request.headers["Authorization"] == basic("bot@acme.test/token", "zendesk-api-token")
    assert first.response["article_id"] == 4401 and again.repeated
    assert [row.status for row in outbox_rows(session)] == ["sent"]


def test_a_rate_limit_is_raised_with_retry_after(session: Session, live_account: Account,
                                                 live_settings: Settings, http: responses.RequestsMock) -> None:
    http.post(URL, status=429, headers={"Retry-After": "7"}, json={"error": "TooManyRequests"})
    with pytest.raises(VendorRateLimited) as caught:
        ZendeskConnector(session, live_account, live_settings).call(HELP_CENTER_ARTICLE, PAYLOAD,
                                                                   idempotency_key="kb-draft:2:v1")
    assert caught.value.retry_after == 7 and len(http.calls) == 1


def test_the_sandbox_records_it_and_sends_nothing(session: Session, sandbox_account: Account,
                                                  sandbox_settings: Settings, http: responses.RequestsMock) -> None:
    result = ZendeskConnector(session, sandbox_account, sandbox_settings).call(
        HELP_CENTER_ARTICLE, PAYLOAD, idempotency_key="kb-draft:3:v1")
    assert len(http.calls) == 0 and result.call.status == "sandboxed" and result.call.payload == PAYLOAD
    assert result.response["draft"] is True


TRANSLATION_URL = "https://acme.zendesk.com/api/v2/help_center/articles/4409999001/translations/en-us.json"
TRANSLATION = {"article_id": 4409999001, "locale": "en-us",
               "translation": {"title": "How long are gift cards valid?", "body": "<p>24 months.</p>"}}


def test_an_edit_puts_the_articles_translation_once(session: Session, live_account: Account,
                                                    live_settings: Settings, http: responses.RequestsMock) -> None:
    http.put(TRANSLATION_URL, status=200, json={"translation": {"id": 77, "source_id": 4409999001,
                                                                "locale": "en-us", "title": "How long…"}})
    for _ in range(2):
        result = ZendeskConnector(session, live_account, live_settings).call(
            HELP_CENTER_TRANSLATION, TRANSLATION, idempotency_key="kb-draft:4:v2")
    [call] = http.calls
    assert call.request.method == "PUT" and json.loads(call.request.body or b"") == {
        "translation": TRANSLATION["translation"]}
    assert result.repeated and result.response == {"article_id": 4409999001, "locale": "en-us", "translation_id": 77}


def test_an_edit_zendesk_refuses_names_the_operation(session: Session, live_account: Account,
                                                     live_settings: Settings, http: responses.RequestsMock) -> None:
    http.put(TRANSLATION_URL, status=404, json={"error": "RecordNotFound"})
    with pytest.raises(VendorError, match="help_center.translations.update.*404"):
        ZendeskConnector(session, live_account, live_settings).call(HELP_CENTER_TRANSLATION, TRANSLATION,
                                                                   idempotency_key="kb-draft:5:v1")


LIVE_HTML = ('<p>Gift cards are valid for <strong>12 months</strong>. See <a href="/hc/en-us/articles/1">the terms</a>.'
             '</p><p><img src="https://acme.example/card.png"></p>')
EDIT = {"article_id": 4409999001, "locale": "en-us", "title": "How long are gift cards valid?",
        "edit": {"before": "Gift cards are valid for 12 months. See the terms.",
                 "after": "Gift cards are valid for 24 months. See the terms.\n\nThey work in our shops too."}}


def test_an_edit_is_applied_to_the_articles_html_as_zendesk_holds_it(
        session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock) -> None:
    http.get(TRANSLATION_URL, json={"translation": {"id": 77, "locale": "en-us", "title": "Old title",
                                                    "body": LIVE_HTML}})
    http.put(TRANSLATION_URL, json={"translation": {"id": 77, "source_id": 4409999001, "locale": "en-us"}})
    result = ZendeskConnector(session, live_account, live_settings).call(HELP_CENTER_TRANSLATION, EDIT,
                                                                         idempotency_key="kb-draft:6:v1")
    get, put = http.calls
    assert get.request.method == "GET" and put.request.method == "PUT"
    assert put.request.headers["Authorization"] == basic("bot@acme.test/token", "zendesk-api-token")
    assert json.loads(put.request.body or b"") == {"translation": {
        "title": "How long are gift cards valid?",
        "body": '<p>Gift cards are valid for <strong>24 months</strong>. See <a href="/hc/en-us/articles/1">the '
                'terms</a>.</p><p><img src="https://acme.example/card.png"></p><p>They work in our shops too.</p>'}}
    assert result.response == {"article_id": 4409999001, "locale": "en-us", "translation_id": 77}


def test_an_edit_to_an_article_changed_in_the_help_center_since_writes_nothing(
        session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock) -> None:
    http.get(TRANSLATION_URL, json={"translation": {"body": LIVE_HTML.replace("12 months", "18 months")}})
    with pytest.raises(VendorError, match="4409999001 .*Gift cards are valid for 12 months.* no longer in the Help"):
        ZendeskConnector(session, live_account, live_settings).call(HELP_CENTER_TRANSLATION, EDIT,
                                                                   idempotency_key="kb-draft:7:v1")
    assert [call.request.method for call in http.calls] == ["GET"]
    assert [row.status for row in outbox_rows(session)] == ["failed"]

"""An approved knowledge draft created in a Help Center section, or an approved edit
of an existing article updating its translation (issue 38), against Zendesk's API faked
at the HTTP layer: the recorded body is what is sent, once per key, and a 429 is raised
with Zendesk's Retry-After instead of slept through."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import responses
from sqlalchemy.orm import Session

from switchboard import wiring
from switchboard.core import kb_publish
from switchboard.core.accounts import ensure_default_account
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.records import Article
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, KbDraft
from switchboard.vendors.outbound import VendorError, VendorRateLimited
from switchboard.vendors.zendesk.connector import HELP_CENTER_ARTICLE, HELP_CENTER_TRANSLATION, ZendeskConnector

from .conftest import LIVE_ENV, basic, outbox_rows

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


@pytest.mark.parametrize(("setting", "sent"), [("1", {"draft": True}), ("0", {})])
def test_an_approved_edit_is_a_help_center_draft_when_the_setting_says_so(
        session: Session, make_settings: Callable[..., Settings], http: responses.RequestsMock,
        setting: str, sent: dict[str, bool]) -> None:
    """kb_publish through the outbox to Zendesk (faked at HTTP): with
    SWITCHBOARD_HELP_CENTER_DRAFT=1 the edit's translation is PUT with ``draft: true``,
    so it does not go live before an editor publishes it; with 0 without ``draft``."""
    settings = make_settings(**LIVE_ENV, SWITCHBOARD_HELP_CENTER_DRAFT=setting, SWITCHBOARD_EMBEDDINGS="none")
    account = ensure_default_account(session, settings)
    wiring.install()
    live = Article(id="4409999001", title="How long are gift cards valid?", body="Gift cards are valid for 12 months.")
    KnowledgeBase.of(session, account.id, settings).import_articles([live], source="help_center")
    draft = KbDraft(account_id=account.id, status="approved", version=1, approved_version=1, kind="edit",
                    target_article_id=live.id, title=live.title, body="Gift cards are valid for 24 months.",
                    base_body=live.body, questions=[], sources=[], proof={}, versions=[])
    session.add(draft)
    session.flush()
    http.put(TRANSLATION_URL, status=200, json={"translation": {"id": 78, "source_id": 4409999001,
                                                                "locale": "en-us", "draft": setting == "1"}})
    published = kb_publish.publish(session, account, settings, draft)
    [call] = http.calls
    assert json.loads(call.request.body or b"") == {"translation": {
        "title": live.title, "body": "<p>Gift cards are valid for 24 months.</p>", **sent}}
    [row] = [r for r in outbox_rows(session) if r.operation == HELP_CENTER_TRANSLATION]
    assert row.status == "sent" and published["outbox_call_id"] == row.id

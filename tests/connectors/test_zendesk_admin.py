"""Provisioning the Zendesk webhook and triggers from manifests, against a fake
Zendesk at the HTTP layer.

The fake keeps what it is sent and answers lists the way Zendesk does (cursor pages,
extra fields such as url and position, condition values as strings, "any": [] when
it was omitted), so "a second run writes nothing" is tested against what Zendesk
gives back, not against what the code sent.
"""
from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import yaml
from flask import Flask

from switchboard.app import event_handlers
from switchboard.core.settings import Settings
from switchboard.vendors.twilio import blueprint as twilio_blueprint
from switchboard.vendors.zendesk import blueprint as zendesk_blueprint
from switchboard.vendors.zendesk.admin import (
    MANIFESTS_DIR,
    AmbiguousMatch,
    ManifestError,
    ProvisionError,
    WebhookConnectionConflict,
    ZendeskCredentialsRejected,
    ZendeskRateLimited,
    ZendeskRequestFailed,
    provision,
    provision_from_settings,
)

from .conftest import LIVE_ENV, basic

BASE = "https://acme.zendesk.com"
AUTH = basic("bot@acme.test/token", "zendesk-api-token")
SECRET = "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz"
FIXTURES = Path(__file__).parent / "fixtures" / "zendesk_admin"
EVENTS = ["zen:event-type:ticket.comment_added", "zen:event-type:ticket.status_changed"]
Reply = tuple[int, dict[str, str], str]


class FakeZendesk:
    """Webhooks and triggers as Zendesk keeps them; ``fail`` queues an error answer
    for the next request matching (method, path)."""

    def __init__(self, mock: responses.RequestsMock, page_limit: int = 100) -> None:
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, dict[str, Any]] = {}
        self.page_limit = page_limit
        self.failures: dict[tuple[str, str], Reply] = {}
        self._ids = itertools.count(1)
        self.mock = mock
        for method in ("GET", "POST", "PUT"):
            mock.add_callback(method, re.compile(re.escape(BASE) + r"/api/v2/.*"), callback=self._answer)

    # -- state a test can set up or inspect --------------------------------------
    def add_webhook(self, **fields: Any) -> dict[str, Any]:
        hook_id = f"01HWEBHOOK{next(self._ids):016d}"
        self.webhooks[hook_id] = {"id": hook_id, "created_at": "2026-11-01T00:00:00Z", "created_by": "1",
                                  "signing_secret": None, **fields}
        return self.webhooks[hook_id]

    def add_trigger(self, **fields: Any) -> dict[str, Any]:
        trigger_id = str(36000000000 + next(self._ids))
        self.triggers[trigger_id] = self._as_stored(trigger_id, fields)
        return self.triggers[trigger_id]

    def _as_stored(self, trigger_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        conditions = fields.get("conditions") or {}
        return {"id": int(trigger_id), "url": f"{BASE}/api/v2/triggers/{trigger_id}.json",
                "position": len(self.triggers) + 1, "default": False, "raw_title": fields.get("title"),
                "category_id": "9000", "active": True, "description": None, **fields,
                # Zendesk answers condition values as strings, and always both groups.
                "conditions": {group: [{**c, "value": _stringly(c.get("value"))}
                                       for c in conditions.get(group) or []] for group in ("all", "any")}}

    def fail(self, method: str, path: str, status: int, body: dict[str, Any],
             headers: dict[str, str] | None = None) -> None:
        self.failures[(method, path)] = (status, headers or {}, json.dumps(body))

    def writes(self) -> list[tuple[str, str, Any]]:
        return [(str(c.request.method), urlsplit(str(c.request.url)).path, sent_json(c.request))
                for c in self.mock.calls if c.request.method in ("POST", "PUT")]

    # -- the HTTP side -------------------------------------------------------------
    def _answer(self, request: requests.PreparedRequest) -> Reply:
        assert request.headers["Authorization"] == AUTH
        method, parts = str(request.method), urlsplit(str(request.url))
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        failure = self.failures.pop((method, parts.path), None)
        if failure:
            return failure
        body = sent_json(request)
        route = (method, parts.path)
        if route == ("GET", "/api/v2/webhooks"):
            found = [h for h in self.webhooks.values() if query.get("filter[name_contains]", "") in h["name"]]
            return self._page("/api/v2/webhooks", "webhooks", found, query)
        if route == ("POST", "/api/v2/webhooks"):
            return 201, {}, json.dumps({"webhook": self.add_webhook(**body["webhook"])})
        if route == ("GET", "/api/v2/triggers"):
            return self._page("/api/v2/triggers", "triggers", list(self.triggers.values()), query)
        if route == ("POST", "/api/v2/triggers"):
            return 201, {}, json.dumps({"trigger": self.add_trigger(**body["trigger"])})
        hook = re.fullmatch(r"/api/v2/webhooks/(\w+)(/signing_secret)?", parts.path)
        if hook and hook.group(1) in self.webhooks:
            if method == "GET" and hook.group(2):
                return 200, {}, json.dumps({"signing_secret": {"algorithm": "SHA256", "secret": SECRET}})
            if method == "PUT" and not hook.group(2):
                kept = {k: v for k, v in self.webhooks[hook.group(1)].items() if k in ("id", "created_at")}
                self.webhooks[hook.group(1)] = {**kept, **body["webhook"]}
                return 204, {}, ""
        trigger = re.fullmatch(r"/api/v2/triggers/(\d+)", parts.path)
        if trigger and trigger.group(1) in self.triggers and method == "PUT":
            self.triggers[trigger.group(1)] = self._as_stored(trigger.group(1), body["trigger"])
            return 200, {}, json.dumps({"trigger": self.triggers[trigger.group(1)]})
        return 404, {}, json.dumps({"error": "InvalidEndpoint", "description": "Not found"})

    def _page(self, path: str, key: str, items: list[dict[str, Any]], query: dict[str, str]) -> Reply:
        size = min(int(query.get("page[size]", 100)), self.page_limit)
        start = int(query.get("page[after]", 0))
        chunk, more = items[start:start + size], start + size < len(items)
        links = {"next": f"{BASE}{path}?page%5Bafter%5D={start + size}&page%5Bsize%5D={size}" if more else None,
                 "prev": None}
        meta = {"has_more": more, "after_cursor": str(start + size) if more else None, "before_cursor": None}
        return 200, {}, json.dumps({key: chunk, "links": links, "meta": meta})


def sent_json(request: requests.PreparedRequest) -> Any:
    raw = cast(str | bytes | None, request.body)
    return json.loads(raw) if raw else {}


def _stringly(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeZendesk(mock)


@pytest.fixture
def trigger_manifests(tmp_path: Path) -> Path:
    """A manifests folder for the trigger-connected set-up, built from fixtures."""
    root = tmp_path / "zendesk"
    (root / "triggers").mkdir(parents=True)
    shutil.copy(FIXTURES / "trigger_mode_webhook.json", root / "webhook.json")
    shutil.copy(FIXTURES / "trigger_agent_reply.json", root / "triggers" / "agent-reply.json")
    shutil.copy(FIXTURES / "trigger_ticket_solved.json", root / "triggers" / "ticket-solved.json")
    return root


def run(public_url: str = "https://support.example.com", **kwargs: Any) -> Any:
    return provision(subdomain="acme", email="bot@acme.test", api_token="zendesk-api-token",
                     public_url=public_url, **kwargs)


# --- the shipped manifests: one event-subscribed webhook --------------------------


def test_first_run_creates_the_webhook_subscribed_to_ticket_events(zendesk: FakeZendesk) -> None:
    report = run("https://support.example.com/")

    [(method, path, sent)] = zendesk.writes()
    assert (method, path) == ("POST", "/api/v2/webhooks")
    assert sent["webhook"] == {
        "name": "Switchboard",
        "description": sent["webhook"]["description"],
        "endpoint": "https://support.example.com/webhooks/zendesk",
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": EVENTS,
    }
    assert "$comment" not in json.dumps(sent)
    [item] = report.items
    assert (item.kind, item.name, item.action) == ("webhook", "Switchboard", "created")
    assert item.id in zendesk.webhooks and report.webhook_id == item.id
    assert report.signing_secret == SECRET
    assert report.changed and report.stale_triggers == ()
    assert f"ZENDESK_WEBHOOK_SECRET={SECRET}" in report.lines()


def test_second_run_writes_nothing_and_reports_unchanged(zendesk: FakeZendesk) -> None:
    first = run()
    calls_before = len(zendesk.mock.calls)

    second = run()

    later = list(zendesk.mock.calls)[calls_before:]
    assert [c.request.method for c in later] == ["GET", "GET", "GET"]  # webhooks, triggers, secret
    assert [(i.action, i.id) for i in second.items] == [("unchanged", first.webhook_id)]
    assert not second.changed and second.signing_secret == SECRET


def test_a_new_public_url_updates_the_same_webhook(zendesk: FakeZendesk) -> None:
    first = run("https://old.example.com")

    second = run("https://new.example.com")

    method, path, sent = zendesk.writes()[-1]
    assert (method, path) == ("PUT", f"/api/v2/webhooks/{first.webhook_id}")
    assert sent["webhook"]["endpoint"] == "https://new.example.com/webhooks/zendesk"
    assert sent["webhook"]["subscriptions"] == EVENTS
    assert [(i.action, i.id) for i in second.items] == [("updated", first.webhook_id)]
    assert len(zendesk.webhooks) == 1
    assert run("https://new.example.com").changed is False


def test_a_webhook_edited_in_zendesk_is_put_back(zendesk: FakeZendesk) -> None:
    hook = zendesk.add_webhook(name="Switchboard", endpoint="https://support.example.com/webhooks/zendesk",
                               http_method="POST", request_format="json", status="inactive",
                               subscriptions=EVENTS[:1], description="hand-made")

    report = run()

    [(method, path, sent)] = zendesk.writes()
    assert (method, path) == ("PUT", f"/api/v2/webhooks/{hook['id']}")
    assert sent["webhook"]["status"] == "active" and sent["webhook"]["subscriptions"] == EVENTS
    assert report.items[0].action == "updated"


def test_similar_names_across_pages_are_not_mistaken_for_ours(zendesk: FakeZendesk) -> None:
    zendesk.page_limit = 1
    zendesk.add_webhook(name="Switchboard staging", endpoint="https://staging.example.com/webhooks/zendesk",
                        http_method="POST", request_format="json", status="active", subscriptions=EVENTS)
    ours = zendesk.add_webhook(name="Switchboard", endpoint="https://support.example.com/webhooks/zendesk",
                               http_method="POST", request_format="json", status="active", subscriptions=EVENTS,
                               description=json.loads((MANIFESTS_DIR / "webhook.json").read_text())["description"])

    report = run()

    assert zendesk.writes() == []
    assert report.items[0].id == ours["id"]
    listed = [str(c.request.url) for c in zendesk.mock.calls
              if urlsplit(str(c.request.url)).path == "/api/v2/webhooks"]
    assert len(listed) == 2 and "page%5Bafter%5D=1" in listed[1]


def test_two_webhooks_with_our_name_are_refused(zendesk: FakeZendesk) -> None:
    for _ in range(2):
        zendesk.add_webhook(name="Switchboard", endpoint="https://x.example.com", http_method="POST",
                            request_format="json", status="active", subscriptions=EVENTS)

    with pytest.raises(AmbiguousMatch, match="2 webhooks named 'Switchboard'"):
        run()
    assert zendesk.writes() == []


def test_a_trigger_connected_webhook_cannot_become_event_subscribed(zendesk: FakeZendesk) -> None:
    zendesk.add_webhook(name="Switchboard", endpoint="https://support.example.com/webhooks/zendesk",
                        http_method="POST", request_format="json", status="active",
                        subscriptions=["conditional_ticket_events"])

    with pytest.raises(WebhookConnectionConflict) as caught:
        run()

    assert "Delete it" in str(caught.value) and "ZENDESK_WEBHOOK_SECRET" in str(caught.value)
    assert zendesk.writes() == []


# --- the trigger-connected variant ----------------------------------------------------


def test_trigger_mode_creates_the_webhook_then_triggers_that_name_it(
    zendesk: FakeZendesk, trigger_manifests: Path
) -> None:
    zendesk.page_limit = 1
    theirs = zendesk.add_trigger(title="Notify requester of solved request", actions=[],
                                 conditions={"all": [{"field": "status", "operator": "is", "value": "solved"}]})

    report = run(manifests_dir=trigger_manifests)

    writes = zendesk.writes()
    assert [(m, p) for m, p, _ in writes] == [("POST", "/api/v2/webhooks"), ("POST", "/api/v2/triggers"),
                                              ("POST", "/api/v2/triggers")]
    webhook = writes[0][2]["webhook"]
    assert webhook["subscriptions"] == ["conditional_ticket_events"]
    assert webhook["endpoint"] == "https://support.example.com/webhooks/zendesk"
    reply, solved = (w[2]["trigger"] for w in writes[1:])
    assert reply["title"] == "[Switchboard] Deliver agent public replies"
    [action] = reply["actions"]
    assert action["field"] == "notification_webhook"
    hook_id, body = action["value"]
    assert hook_id == report.webhook_id
    assert json.loads(body) == {"event": "agent_reply", "ticket_id": "{{ticket.id}}",
                                "author_id": "{{current_user.id}}", "body": "{{ticket.latest_public_comment}}"}
    assert {"field": "comment_is_public", "operator": "is", "value": "true"} in reply["conditions"]["all"]
    assert solved["actions"][0]["value"][0] == report.webhook_id
    assert json.loads(solved["actions"][0]["value"][1])["event"] == "ticket_solved"
    assert [(i.kind, i.action) for i in report.items] == [("webhook", "created"), ("trigger", "created"),
                                                          ("trigger", "created")]
    assert zendesk.triggers[str(theirs["id"])] == theirs  # the account's own trigger is untouched
    assert report.stale_triggers == ()  # and not taken for one of ours


def test_trigger_mode_second_run_writes_nothing(zendesk: FakeZendesk, trigger_manifests: Path) -> None:
    run(manifests_dir=trigger_manifests)
    writes_before = len(zendesk.writes())

    report = run(manifests_dir=trigger_manifests)

    assert len(zendesk.writes()) == writes_before
    assert [i.action for i in report.items] == ["unchanged"] * 3


def test_a_trigger_changed_in_zendesk_is_put_back_whole(zendesk: FakeZendesk, trigger_manifests: Path) -> None:
    first = run(manifests_dir=trigger_manifests)
    reply = next(t for t in zendesk.triggers.values() if "replies" in t["title"])
    reply["active"] = False

    second = run(manifests_dir=trigger_manifests)

    method, path, sent = zendesk.writes()[-1]
    assert (method, path) == ("PUT", f"/api/v2/triggers/{reply['id']}")
    assert sent["trigger"]["active"] is True and sent["trigger"]["conditions"]["all"]
    assert sent["trigger"]["actions"][0]["value"][0] == first.webhook_id
    assert [i.action for i in second.items] == ["unchanged", "updated", "unchanged"]


def test_our_triggers_no_manifest_declares_are_reported_not_touched(
    zendesk: FakeZendesk, trigger_manifests: Path
) -> None:
    old = zendesk.add_trigger(title="[Switchboard] Old experiment", actions=[], conditions={})

    report = run(manifests_dir=trigger_manifests)

    assert report.stale_triggers == ("[Switchboard] Old experiment",)
    assert all(not path.endswith(str(old["id"])) for _, path, _ in zendesk.writes())
    assert any("stale" in line and "Old experiment" in line for line in report.lines())


def test_condition_values_zendesk_answers_as_strings_do_not_count_as_changes(
    zendesk: FakeZendesk, trigger_manifests: Path
) -> None:
    path = trigger_manifests / "triggers" / "agent-reply.json"
    manifest = json.loads(path.read_text())
    manifest["conditions"]["all"] = [{"field": "comment_is_public", "operator": "is", "value": True},
                                     {"field": "current_via_id", "operator": "is_not", "value": 5}]
    path.write_text(json.dumps(manifest))
    run(manifests_dir=trigger_manifests)
    writes_before = len(zendesk.writes())

    report = run(manifests_dir=trigger_manifests)

    assert len(zendesk.writes()) == writes_before
    assert [i.action for i in report.items] == ["unchanged"] * 3


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_name_the_variables_to_check(zendesk: FakeZendesk, status: int) -> None:
    zendesk.fail("GET", "/api/v2/webhooks", status, {"error": "Couldn't authenticate you"})

    with pytest.raises(ZendeskCredentialsRejected) as caught:
        run()

    message = str(caught.value)
    assert "ZENDESK_EMAIL" in message and "ZENDESK_API_TOKEN" in message
    assert f"HTTP {status}" in message and "Couldn't authenticate you" in message
    assert caught.value.status == status
    assert zendesk.writes() == []


def test_rate_limit_stops_with_the_retry_after_zendesk_sent(zendesk: FakeZendesk) -> None:
    zendesk.fail("POST", "/api/v2/webhooks", 429, {"error": "TooManyRequests"}, headers={"Retry-After": "37"})

    with pytest.raises(ZendeskRateLimited) as caught:
        run()

    assert caught.value.retry_after == 37.0
    assert "wait 37 s" in str(caught.value) and "creating the webhook 'Switchboard'" in str(caught.value)
    assert zendesk.webhooks == {}


def test_a_refused_webhook_names_the_manifest_and_zendesks_words(zendesk: FakeZendesk) -> None:
    zendesk.fail("POST", "/api/v2/webhooks", 400, {"errors": [
        {"code": "InvalidValue", "title": "Invalid endpoint", "detail": "endpoint must be a valid HTTPS URL"}]})

    with pytest.raises(ZendeskRequestFailed) as caught:
        run("http://support.example.com")

    message = str(caught.value)
    assert str(MANIFESTS_DIR / "webhook.json") in message
    assert "Invalid endpoint: endpoint must be a valid HTTPS URL" in message and "HTTP 400" in message
    assert caught.value.status == 400


def test_a_refused_trigger_names_its_own_manifest(zendesk: FakeZendesk, trigger_manifests: Path) -> None:
    zendesk.fail("POST", "/api/v2/triggers", 422, {
        "error": "RecordInvalid", "description": "Record validation errors",
        "details": {"actions": [{"description": "Notify active webhook is invalid"}]}})

    with pytest.raises(ZendeskRequestFailed) as caught:
        run(manifests_dir=trigger_manifests)

    message = str(caught.value)
    assert "agent-reply.json" in message and "[Switchboard] Deliver agent public replies" in message
    assert "Record validation errors" in message and "actions: Notify active webhook is invalid" in message


def test_provisioning_resumes_after_a_failure_half_way(zendesk: FakeZendesk, trigger_manifests: Path) -> None:
    zendesk.fail("POST", "/api/v2/triggers", 429, {}, headers={"Retry-After": "5"})
    with pytest.raises(ZendeskRateLimited):
        run(manifests_dir=trigger_manifests)

    report = run(manifests_dir=trigger_manifests)

    assert [i.action for i in report.items] == ["unchanged", "created", "created"]
    assert len(zendesk.webhooks) == 1 and len(zendesk.triggers) == 2


# --- manifests are checked before any request ---------------------------------------


def write(root: Path, name: str, body: Any) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(body if isinstance(body, str) else json.dumps(body))


BAD_MANIFESTS = [
    (lambda root: (root / "triggers" / "agent-reply.json").write_text(
        json.dumps({**json.loads((root / "triggers" / "agent-reply.json").read_text()), "title": "Reply"})),
     "must contain '[Switchboard]'"),
    (lambda root: shutil.copy(MANIFESTS_DIR / "webhook.json", root / "webhook.json"),
     "only a webhook with subscriptions ['conditional_ticket_events']"),
    (lambda root: write(root, "webhook.json", (root / "webhook.json").read_text().replace(
        "{{PUBLIC_URL}}", "{{PUBLIC_ULR}}")), "uses {{PUBLIC_ULR}}"),
    (lambda root: write(root, "webhook.json", '{"name": "Switchboard",\n "endpoint": }'),
     "is not valid JSON: Expecting value at line 2"),
    (lambda root: write(root, "triggers/copy.json", json.loads((root / "triggers" / "agent-reply.json").read_text())),
     "both declare '[Switchboard] Deliver agent public replies'"),
    (lambda root: write(root, "triggers/fixed-id.json", {
        "title": "[Switchboard] Fixed", "conditions": {}, "actions": [
            {"field": "notification_webhook", "value": ["01HABC", {"event": "x"}]}]}),
     "value must be ['{{WEBHOOK_ID}}'"),
    (lambda root: (root / "webhook.json").unlink(), "webhook.json does not exist"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_MANIFESTS, ids=[
    "untagged-title", "triggers-with-event-webhook", "unknown-placeholder", "invalid-json", "duplicate-title",
    "hard-coded-webhook-id", "missing-webhook-file"])
def test_a_bad_manifest_stops_before_any_request(
    zendesk: FakeZendesk, trigger_manifests: Path, change: Callable[[Path], Any], expected: str
) -> None:
    change(trigger_manifests)

    with pytest.raises(ManifestError, match=re.escape(expected)):
        run(manifests_dir=trigger_manifests)

    assert len(zendesk.mock.calls) == 0


def test_a_public_url_that_is_not_a_url_names_the_variable(zendesk: FakeZendesk) -> None:
    with pytest.raises(ProvisionError, match="SWITCHBOARD_PUBLIC_URL"):
        run("support.example.com")
    assert len(zendesk.mock.calls) == 0


# --- the CLI's entry point -----------------------------------------------------------


def test_provision_from_settings_uses_the_default_accounts_variables(
    zendesk: FakeZendesk, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(**LIVE_ENV, SWITCHBOARD_PUBLIC_URL="https://support.example.com/")

    report = provision_from_settings(settings)

    assert report.signing_secret == SECRET
    [(_, _, sent)] = zendesk.writes()
    assert sent["webhook"]["endpoint"] == "https://support.example.com/webhooks/zendesk"


def test_provision_from_settings_names_every_missing_variable(
    zendesk: FakeZendesk, make_settings: Callable[..., Settings]
) -> None:
    with pytest.raises(ProvisionError) as caught:
        provision_from_settings(make_settings(ZENDESK_SUBDOMAIN="acme"))

    message = str(caught.value)
    for variable in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SWITCHBOARD_PUBLIC_URL"):
        assert variable in message
    assert "ZENDESK_SUBDOMAIN" not in message
    assert len(zendesk.mock.calls) == 0


# --- the manifests name URLs Switchboard actually serves -----------------------------


def test_every_url_in_the_manifests_is_a_post_route_switchboard_serves() -> None:
    app = Flask("manifest-check")
    app.register_blueprint(twilio_blueprint)
    app.register_blueprint(zendesk_blueprint)
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods or ()}
    webhook = json.loads((MANIFESTS_DIR / "webhook.json").read_text())
    twilio = (MANIFESTS_DIR.parent / "twilio.yaml").read_text()
    twilio_urls = set(re.findall(r"\{\{PUBLIC_URL\}\}(/[\w/]+)", twilio))

    assert (webhook["endpoint"].removeprefix("{{PUBLIC_URL}}"), webhook["http_method"]) in routes
    assert twilio_urls == {"/webhooks/twilio/messages", "/webhooks/twilio/status", "/webhooks/twilio/voice",
                           "/webhooks/twilio/voice/status"}
    assert {(path, "POST") for path in twilio_urls} <= routes
    assert yaml.safe_load(twilio)["opt_out"]["keywords"]["opt_in"] == ["START", "YES", "UNSTOP"]


def test_every_subscribed_event_type_has_a_handler() -> None:
    """A subscription without a handler would fill the inbox with events nobody acts on."""
    webhook = json.loads((MANIFESTS_DIR / "webhook.json").read_text())

    kinds = {"zendesk." + event.removeprefix("zen:event-type:") for event in webhook["subscriptions"]}

    assert kinds == {"zendesk.ticket.comment_added", "zendesk.ticket.status_changed"}
    assert kinds <= event_handlers().kinds()


def test_the_cli_provisions_then_reports_unchanged(zendesk: FakeZendesk, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from switchboard.cli import main

    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path), "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@acme.test",
           "ZENDESK_API_TOKEN": "zendesk-api-token", "SWITCHBOARD_PUBLIC_URL": "https://support.example.com"}
    first = CliRunner().invoke(main, ["zendesk", "provision"], env=env)
    assert first.exit_code == 0, first.output
    assert "webhook  created" in first.output and "ZENDESK_WEBHOOK_SECRET=" in first.output
    second = CliRunner().invoke(main, ["zendesk", "provision"], env=env)
    assert "webhook  unchanged" in second.output
    missing = CliRunner().invoke(main, ["zendesk", "provision"], env={**env, "SWITCHBOARD_PUBLIC_URL": ""})
    assert missing.exit_code != 0 and "SWITCHBOARD_PUBLIC_URL" in missing.output

"""schemathesis against our own OpenAPI description (switchboard/openapi.yaml, served
at GET /api/openapi.json): generated requests, authenticated and not, never get a 5xx,
and every answer conforms to the documented status codes, content types and schemas.

The description must name every /api/ route of the app (and the web chat's public
/chat/ routes), with its methods: a route added without documentation fails by name,
and is then fuzzed like the others."""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from switchboard.app import create_app
from switchboard.core import accounts
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import _truncate_postgres, base_env
from ..selfservice.test_selfservice_over_twilio import inbound
from .conftest import vendor_for

pytestmark = pytest.mark.slow  # schemathesis walks every operation of the API on both databases

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OUTREACH = {"SWITCHBOARD_SLACK_APPROVAL_CHANNEL": "C0APPROVE1"}


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    """Outreach set up (an approval channel), so a campaign can be created, not only refused."""
    return {**env, **OUTREACH}


def key_for(app: Flask) -> str:
    """An API key of the default account, once a customer has written in (so there is a
    conversation to read)."""
    vendor_for(app).twilio("/webhooks/twilio/messages", inbound("how long does delivery take?"))
    with get_db(app).session() as session:
        account = accounts.by_slug(session, "default")
        assert account is not None
        return accounts.create_api_key(session, account)


@pytest.fixture
def api_key(app: Flask) -> str:
    return key_for(app)


@pytest.fixture
def both_databases(tmp_path: Path, sqlite_template: Path, pg_url: str) -> Iterator[list[tuple[str, Flask, str]]]:
    """The app on SQLite and on PostgreSQL, each with its API key. Every generated case is
    sent to both: generating the cases is most of the walk's time, and one walk then
    proves both databases (the same requests in the same order, so their states stay alike)."""
    shutil.copyfile(sqlite_template, tmp_path / "switchboard.db")
    _truncate_postgres(pg_url)
    apps = {}
    for name, url in (("sqlite", f"sqlite:///{tmp_path / 'switchboard.db'}"), ("postgresql", pg_url)):
        (tmp_path / name).mkdir()
        settings = load_settings({**base_env(tmp_path / name, url), **OUTREACH})
        apps[name] = create_app(settings, config={"TASKS_INLINE": True, "TESTING": True})
    yield [(name, app, key_for(app)) for name, app in apps.items()]
    for app in apps.values():
        get_db(app).dispose()


@pytest.fixture
def api_schema(app: Flask):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture
def walked_schema(both_databases: list[tuple[str, Flask, str]]):  # type: ignore[no-untyped-def]
    """The description as the first app serves it (both serve the same one)."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", both_databases[0][1])


def call_both(case, both_databases: list[tuple[str, Flask, str]], key: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """The case sent to each database's app and checked; a failure says which database."""
    for name, app, api_key in both_databases:
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {key or api_key}"}, checks=CHECKS, app=app)
        except Exception as failure:
            failure.add_note(f"(on {name})")
            raise


schema = schemathesis.pytest.from_fixture("walked_schema")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
#: The routes the description must name: the API, and the web chat widget's public API.
DESCRIBED = ("/api/", "/chat/")


def openapi_path(rule: str) -> str:
    """Flask's "/x/<int:ticket_id>/<name>" as OpenAPI's "/x/{ticket_id}/{name}"."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_path_converts_every_kind_of_variable() -> None:
    assert openapi_path("/api/t/<int:ticket_id>/actions/<name>") == "/api/t/{ticket_id}/actions/{name}"
    assert openapi_path("/api/f/<path:file_name>") == "/api/f/{file_name}"


def test_the_description_documents_every_api_route_and_method(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    served = {(method, openapi_path(rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(DESCRIBED) for method in (rule.methods or set()) - IGNORED_METHODS}
    undocumented = sorted(served - documented)
    assert not undocumented, ("these /api/ and /chat/ routes are missing from switchboard/openapi.yaml: "
                              + ", ".join(f"{m} {p}" for m, p in undocumented))
    assert not sorted(documented - served), f"documented but not served: {sorted(documented - served)}"


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_description(case, both_databases) -> None:  # type: ignore[no-untyped-def]
    call_both(case, both_databases)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_without_a_key_is_refused_as_documented(case, both_databases) -> None:  # type: ignore[no-untyped-def]
    call_both(case, both_databases, key="sb_not-a-key")


def test_the_new_routes_answer_their_documented_successes(  # type: ignore[no-untyped-def]
        app: Flask, api_key: str, api_schema) -> None:
    """Random ids rarely hit a real campaign or execution: the success paths of the
    outreach and governed-action routes are walked once on purpose, with the documented
    examples, and each answer is checked against the description like the fuzzed ones."""
    auth = {"Authorization": f"Bearer {api_key}"}
    document = app.test_client().get("/api/openapi.json").get_json()
    campaign_example = document["components"]["schemas"]["CampaignRequest"]["example"]

    def call(path: str, method: str, **kwargs):  # type: ignore[no-untyped-def]
        case = api_schema[path][method].Case(media_type="application/json" if "body" in kwargs else None, **kwargs)
        return case.call_and_validate(headers=auth, checks=CHECKS)

    created = call("/api/outreach/campaigns", "POST", body=campaign_example, headers={"Idempotency-Key": "st-1"})
    assert created.status_code == 201, created.text
    again = call("/api/outreach/campaigns", "POST", body=campaign_example, headers={"Idempotency-Key": "st-1"})
    assert (again.status_code, again.json()["id"]) == (200, created.json()["id"])
    fetched = call("/api/outreach/campaigns/{campaign_id}", "GET",
                   path_parameters={"campaign_id": created.json()["id"]})
    assert fetched.status_code == 200 and fetched.json()["name"] == campaign_example["name"]

    operation = document["paths"]["/api/sidebar/tickets/{ticket_id}/governed-actions/{name}"]["post"]
    note = operation["requestBody"]["content"]["application/json"]["example"]
    ran = call("/api/sidebar/tickets/{ticket_id}/governed-actions/{name}", "POST",
               path_parameters={"ticket_id": 5158, "name": "add_note"}, body=note, headers={"Idempotency-Key": "st-2"})
    assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
    confirmed = call("/api/sidebar/governed-actions/{execution_id}/confirm", "POST",
                     path_parameters={"execution_id": ran.json()["id"]})
    assert confirmed.status_code == 200 and confirmed.json()["repeated"] is True
    listed = call("/api/sidebar/tickets/{ticket_id}/governed-actions", "GET", path_parameters={"ticket_id": 5158})
    assert [e["id"] for e in listed.json()["executions"]] == [ran.json()["id"]]

"""schemathesis against our own OpenAPI description (switchboard/openapi.yaml, served
at GET /api/openapi.json): generated requests, authenticated and not, never get a 5xx,
and every answer conforms to the documented status codes, content types and schemas."""
from __future__ import annotations

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

from switchboard.core import accounts
from switchboard.db import get_db

from ..selfservice.test_selfservice_over_twilio import inbound
from .conftest import vendor_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_key(app: Flask) -> str:
    vendor_for(app).twilio("/webhooks/twilio/messages", inbound("how long does delivery take?"))
    with get_db(app).session() as session:
        account = accounts.by_slug(session, "default")
        assert account is not None
        return accounts.create_api_key(session, account)


@pytest.fixture
def api_schema(app: Flask):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


def test_the_description_is_served_and_lists_every_api_route_of_api_and_sidebar(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").get_json()
    documented = {path for path in document["paths"]}
    ours = {rule.rule.replace("<int:", "{").replace(">", "}") for rule in app.url_map.iter_rules()
            if rule.endpoint.split(".")[0] in ("api", "sidebar")}
    assert ours == documented


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_description(case, api_key: str) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_without_a_key_is_refused_as_documented(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": "Bearer sb_not-a-key"}, checks=CHECKS)

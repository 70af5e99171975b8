"""Governed actions against a real loopback order system, a real policy file and the
signed vendor webhooks."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.actions.policy import DEFAULT_FILE as DEFAULT_POLICY
from switchboard.core.settings import load_settings
from switchboard.core.store.models import OutboxCall
from switchboard.intake.db import get_db

from ..conftest import base_env
from ..fakes.openai_server import FakeOpenAI
from .order_server import TOKEN, OrderServer

CUSTOMER = "+14155550100"
OTHER = "+14155550199"
APPROVER, BYSTANDER = "U0SUPER1", "U0AGENT9"
MESSAGES = "/webhooks/twilio/messages"
_sid = iter(range(1, 100_000))


def days_ago(n: int) -> str:
    return (datetime.now(UTC) - timedelta(days=n)).isoformat()


def orders() -> dict[str, dict[str, Any]]:
    def order(oid: str, total: float, delivered: int, phone: str = CUSTOMER) -> dict[str, Any]:
        return {"id": oid, "status": "delivered", "total": total, "currency": "USD",
                "placed_at": days_ago(delivered + 3), "delivered_at": days_ago(delivered), "eta": None,
                "customer": {"phone": phone}}
    shipped = {**order("A1001", 42.5, 2), "status": "shipped", "delivered_at": None, "eta": "Friday"}
    return {"A1001": shipped, "A1002": order("A1002", 180.0, 3), "A1003": order("A1003", 30.0, 60),
            "A1004": order("A1004", 90.0, 5), "A1005": order("A1005", 95.0, 4), "A1006": order("A1006", 60.0, 4),
            "B2002": order("B2002", 500.0, 1, phone=OTHER)}


@pytest.fixture
def order_system() -> Iterator[OrderServer]:
    with OrderServer(orders()) as server:
        yield server


@pytest.fixture
def actions_env(env: dict[str, str], tmp_path: Path, order_system: OrderServer,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    actions = tmp_path / "actions.yaml"
    actions.write_text(yaml.safe_dump({"systems": {"shop": {
        # The loopback system applies a POST once per Idempotency-Key, as payment APIs do.
        "base_url": order_system.base_url, "sandbox": False, "timeout_seconds": 5, "idempotent": True,
        "auth": {"header": "Authorization", "value": "Bearer {secret}", "secret": "SHOP_API_TOKEN"}}}}))
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["approvals"].update(slack_channel="C0APPROVALS", approvers=[APPROVER])
    policy_file = tmp_path / "action_policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    return {**env, "SWITCHBOARD_ACTIONS_FILE": str(actions), "SWITCHBOARD_ACTION_POLICY_FILE": str(policy_file)}


@pytest.fixture
def app(actions_env: dict[str, str]) -> Iterator[Flask]:
    app = create_app(load_settings(actions_env), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


@pytest.fixture
def llm_app(actions_env: dict[str, str]) -> Iterator[tuple[Flask, FakeOpenAI]]:
    """The app with an LLM: a loopback OpenAI-compatible server the test scripts."""
    with FakeOpenAI() as fake:
        app = create_app(load_settings({**actions_env, "OPENAI_BASE_URL": fake.base_url}),
                         config={"TASKS_INLINE": True, "TESTING": True})
        yield app, fake
        get_db(app).dispose()


def inbound(body: str, *, sender: str = CUSTOMER, sid: str | None = None) -> dict[str, str]:
    return {"MessageSid": sid or f"SM{next(_sid):032x}", "AccountSid": "AC" + "1" * 32, "NumMedia": "0",
            "Body": body, "From": sender, "To": "+15005550006", "ApiVersion": "2010-04-01"}


def sends(app: Flask, vendor: str = "twilio", operation: str | None = None) -> list[dict[str, Any]]:
    with get_db(app).session() as session:
        query = select(OutboxCall).where(OutboxCall.vendor == vendor).order_by(OutboxCall.id)
        if operation:
            query = query.where(OutboxCall.operation == operation)
        return [c.payload for c in session.scalars(query)]


def base_env_for(tmp_path: Path, url: str) -> dict[str, str]:
    return base_env(tmp_path, url)

"""A bad action definition or policy stops create_app with the file, line and field
named; live mode with a missing secret refuses, naming the secret, instead of making
an order up."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.actions.config import load_actions_config
from switchboard.core.actions.errors import ActionConfigError
from switchboard.core.actions.policy import DEFAULT_FILE as DEFAULT_POLICY
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.intake.db import get_db
from switchboard.vendors.http_action import HttpActionConnector, MissingSecret

from ..conftest import REDIS_URL


def test_a_bad_policy_file_stops_create_app_naming_file_line_and_field(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("actions:\n  refund:\n    allowed: [robot]\n")
    with pytest.raises(ActionConfigError) as error:
        create_app(load_settings({**env, "SWITCHBOARD_ACTION_POLICY_FILE": str(bad)}),
                   config={"TASKS_INLINE": True, "TESTING": True})
    assert str(error.value) == (f"{bad}: line 3: actions.refund.allowed.0: Must be one of: bot, llm, agent, "
                                "supervisor.")


def test_a_bad_actions_file_stops_create_app(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "actions.yaml"
    bad.write_text("operations:\n  refund_create:\n    system: shop\n    method: FETCH\n    path: /r\n")
    with pytest.raises(ActionConfigError) as error:
        create_app(load_settings({**env, "SWITCHBOARD_ACTIONS_FILE": str(bad)}),
                   config={"TASKS_INLINE": True, "TESTING": True})
    assert f"{bad}: line 4: operations.refund_create.method: Must be one of" in str(error.value)


def test_an_enabled_action_without_its_operation_stops_create_app(env: dict[str, str], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from switchboard.core.actions import config

    shipped = yaml.safe_load(config.DEFAULT_FILE.read_text())
    del shipped["operations"]["refund_create"]
    trimmed = tmp_path / "shipped.yaml"
    trimmed.write_text(yaml.safe_dump(shipped))
    monkeypatch.setattr(config, "DEFAULT_FILE", trimmed)  # a deployment whose file lacks the operation
    config.load_actions_config.cache_clear()
    try:
        with pytest.raises(ActionConfigError) as error:
            create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    finally:
        config.load_actions_config.cache_clear()
    assert "operations.refund_create: is missing, but the policy enables refund" in str(error.value)


def test_the_shipped_files_pass_the_start_up_check(env: dict[str, str]) -> None:
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    get_db(app).dispose()
    assert yaml.safe_load(DEFAULT_POLICY.read_text())["approvals"]["approvers"] == []


def test_live_mode_without_the_secret_refuses_naming_it(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment (Redis configured: not the embedded default) never sandboxes a live
    system for want of its secret."""
    monkeypatch.delenv("SHOP_API_TOKEN", raising=False)
    settings = load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "SWITCHBOARD_REDIS_URL": REDIS_URL})
    app = create_app(settings, config={"TASKS_INLINE": True, "TESTING": True})
    shipped = load_actions_config(None)
    try:
        with get_db(app).session() as session:
            account = session.scalar(select(Account).where(Account.slug == "default"))
            connector = HttpActionConnector(session, account, settings, system=shipped.systems["shop"])
            assert connector.sandboxed is False
            with pytest.raises(MissingSecret) as error:
                connector.run(shipped.operation("order_lookup"), {"order_id": "ANY123", "customer_phone": "+1555"},
                              idempotency_key="lookup-1")
            assert "SHOP_API_TOKEN" in str(error.value) and "set the environment variable" in str(error.value)
            assert session.scalars(select(OutboxCall).where(OutboxCall.vendor == "http_action")).all() == []
    finally:
        get_db(app).dispose()

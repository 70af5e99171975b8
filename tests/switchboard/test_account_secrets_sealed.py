"""Further accounts' vendor secrets are sealed at rest with the vault's keys (issue 42,
item 10): `switchboard accounts set-secret` stores a Fernet token, not the secret; the
app reads it (a signed webhook of that account is verified with it); a key rotation
keeps it readable and `customers rotate-keys` re-seals it; migration 0019 seals rows
written before, and a plain row written during a rolling deploy is still read."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.accounts import by_slug, secret
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account
from switchboard.intake.db import alembic_config, get_db, make_engine, upgrade

from ..conftest import base_env
from ..signing import VendorClient, fixture

GLOBEX_SID, GLOBEX_TOKEN = "AC" + "2" * 32, "98765432109876543210987654321098"
SHOP_TOKEN = "shop-secret-token-0123456789"


def stored_secrets(database_url: str) -> str:
    """The accounts.secrets column of globex as the database holds it (its text)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            raw = connection.execute(text("SELECT secrets FROM accounts WHERE slug = 'globex'")).scalar_one()
    finally:
        engine.dispose()
    return raw if isinstance(raw, str) else json.dumps(raw)


def read_secret(env: dict[str, str], name: str) -> str | None:
    app = create_app(load_settings(env), config={"TESTING": True})
    try:
        with get_db(app).session() as session:
            account = by_slug(session, "globex")
            assert account is not None
            return secret(account, name, app.config["SETTINGS"])
    finally:
        get_db(app).dispose()


def test_a_secret_set_from_the_cli_is_stored_sealed_read_and_survives_key_rotation(env: dict[str, str]) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {**env, "SWITCHBOARD_VAULT_KEYS": old_key}
    runner = CliRunner()
    added = runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex", "--twilio-account-sid", GLOBEX_SID,
                                 "--twilio-phone-number", "+14155550199"], env=env)
    assert added.exit_code == 0, added.output
    for name, value in (("twilio_auth_token", GLOBEX_TOKEN), ("webchat_name", "Globex help")):
        done = runner.invoke(main, ["accounts", "set-secret", "globex", name, "--value", value], env=env)
        assert done.exit_code == 0, done.output

    column = stored_secrets(env["SWITCHBOARD_DATABASE_URL"])
    assert GLOBEX_TOKEN not in column and GLOBEX_TOKEN[:8] not in column
    assert '"vault:gAAAAA' in column  # a Fernet token in its place
    assert "Globex help" in column  # a plain setting stays readable
    assert read_secret(env, "twilio_auth_token") == GLOBEX_TOKEN

    # The secret is what verifies the account's webhooks: signed with it, accepted.
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    params = {**fixture("twilio", "inbound_sms.json"), "To": "+14155550199", "AccountSid": GLOBEX_SID}
    vendor = VendorClient(app.test_client(), twilio_token=GLOBEX_TOKEN, zendesk_secret="-", slack_secret="-",
                          public_url=env["SWITCHBOARD_PUBLIC_URL"])
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200
    forged = VendorClient(app.test_client(), twilio_token="0" * 32, zendesk_secret="-", slack_secret="-",
                          public_url=env["SWITCHBOARD_PUBLIC_URL"])
    assert forged.twilio("/webhooks/twilio/messages", {**params, "MessageSid": "SM" + "9" * 32}).status_code == 403
    get_db(app).dispose()

    rotating = {**env, "SWITCHBOARD_VAULT_KEYS": f"{new_key},{old_key}"}
    assert read_secret(rotating, "twilio_auth_token") == GLOBEX_TOKEN  # the old key still opens it
    rotated = runner.invoke(main, ["customers", "rotate-keys"], env=rotating)
    assert rotated.exit_code == 0, rotated.output
    assert "1 account secrets re-sealed" in rotated.output
    assert stored_secrets(env["SWITCHBOARD_DATABASE_URL"]) != column
    assert read_secret({**env, "SWITCHBOARD_VAULT_KEYS": new_key}, "twilio_auth_token") == GLOBEX_TOKEN


def test_migration_0019_seals_plain_rows_and_plain_rows_are_still_read(tmp_path: Path) -> None:
    """A database at 0018 with an account whose secrets are plain JSON (the vendor token,
    an actions.yaml system's token, a plain setting): the upgrade seals the two secrets,
    leaves the setting, and the app reads both; a plain value a not-yet-upgraded process
    writes during the rollout is read as it is."""
    url = f"sqlite:///{tmp_path / 'switchboard.db'}"
    engine = make_engine(url)
    upgrade(engine, "0018")
    plain = {"twilio_auth_token": GLOBEX_TOKEN, "shop_api_token": SHOP_TOKEN, "webchat_name": "Globex help"}
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO accounts (slug, name, secrets, created_at) VALUES "
                                "('globex', 'Globex', :secrets, CURRENT_TIMESTAMP)"), {"secrets": json.dumps(plain)})
    engine.dispose()
    env = {**base_env(tmp_path, url), "SWITCHBOARD_VAULT_KEYS": Fernet.generate_key().decode()}
    assert read_secret(env, "twilio_auth_token") == GLOBEX_TOKEN  # the app upgrades its SQLite database

    column = stored_secrets(url)
    assert GLOBEX_TOKEN not in column and SHOP_TOKEN not in column
    assert column.count('"vault:gAAAAA') == 2 and "Globex help" in column
    app = create_app(load_settings(env), config={"TESTING": True})
    try:
        with get_db(app).session() as session:
            account = session.scalars(select(Account).where(Account.slug == "globex")).one()
            from switchboard.core.accounts import stored_secret

            assert stored_secret(account, "shop_api_token", app.config["SETTINGS"]) == SHOP_TOKEN
            account.secrets = {**account.secrets, "zendesk_api_token": "written-plain-by-an-old-process"}
            session.commit()
            assert secret(account, "zendesk_api_token", app.config["SETTINGS"]) == "written-plain-by-an-old-process"
    finally:
        get_db(app).dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_migration_0019_on_postgresql(database_url: str, tmp_path: Path) -> None:
    """The same upgrade on PostgreSQL (a JSONB column), through `switchboard db upgrade`."""
    admin = make_engine(database_url)
    command.downgrade(alembic_config(admin), "0018")  # the later migrations' tables go too
    with admin.begin() as connection:
        connection.execute(text("INSERT INTO accounts (slug, name, secrets, created_at) VALUES "
                                "('globex', 'Globex', CAST(:secrets AS JSONB), now())"),
                           {"secrets": json.dumps({"slack_bot_token": "xoxb-plain-0123"})})
    admin.dispose()
    env = {**base_env(tmp_path, database_url), "SWITCHBOARD_VAULT_KEYS": Fernet.generate_key().decode()}
    upgraded = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "xoxb-plain-0123" not in stored_secrets(database_url)
    assert read_secret(env, "slack_bot_token") == "xoxb-plain-0123"

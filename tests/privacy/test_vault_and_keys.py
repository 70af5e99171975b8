"""The vault: tokens stable within a conversation, keys from the environment or a key
file, and rotation — through signed Twilio messages and the `switchboard` command."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.errors import ConfigError
from switchboard.core.pii.vault import KEY_FILE, Vault, VaultKeyError, vault_for
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Message, VaultEntry
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import VendorClient
from .helpers import say


def vendor_for(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def bodies(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message.body).where(Message.author == "customer").order_by(Message.id)))


def test_the_same_value_keeps_its_token_within_a_conversation(app: Flask, vendor: VendorClient) -> None:
    say(vendor, "call me on +44 20 7946 0958 or mail Dana@Example.com")
    say(vendor, "again: +442079460958, dana@example.com, or my wife on +44 20 7946 0999")
    first, second = bodies(app)
    assert first == "call me on [PHONE_1] or mail [EMAIL_1]"
    assert second == "again: [PHONE_1], [EMAIL_1], or my wife on [PHONE_2]"
    with get_db(app).session() as session:
        entries = session.scalars(select(VaultEntry).order_by(VaultEntry.id)).all()
        assert [(e.kind, e.token) for e in entries] == [("phone", "[PHONE_1]"), ("email", "[EMAIL_1]"),
                                                        ("phone", "[PHONE_2]")]
        assert all(b"7946" not in e.sealed and b"Example" not in e.sealed for e in entries)
        vault = vault_for(app.config["SETTINGS"])
        assert [vault.open(e.sealed) for e in entries] == ["+44 20 7946 0958", "Dana@Example.com",
                                                           "+44 20 7946 0999"]


def test_an_install_without_keys_keeps_one_in_its_data_directory(app: Flask, vendor: VendorClient,
                                                                 tmp_path: Path) -> None:
    say(vendor, "my card 4111 1111 1111 1111 was charged twice")
    key_file = tmp_path / KEY_FILE
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    again = vault_for(app.config["SETTINGS"])
    assert again.keys == (key,)  # the same key on the next start
    with get_db(app).session() as session:
        [entry] = session.scalars(select(VaultEntry)).all()
        assert Vault((key,)).open(entry.sealed) == "4111 1111 1111 1111"


def test_a_rotated_key_still_opens_old_values_and_rotate_keys_retires_it(env: dict[str, str]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = create_app(load_settings({**env, "SWITCHBOARD_VAULT_KEYS": old}), config={"TASKS_INLINE": True})
    say(vendor_for(before), "reach me at +44 20 7946 0958")
    get_db(before).dispose()

    rotated_env = {**env, "SWITCHBOARD_VAULT_KEYS": f"{new},{old}"}
    rotated = create_app(load_settings(rotated_env), config={"TASKS_INLINE": True})
    with get_db(rotated).session() as session:
        [entry] = session.scalars(select(VaultEntry)).all()
        sealed_with_old = entry.sealed
        assert vault_for(rotated.config["SETTINGS"]).open(sealed_with_old) == "+44 20 7946 0958"
    with pytest.raises(VaultKeyError, match="SWITCHBOARD_VAULT_KEYS"):
        Vault((new,)).open(sealed_with_old)
    get_db(rotated).dispose()

    done = CliRunner().invoke(main, ["customers", "rotate-keys"], env=rotated_env)
    assert done.exit_code == 0, done.output
    assert "1 vaulted values re-encrypted" in done.output

    after = create_app(load_settings({**env, "SWITCHBOARD_VAULT_KEYS": new}), config={"TASKS_INLINE": True})
    with get_db(after).session() as session:
        [entry] = session.scalars(select(VaultEntry)).all()
        assert vault_for(after.config["SETTINGS"]).open(entry.sealed) == "+44 20 7946 0958"
    with pytest.raises(VaultKeyError):
        Vault((old,)).open(entry.sealed)
    get_db(after).dispose()


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("SWITCHBOARD_VAULT_KEYS", "not-a-key", "key 1 is not a Fernet key"),
    ("SWITCHBOARD_VAULT_REVEAL", "phone,passport", "'passport' is not a kind of personal data"),
    ("SWITCHBOARD_VAULT_REVEAL", "card:ava", "list Zendesk user ids"),
    ("SWITCHBOARD_RETENTION_DAYS", "0", "SWITCHBOARD_RETENTION_DAYS=0 is too small"),
])
def test_bad_privacy_settings_fail_at_start_naming_the_variable(tmp_path: Path, variable: str, value: str,
                                                                 named: str) -> None:
    with pytest.raises(ConfigError, match=variable) as raised:
        load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), variable: value})
    assert named in str(raised.value)

"""The web chat's settings: the environment's for the default account, `accounts
set-secret` for the others, each checked with the same rule before it is kept, and
what each account's widget then shows and allows."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.errors import ConfigError
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import base_env


@pytest.mark.parametrize(("variable", "value", "rule"), [
    ("SWITCHBOARD_WEBCHAT_ORIGINS", "https://shop.example.com/checkout", "is not an origin"),
    ("SWITCHBOARD_WEBCHAT_ORIGINS", "shop.example.com", "is not an origin"),
    ("SWITCHBOARD_WEBCHAT_COLOUR", "blue", "use #RRGGBB"),
])
def test_a_bad_environment_value_stops_the_start_naming_it(tmp_path: Path, variable: str, value: str,
                                                           rule: str) -> None:
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"), variable: value}
    with pytest.raises(ConfigError, match=rule) as refused:
        load_settings(env)
    assert variable in str(refused.value)


def test_origins_are_read_in_either_separator_and_normalised(tmp_path: Path) -> None:
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"),
           "SWITCHBOARD_WEBCHAT_ORIGINS": "https://Shop.Example.com/, http://localhost:8080  https://shop.example.com"}
    assert load_settings(env).webchat_origins == ("https://shop.example.com", "http://localhost:8080")


def test_another_account_sets_its_own_origins_and_look_with_set_secret(tmp_path: Path) -> None:
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=env).exit_code == 0
    bad = runner.invoke(main, ["accounts", "set-secret", "globex", "webchat_origins", "--value", "globex.example"],
                        env=env)
    assert bad.exit_code == 1 and "webchat_origins of account 'globex'" in bad.output, bad.output
    bad_colour = runner.invoke(main, ["accounts", "set-secret", "globex", "webchat_colour", "--value", "#12345"],
                               env=env)
    assert bad_colour.exit_code == 1 and "#RRGGBB" in bad_colour.output
    for name, value in [("webchat_origins", "https://globex.example"), ("webchat_colour", "#112233"),
                        ("SWITCHBOARD_WEBCHAT_GREETING", "Hello from Globex")]:
        done = runner.invoke(main, ["accounts", "set-secret", "globex", name, "--value", value], env=env)
        assert done.exit_code == 0, done.output

    app = create_app(load_settings(env), config={"TESTING": True})
    try:
        client = app.test_client()
        look = client.get("/chat/globex/config", headers={"Origin": "https://globex.example"})
        assert look.status_code == 200
        assert look.get_json() | {"locale": None} == {"name": "Globex", "colour": "#112233",
                                                      "greeting": "Hello from Globex", "locale": None}
        assert look.headers["Access-Control-Allow-Origin"] == "https://globex.example"
        # Globex's site may embed Globex's chat only, not the default account's.
        assert client.post("/chat/default/session", json={}, headers={"Origin": "https://globex.example"}
                           ).status_code == 403
        assert client.post("/chat/globex/session", json={}, headers={"Origin": "https://globex.example"}
                           ).status_code == 200
    finally:
        get_db(app).dispose()

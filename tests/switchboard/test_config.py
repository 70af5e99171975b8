"""Settings are validated at start-up with messages naming the variable."""
from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.core.errors import ConfigError
from switchboard.core.settings import load_settings


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    settings = load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'switchboard.db'}"
    assert settings.embedded and not settings.sandbox


def test_the_worker_preloads_for_its_pool_unless_turned_off() -> None:
    assert load_settings({}).worker_preload
    assert not load_settings({"SWITCHBOARD_WORKER_PRELOAD": "0"}).worker_preload


def test_postgres_urls_use_the_psycopg_driver() -> None:
    settings = load_settings({"SWITCHBOARD_DATABASE_URL": "postgres://u@db/x"})
    assert settings.database_url == "postgresql+psycopg://u@db/x"


@pytest.mark.parametrize(("env", "named"), [
    ({"SWITCHBOARD_DATABASE_URL": "mysql://x"}, "SWITCHBOARD_DATABASE_URL"),
    ({"SWITCHBOARD_REDIS_URL": "localhost:6379"}, "SWITCHBOARD_REDIS_URL"),
    ({"SWITCHBOARD_PUBLIC_URL": "switchboard.example.com"}, "SWITCHBOARD_PUBLIC_URL"),
    ({"SWITCHBOARD_SANDBOX": "maybe"}, "SWITCHBOARD_SANDBOX"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
    ({"TWILIO_ACCOUNT_SID": "XX" + "1" * 32, "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_ACCOUNT_SID"),
    ({"ZENDESK_SUBDOMAIN": "acme.zendesk.com"}, "ZENDESK_SUBDOMAIN"),
    ({"ZENDESK_EMAIL": "a@b.c"}, "ZENDESK_API_TOKEN"),
    ({"OPENAI_BASE_URL": "ftp://models"}, "OPENAI_BASE_URL"),
    ({"SWITCHBOARD_SWEEP_AFTER_SECONDS": "soon"}, "SWITCHBOARD_SWEEP_AFTER_SECONDS"),
    ({"SWITCHBOARD_WORKER_PRELOAD": "later"}, "SWITCHBOARD_WORKER_PRELOAD"),
    ({"SWITCHBOARD_DISPATCH_BATCH": "0"}, "SWITCHBOARD_DISPATCH_BATCH"),
    ({"SWITCHBOARD_DISPATCH_LINGER_MS": "0.5"}, "SWITCHBOARD_DISPATCH_LINGER_MS"),
])
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


def test_public_view_masks_secrets() -> None:
    shown = load_settings({"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "supersecret",
                           "SLACK_SIGNING_SECRET": "s3"}).public()
    assert shown["twilio_auth_token"] == "***" and shown["slack_signing_secret"] == "***"
    assert shown["twilio_account_sid"] == "AC" + "1" * 32


def test_the_root_points_to_the_playground_the_dashboard_and_the_api(app) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    for path in ("/playground", "/dashboard", "/api/openapi.json"):
        assert f'href="{path}"' in page.get_data(as_text=True)
    assert client.get("/", headers={"Accept": "application/json"}).get_json()["links"]["dashboard"] == "/dashboard"


def test_the_web_processes_publish_in_the_batches_and_after_the_wait_configured(tmp_path: Path) -> None:
    from switchboard.app import create_app
    from switchboard.intake.db import get_db
    from switchboard.tasks import DISPATCHER

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    defaults = create_app(load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path / "a")}))
    tuned = create_app(load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path / "b"), "SWITCHBOARD_DISPATCH_BATCH": "4",
                                      "SWITCHBOARD_DISPATCH_LINGER_MS": "0"}))
    try:
        assert (defaults.extensions[DISPATCHER].max_batch, defaults.extensions[DISPATCHER].linger) == (16, 0.02)
        assert (tuned.extensions[DISPATCHER].max_batch, tuned.extensions[DISPATCHER].linger) == (4, 0.0)
    finally:
        get_db(defaults).dispose()
        get_db(tuned).dispose()


def test_a_data_dir_that_does_not_exist_yet_is_made(tmp_path: Path) -> None:
    """`gunicorn 'switchboard.wsgi:app'` with a new SWITCHBOARD_DATA_DIR failed to boot
    with SQLite's "unable to open database file"."""
    from switchboard.app import create_app
    from switchboard.intake.db import get_db

    data_dir = tmp_path / "var" / "switchboard"
    app = create_app(load_settings({"SWITCHBOARD_DATA_DIR": str(data_dir)}), config={"TESTING": True})
    get_db(app).dispose()
    assert (data_dir / "switchboard.db").is_file()

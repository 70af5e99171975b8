"""Shared fixtures: the app on SQLite and on a real PostgreSQL, and vendor-signed clients.

PostgreSQL tests run in a schema of their own inside the `test` database, so parallel
runs (and the CI) never see each other's rows.
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from switchboard import wiring
from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store import artifacts
from switchboard.core.store.models import Base
from switchboard.intake import db as intake_db
from switchboard.intake.db import get_db, make_engine, upgrade

from .signing import VendorClient

# What create_app does, for the tests that call the core directly.
wiring.install()

SAMPLE_KB = Path(__file__).parents[1] / "switchboard" / "data" / "sample_kb.json"
PG_SERVER = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/0")

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "12345678901234567890123456789012"
ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUBLIC_URL = "https://switchboard.example.com"


def base_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL,
        "SWITCHBOARD_SANDBOX": "1",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_PHONE_NUMBER": "+15005550006",
        "TWILIO_WHATSAPP_NUMBER": "+14155238886",
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
    }


@contextmanager
def migrated_schema(prefix: str = "sb_") -> Iterator[str]:
    """The URL of a migrated schema of our own in the real PostgreSQL `test` database,
    dropped afterwards."""
    schema = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated schema of our own in the real PostgreSQL `test` database."""
    with migrated_schema() as url:
        yield url


#: Every sequence of the schema back to its start, as TRUNCATE … RESTART IDENTITY would.
_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
    "FROM pg_sequences WHERE schemaname = current_schema()")


def _truncate_postgres(url: str) -> None:
    """Empty every table and restart every id, so the test starts on a fresh schema.

    DELETE rather than TRUNCATE: a TRUNCATE of the ~30 tables gives each a new file and
    cost 0.7 s per PostgreSQL test (a third of the suite's set-up time); deleting the few
    rows a test left costs 0.07 s. The replica role skips triggers for this transaction
    only: the audit log's append-only trigger (which TRUNCATE never fires either) and the
    foreign-key checks, which have nothing left to check once every table is empty."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
        connection.execute(_RESTART_SEQUENCES)
    engine.dispose()


@pytest.fixture(autouse=True)
def _close_idle_database_connections() -> Iterator[None]:
    """After each test, every Database of this process gives back its idle pooled
    connections. A CLI command run in-process (CliRunner) opens an app, and a live server
    its own, and neither is disposed when the test ends: each kept up to five PostgreSQL
    connections until it was collected, and one test process reached 82 of the server's
    100, so later tests failed with "too many clients". Disposing leaves each engine
    usable: the next statement opens a new connection."""
    yield
    for database in list(intake_db._databases):
        database.engine.dispose()
        database.intake.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run. Migrating costs a second of fsyncs per
    test (one per DDL statement); a copy of the migrated file is the same database, and
    the app's own upgrade on start still runs (and finds nothing to do)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "switchboard.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


#: Every test on the app runs on both databases; the PostgreSQL copy is marked slow, so the
#: inner loop (`pytest -m "not slow"`) runs each once, on SQLite, and CI runs both.
ON_BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=ON_BOTH_DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return base_env(tmp_path, database_url)


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Flask]:
    """Embedded mode with tasks run before the response returns, for determinism."""
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


#: The sample knowledge base's index as `kb import` published it, once a test process:
#: its bytes and metadata. Hundreds of tests start from the sample shop; indexing it
#: (chunking, calibrating its confidence and join on its own questions) is the same work
#: each time, so the first test of a process imports it for real and the others publish
#: the same index for their own account, as another host would find it in the database.
_sample_index: list[tuple[bytes, dict[str, Any]]] = []


def with_sample_kb(app: Flask) -> Flask:
    """``app`` with the sample knowledge base (a demo shop's articles) imported."""
    with get_db(app).session() as session:
        account_id = app.config["DEFAULT_ACCOUNT_ID"]
        kb = KnowledgeBase(session, account_id, app.config["SETTINGS"].data_dir)
        if kb.articles():  # the account's own articles join the sample ones: indexed for real
            kb.import_articles(load_articles(SAMPLE_KB))
            return app
        if not _sample_index:
            kb.import_articles(load_articles(SAMPLE_KB))
            published = artifacts.latest(session, account_id, artifacts.KB_INDEX)
            assert published is not None
            _sample_index.append((artifacts.fetch(session, account_id, artifacts.KB_INDEX, published.version),
                                  published.meta))
            return app
        kb.upsert(load_articles(SAMPLE_KB), source="file")
        blob, meta = _sample_index[0]
        artifacts.publish(session, account_id, artifacts.KB_INDEX, blob, meta=meta)
    return app


@pytest.fixture
def shop(app: Flask) -> Flask:
    """The app with the sample knowledge base imported."""
    return with_sample_kb(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def vendor(client: FlaskClient) -> VendorClient:
    return VendorClient(client, twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)

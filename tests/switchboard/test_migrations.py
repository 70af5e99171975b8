"""The migrations build exactly the schema the models describe, and a database that
ran the released (empty) revisions 0005-0007 gets the new tables on upgrade."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from switchboard.core.store.models import Base
from switchboard.intake.db import alembic_config, make_engine, upgrade

NEW_TABLES = {"artifacts", "outreach_campaigns", "outreach_segments", "outreach_recipients", "slack_installations",
              "metric_events", "conversation_outcomes", "action_executions", "customer_verifications"}


def test_migrated_schema_matches_the_models(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == [], f"models and migrations disagree: {differences}"
    finally:
        engine.dispose()


def test_a_database_at_the_released_empty_0007_gets_the_new_tables(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0007")
        assert not NEW_TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert NEW_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head(engine)
    finally:
        engine.dispose()


def head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_the_inbox_keeps_one_index_on_its_account_and_0015_goes_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every webhook's INSERT maintains the inbox's indexes: the one on account_id alone
    went, since the unique key starts with it; downgrading puts it back."""
    engine = make_engine(f"sqlite:///{tmp_path / 'inbox.db'}")

    def indexes() -> set[str]:
        return {index["name"] for index in inspect(engine).get_indexes("inbox_events")}

    try:
        upgrade(engine)
        assert "ix_inbox_events_account_id" not in indexes()
        command.downgrade(alembic_config(engine), "0014")
        assert "ix_inbox_events_account_id" in indexes()
        upgrade(engine)
        assert "ix_inbox_events_account_id" not in indexes()
    finally:
        engine.dispose()


def test_0016_adds_the_learned_phrasings_tables_and_goes_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'phrasings.db'}")
    tables = {"kb_phrasings", "kb_phrasing_evidence", "kb_phrasing_stamps"}
    try:
        upgrade(engine, "0015")
        assert not tables & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert tables <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(engine), "0015")
        assert not tables & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


STARTER = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
from switchboard.app import create_app
from switchboard.core.settings import load_settings
create_app(load_settings({"SWITCHBOARD_DATA_DIR": sys.argv[2]}))
"""


@pytest.mark.slow
def test_workers_starting_at_once_on_a_new_embedded_database_migrate_it_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """gunicorn -w 4 on the embedded default: every worker finds the schema old and
    would migrate it at once ("table accounts already exists", and gunicorn shut the
    server down). One migrates while the others wait, then all start."""
    import subprocess
    import sys

    go = tmp_path / "go"
    starters = [subprocess.Popen([sys.executable, "-c", STARTER, str(go), str(tmp_path)], stderr=subprocess.PIPE,
                                 text=True) for _ in range(4)]
    go.touch()
    for starter in starters:
        _, err = starter.communicate(timeout=240)
        assert starter.returncode == 0, err[-2000:]
    engine = make_engine(f"sqlite:///{tmp_path / 'switchboard.db'}")
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        assert current == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()

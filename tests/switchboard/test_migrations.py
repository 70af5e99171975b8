"""The migrations build exactly the schema the models describe, and a database that
ran the released (empty) revisions 0005-0007 gets the new tables on upgrade."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from switchboard.db import make_engine, upgrade
from switchboard.models import Base

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
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0014"
    finally:
        engine.dispose()

"""Alembic environment: the engine is handed over by switchboard.intake.db, never re-read
from an ini file, so `switchboard db upgrade` and the app always agree on the URL."""
from alembic import context

from switchboard.core.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()

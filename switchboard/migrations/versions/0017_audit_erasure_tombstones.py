"""audit_log: an erasure may blank an entry's detail, nothing else may change it

The audit log stays append-only (no DELETE, no UPDATE) with one exception the right to
erasure needs (issue 42): an entry about an erased customer may have its ``detail``
replaced by the tombstone ``{"erased": true}``, every other column unchanged. Who did
what to whom and when stays; what the detail quoted of the customer (an agent's sent
reply, a translated question, an action's parameters) goes. The database enforces
that the tombstone is the only change it accepts, so an UPDATE can remove an entry's
content but never forge or rewrite one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26
"""
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

REFUSED = "audit_log is append-only: only an erasure may blank an entry''s detail"
SQLITE_UPDATE = f"""
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (json(NEW.detail) = json('{{"erased": true}}')
          AND NEW.id = OLD.id AND NEW.account_id = OLD.account_id AND NEW.actor = OLD.actor
          AND NEW.action = OLD.action AND NEW.subject_type IS OLD.subject_type
          AND NEW.subject_id IS OLD.subject_id AND NEW.created_at = OLD.created_at)
BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END
"""
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.detail::jsonb = '{{"erased": true}}'::jsonb
     AND (NEW.id, NEW.account_id, NEW.actor, NEW.action, NEW.subject_type, NEW.subject_id, NEW.created_at)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.account_id, OLD.actor, OLD.action, OLD.subject_type, OLD.subject_id, OLD.created_at) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{REFUSED}';
END;
$$ LANGUAGE plpgsql
"""
ORIGINAL_SQLITE_UPDATE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)
ORIGINAL_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute(SQLITE_UPDATE)
    elif dialect == "postgresql":
        op.execute(PG_FUNCTION)  # the trigger calls the function by name: replacing it is enough


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute(ORIGINAL_SQLITE_UPDATE)
    elif dialect == "postgresql":
        op.execute(ORIGINAL_PG_FUNCTION)

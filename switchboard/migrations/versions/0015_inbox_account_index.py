"""inbox_events: drop the index on account_id alone

The unique key (account_id, vendor, dedupe_key) starts with account_id, so it serves
every lookup the single-column index did (an account's events, erasure, the foreign
key's checks when an account is deleted), and each webhook's INSERT wrote one index
more than it needs: its pages and WAL (PostgreSQL's CPU per insert did not move by a
measurable amount, 0.105-0.115 ms with or without it).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_events_account_id'))


def downgrade() -> None:
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_events_account_id'), ['account_id'], unique=False)

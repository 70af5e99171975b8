"""bounded history: composite indexes so a message costs the same however long the history

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

Each index replaces the single-column one that is its prefix (the foreign keys keep an
index), so writes pay for no more indexes than before.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

#: (table, new index, its columns, the single-column index it replaces, that column)
CHANGES = [
    ("messages", "ix_messages_conversation_id_id", ["conversation_id", "id"],
     "ix_messages_conversation_id", "conversation_id"),
    ("conversations", "ix_conversations_customer_id_id", ["customer_id", "id"],
     "ix_conversations_customer_id", "customer_id"),
    ("metric_events", "ix_metric_events_customer_id_kind_occurred_at", ["customer_id", "kind", "occurred_at"],
     "ix_metric_events_customer_id", "customer_id"),
    ("conversation_outcomes", "ix_conversation_outcomes_customer_id_resolved_at", ["customer_id", "resolved_at"],
     "ix_conversation_outcomes_customer_id", "customer_id"),
    ("suggestion_feedback", "ix_suggestion_feedback_account_id_id", ["account_id", "id"],
     "ix_suggestion_feedback_account_id", "account_id"),
]


def upgrade() -> None:
    for table, name, columns, replaced, _ in CHANGES:
        op.create_index(name, table, columns, unique=False)
        op.drop_index(replaced, table_name=table)
    op.create_index("ix_conversations_customer_id_started_at", "conversations", ["customer_id", "started_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_conversations_customer_id_started_at", table_name="conversations")
    for table, name, _, replaced, column in reversed(CHANGES):
        op.create_index(replaced, table, [column], unique=False)
        op.drop_index(name, table_name=table)

"""outcome metrics

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models
from sqlalchemy.dialects import postgresql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per conversation kept current by the events, for fast dashboard figures.
    op.create_table('conversation_outcomes',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('started_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('automation', sa.String(length=16), nullable=False),
    sa.Column('bot_answers', sa.Integer(), nullable=False),
    sa.Column('bot_replies', sa.Integer(), nullable=False),
    sa.Column('agent_replies', sa.Integer(), nullable=False),
    sa.Column('first_response_seconds', sa.Double(), nullable=True),
    sa.Column('ai_seconds', sa.Double(), nullable=False),
    sa.Column('agent_seconds', sa.Double(), nullable=False),
    sa.Column('last_activity_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handoff_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handoff_reason', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=8), nullable=True),
    sa.Column('resolution_seconds', sa.Double(), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('csat_score', sa.Integer(), nullable=True),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('package_opened', sa.Integer(), nullable=False),
    sa.Column('suggestion_used', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_conversation_outcomes_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_outcomes_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_conversation_outcomes_customer_id_customers')),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_conversation_outcomes'))
    )
    with op.batch_alter_table('conversation_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_outcomes_account_day', ['account_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_outcomes_customer_id'), ['customer_id'], unique=False)

    op.create_table('metric_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('occurred_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('label', sa.String(length=64), nullable=True),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('attrs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_metric_events_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_metric_events_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_metric_events_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_events')),
    sa.UniqueConstraint('account_id', 'dedupe_key', name=op.f('uq_metric_events_account_id_dedupe_key'))
    )
    with op.batch_alter_table('metric_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metric_events_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_events_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_events_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_metric_events_kind_occurred_at', ['kind', 'occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('metric_events', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_events_kind_occurred_at')
        batch_op.drop_index(batch_op.f('ix_metric_events_customer_id'))
        batch_op.drop_index(batch_op.f('ix_metric_events_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_metric_events_account_id'))

    op.drop_table('metric_events')
    with op.batch_alter_table('conversation_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_outcomes_customer_id'))
        batch_op.drop_index('ix_conversation_outcomes_account_day')

    op.drop_table('conversation_outcomes')

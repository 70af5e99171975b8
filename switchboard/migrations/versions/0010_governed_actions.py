"""governed actions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models
from sqlalchemy.dialects import postgresql


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('action_executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('zendesk_ticket_id', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('facts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('approval_channel', sa.String(length=32), nullable=True),
    sa.Column('approval_ts', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('expires_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_action_executions_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_action_executions_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_action_executions_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_executions')),
    sa.UniqueConstraint('account_id', 'idempotency_key', name=op.f('uq_action_executions_account_id_idempotency_key'))
    )
    with op.batch_alter_table('action_executions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_action_executions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_executions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_action_executions_customer_action', ['customer_id', 'action', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_action_executions_zendesk_ticket_id'), ['zendesk_ticket_id'], unique=False)

    op.create_table('customer_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('execution_id', sa.Integer(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_customer_verifications_account_id_accounts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_verifications_customer_id_customers')),
    sa.ForeignKeyConstraint(['execution_id'], ['action_executions.id'], name=op.f('fk_customer_verifications_execution_id_action_executions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_verifications'))
    )
    with op.batch_alter_table('customer_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_verifications_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_verifications_customer_id'), ['customer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customer_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_verifications_customer_id'))
        batch_op.drop_index(batch_op.f('ix_customer_verifications_account_id'))

    op.drop_table('customer_verifications')
    with op.batch_alter_table('action_executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_action_executions_zendesk_ticket_id'))
        batch_op.drop_index('ix_action_executions_customer_action')
        batch_op.drop_index(batch_op.f('ix_action_executions_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_action_executions_account_id'))

    op.drop_table('action_executions')

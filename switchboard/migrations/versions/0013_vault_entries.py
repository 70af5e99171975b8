"""vault_entries: redacted values kept encrypted, behind their tokens (issue 20)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vault_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_vault_entries_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_vault_entries_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_vault_entries_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_entries')),
    sa.UniqueConstraint('conversation_id', 'token', name=op.f('uq_vault_entries_conversation_id_token'))
    )
    op.create_index('ix_vault_entries_account_created_at', 'vault_entries', ['account_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_vault_entries_customer_id'), 'vault_entries', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_vault_entries_customer_id'), table_name='vault_entries')
    op.drop_index('ix_vault_entries_account_created_at', table_name='vault_entries')
    op.drop_table('vault_entries')

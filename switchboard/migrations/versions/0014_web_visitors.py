"""web_visitors: the browsers of the web chat widget and their customers (issue 21)

Identities gain the kind VISITOR; the column is a non-native enum (a String(16)
without a CHECK constraint), so that needs no DDL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_visitors',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notify', sa.String(length=8), server_default='none', nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_web_visitors_account_id_accounts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_web_visitors_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_visitors'))
    )
    op.create_index(op.f('ix_web_visitors_account_id'), 'web_visitors', ['account_id'], unique=False)
    op.create_index(op.f('ix_web_visitors_customer_id'), 'web_visitors', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_web_visitors_customer_id'), table_name='web_visitors')
    op.drop_index(op.f('ix_web_visitors_account_id'), table_name='web_visitors')
    op.drop_table('web_visitors')

"""kb_drafts: articles drafted from how agents answered questions the knowledge base
could not (issue 38), kept for an approver's review before anything is published.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import switchboard.core.store.models


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('questions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('proof', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('article_id', sa.String(length=200), nullable=True),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('slack_ts', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_kb_drafts_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_drafts'))
    )
    op.create_index('ix_kb_drafts_account_id_status', 'kb_drafts', ['account_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_kb_drafts_account_id_status', table_name='kb_drafts')
    op.drop_table('kb_drafts')

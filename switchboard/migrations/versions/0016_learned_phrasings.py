"""kb_phrasings, kb_phrasing_evidence, kb_phrasing_stamps: how customers ask for an
article, learned from menu picks and agents' vouches (core/knowledge/phrasings.py)

In the database, not a per-host file, so a phrasing learned through one web process is
what every host and worker uses at its next message. The stamp table is one row per
account, rewritten whenever the active phrasings change: a process checks it with a
primary-key read instead of counting the phrasings.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_phrasings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('agents', sa.Integer(), nullable=False),
    sa.Column('encoder', sa.String(length=64), nullable=True),
    sa.Column('vector', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('activated_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_kb_phrasings_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_phrasings')),
    sa.UniqueConstraint('account_id', 'article_id', 'key_hash',
                        name=op.f('uq_kb_phrasings_account_id_article_id_key_hash'))
    )
    op.create_index('ix_kb_phrasings_account_id_status', 'kb_phrasings', ['account_id', 'status'], unique=False)
    op.create_table('kb_phrasing_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('phrasing_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('suggestion_id', sa.Integer(), nullable=True),
    sa.Column('agent', sa.String(length=200), nullable=True),
    sa.Column('withdrawn_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_because', sa.String(length=32), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_kb_phrasing_evidence_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_kb_phrasing_evidence_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_kb_phrasing_evidence_customer_id_customers')),
    sa.ForeignKeyConstraint(['phrasing_id'], ['kb_phrasings.id'],
                            name=op.f('fk_kb_phrasing_evidence_phrasing_id_kb_phrasings')),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'],
                            name=op.f('fk_kb_phrasing_evidence_suggestion_id_suggestions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_phrasing_evidence')),
    sa.UniqueConstraint('phrasing_id', 'dedupe_key', name=op.f('uq_kb_phrasing_evidence_phrasing_id_dedupe_key'))
    )
    op.create_index('ix_kb_phrasing_evidence_account_id_suggestion_id', 'kb_phrasing_evidence',
                    ['account_id', 'suggestion_id'], unique=False)
    op.create_index(op.f('ix_kb_phrasing_evidence_conversation_id'), 'kb_phrasing_evidence', ['conversation_id'],
                    unique=False)
    op.create_index(op.f('ix_kb_phrasing_evidence_customer_id'), 'kb_phrasing_evidence', ['customer_id'],
                    unique=False)
    op.create_table('kb_phrasing_stamps',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('stamp', sa.String(length=32), nullable=False),
    sa.Column('changed_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_kb_phrasing_stamps_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_kb_phrasing_stamps'))
    )


def downgrade() -> None:
    op.drop_table('kb_phrasing_stamps')
    op.drop_index(op.f('ix_kb_phrasing_evidence_customer_id'), table_name='kb_phrasing_evidence')
    op.drop_index(op.f('ix_kb_phrasing_evidence_conversation_id'), table_name='kb_phrasing_evidence')
    op.drop_index('ix_kb_phrasing_evidence_account_id_suggestion_id', table_name='kb_phrasing_evidence')
    op.drop_table('kb_phrasing_evidence')
    op.drop_index('ix_kb_phrasings_account_id_status', table_name='kb_phrasings')
    op.drop_table('kb_phrasings')

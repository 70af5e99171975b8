"""conversation_scores: every conversation scored against the QA rubric when it ends

Per criterion of the account's rubric (AI disclosure, grounding, no repeated questions,
resolution, tone, risky promises, disclaimers) its verdict, evidence and score, with
what the dashboard and `switchboard qa report` group by (issue 39).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import switchboard.core.store.models

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('last_message_id', sa.Integer(), nullable=False),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_by', sa.String(length=20), nullable=False),
    sa.Column('automation', sa.String(length=12), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('agent', sa.String(length=200), nullable=True),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('rubric', sa.String(length=64), nullable=False),
    sa.Column('criteria', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
              nullable=False),
    sa.Column('disposition', sa.String(length=64), nullable=True),
    sa.Column('corrected_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_conversation_scores_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                            name=op.f('fk_conversation_scores_conversation_id_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_scores')),
    sa.UniqueConstraint('conversation_id', 'last_message_id',
                        name=op.f('uq_conversation_scores_conversation_id_last_message_id'))
    )
    with op.batch_alter_table('conversation_scores', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_scores_account_id_created_at', ['account_id', 'created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversation_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_scores_account_id_created_at')
    op.drop_table('conversation_scores')

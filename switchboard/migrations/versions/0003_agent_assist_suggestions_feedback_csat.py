"""agent assist: suggestions, feedback, csat

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('zendesk_ticket_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sources', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('engine', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('prompt_version', sa.String(length=32), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_suggestions_account_id_accounts')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_suggestions_conversation_id_conversations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestions'))
    )
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestions_zendesk_ticket_id'), ['zendesk_ticket_id'], unique=False)

    op.create_table('suggestion_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('suggestion_id', sa.Integer(), nullable=False),
    sa.Column('agent', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rating', sa.String(length=8), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('sent_text', sa.Text(), nullable=True),
    sa.Column('edit_distance', sa.Double(), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_suggestion_feedback_account_id_accounts')),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], name=op.f('fk_suggestion_feedback_suggestion_id_suggestions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion_feedback'))
    )
    with op.batch_alter_table('suggestion_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_feedback_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_feedback_suggestion_id'), ['suggestion_id'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('csat_requested_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('csat_score', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('csat_score')
        batch_op.drop_column('csat_requested_at')
        batch_op.drop_column('closed_at')

    with op.batch_alter_table('suggestion_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_feedback_suggestion_id'))
        batch_op.drop_index(batch_op.f('ix_suggestion_feedback_account_id'))

    op.drop_table('suggestion_feedback')
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestions_zendesk_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_suggestions_account_id'))

    op.drop_table('suggestions')

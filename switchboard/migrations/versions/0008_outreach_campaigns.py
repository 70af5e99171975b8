"""outreach campaigns

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models
from sqlalchemy.dialects import postgresql


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outreach_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('start_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('slack_ts', sa.String(length=32), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_outreach_campaigns_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_campaigns')),
    sa.UniqueConstraint('account_id', 'dedupe_key', name=op.f('uq_outreach_campaigns_account_id_dedupe_key'))
    )
    with op.batch_alter_table('outreach_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outreach_campaigns_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_outreach_campaigns_status_start_at', ['status', 'start_at'], unique=False)

    op.create_table('slack_installations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.String(length=32), nullable=True),
    sa.Column('team_id', sa.String(length=32), nullable=True),
    sa.Column('bot_token', sa.String(length=200), nullable=True),
    sa.Column('bot_user_id', sa.String(length=32), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('installed_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_slack_installations_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_installations'))
    )
    with op.batch_alter_table('slack_installations', schema=None) as batch_op:
        batch_op.create_index('ix_slack_installations_team_id_installed_at', ['team_id', 'installed_at'], unique=False)

    op.create_table('outreach_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('draft', sa.Text(), nullable=False),
    sa.Column('engine', sa.String(length=16), nullable=False),
    sa.Column('edited_text', sa.Text(), nullable=True),
    sa.Column('content_sid', sa.String(length=34), nullable=True),
    sa.Column('content_variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_outreach_segments_account_id_accounts')),
    sa.ForeignKeyConstraint(['campaign_id'], ['outreach_campaigns.id'], name=op.f('fk_outreach_segments_campaign_id_outreach_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_segments')),
    sa.UniqueConstraint('campaign_id', 'key', name=op.f('uq_outreach_segments_campaign_id_key'))
    )
    with op.batch_alter_table('outreach_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outreach_segments_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outreach_segments_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('outreach_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('send_after', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_sid', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('updated_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_outreach_recipients_account_id_accounts')),
    sa.ForeignKeyConstraint(['campaign_id'], ['outreach_campaigns.id'], name=op.f('fk_outreach_recipients_campaign_id_outreach_campaigns')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_outreach_recipients_customer_id_customers')),
    sa.ForeignKeyConstraint(['segment_id'], ['outreach_segments.id'], name=op.f('fk_outreach_recipients_segment_id_outreach_segments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_recipients')),
    sa.UniqueConstraint('campaign_id', 'customer_id', name=op.f('uq_outreach_recipients_campaign_id_customer_id'))
    )
    with op.batch_alter_table('outreach_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_outreach_recipients_campaign_id_status', ['campaign_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outreach_recipients_message_sid'), ['message_sid'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outreach_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outreach_recipients_message_sid'))
        batch_op.drop_index('ix_outreach_recipients_campaign_id_status')

    op.drop_table('outreach_recipients')
    with op.batch_alter_table('outreach_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outreach_segments_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_outreach_segments_account_id'))

    op.drop_table('outreach_segments')
    with op.batch_alter_table('slack_installations', schema=None) as batch_op:
        batch_op.drop_index('ix_slack_installations_team_id_installed_at')

    op.drop_table('slack_installations')
    with op.batch_alter_table('outreach_campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_campaigns_status_start_at')
        batch_op.drop_index(batch_op.f('ix_outreach_campaigns_account_id'))

    op.drop_table('outreach_campaigns')

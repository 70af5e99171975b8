"""outbox attempt lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', switchboard.core.store.models.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbox_calls', schema=None) as batch_op:
        batch_op.drop_column('attempted_at')


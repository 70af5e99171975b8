"""conversation_scores.disposition_confidence: how sure the wrap-up's choice was

The sidebar shows the agent the chosen disposition with its confidence, so they know
when to look twice before it is filed (issue 39).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disposition_confidence', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('conversation_scores', schema=None) as batch_op:
        batch_op.drop_column('disposition_confidence')

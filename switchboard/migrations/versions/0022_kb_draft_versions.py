"""kb_drafts: versions a reviewer edits, drafts that edit an existing article

Each draft keeps its versions (who made each, when, how: drafted, merged, edited) and
the version an approver published; a draft may be an edit of an article (its id and
the body it replaces, for the reviewer's diff) rather than a new one (issue 38).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('kb_drafts') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=8), server_default='new', nullable=False))
        batch.add_column(sa.Column('target_article_id', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('base_body', sa.Text(), nullable=True))
        batch.add_column(sa.Column('versions', JSON, server_default='[]', nullable=False))
        batch.add_column(sa.Column('approved_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kb_drafts') as batch:
        for column in ('approved_version', 'versions', 'base_body', 'target_article_id', 'kind'):
            batch.drop_column(column)

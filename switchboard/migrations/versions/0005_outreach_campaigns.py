"""outreach campaigns
Released empty (reserved while the features were built): databases already at this
revision never ran anything here, so the tables live in 0008-0010.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import switchboard.core.store.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""api_keys.prefix and outreach_campaigns.created_by: no characters of a key's secret

A key's first ten characters ("sb_" and seven of its secret) were kept in
api_keys.prefix and written as the author of campaigns started over the API
("api:sb_Ab3dE9x"), which Slack's approval request showed. A campaign's author is now
the key's id and name ("api:key:3:outreach-bot"), and the prefix column keeps "sb_"
only. The audit log is append-only (its triggers refuse UPDATE): entries written
before this keep the old author.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    keys = sa.table('api_keys', sa.column('id', sa.Integer), sa.column('account_id', sa.Integer),
                    sa.column('name', sa.String), sa.column('prefix', sa.String))
    campaigns = sa.table('outreach_campaigns', sa.column('account_id', sa.Integer),
                         sa.column('created_by', sa.String))
    for key_id, account_id, name, prefix in connection.execute(
            sa.select(keys.c.id, keys.c.account_id, keys.c.name, keys.c.prefix)).all():
        if prefix and len(prefix) > 3:
            connection.execute(campaigns.update()
                               .where(campaigns.c.account_id == account_id,
                                      campaigns.c.created_by == f"api:{prefix}")
                               .values(created_by=f"api:key:{key_id}:{name}"[:200]))
    connection.execute(keys.update().values(prefix='sb_'))


def downgrade() -> None:
    pass  # the fragments are gone on purpose

"""accounts.secrets: further accounts' vendor secrets sealed with the vault's keys

Further accounts kept their vendor secrets (Twilio auth token, Zendesk API token and
webhook secret, Slack bot token, actions.yaml systems' tokens) as plain JSON: whoever
could read the table, a backup or a replica could act as the company at its vendors
(issue 42, item 10). Each secret is now stored as ``vault:`` and a Fernet token of the
vault's keys (SWITCHBOARD_VAULT_KEYS, or the install's key file); the plain settings
beside them (channels, hours, origins) stay as they are. Code reads a value without the
mark as written before this, so web processes still running the old code during a
rolling deploy can write one and nothing breaks; `switchboard customers rotate-keys`
seals any such value left.

The keys are the settings' the upgrade runs with (``switchboard db upgrade``, or the
app's own upgrade of its SQLite database): the same keys the app reads them with.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

SEALED = "vault:"
#: The plain settings of an account (core.accounts.ACCOUNT_SETTINGS when this was written).
PLAIN = frozenset({
    "zendesk_email", "zendesk_app_public_key", "slack_digest_channel", "slack_approval_channel",
    "outreach_approvers", "outreach_quiet_hours", "outreach_rate", "voice_support_number", "voice_support_queue",
    "voice_hours", "voice_timezone", "voice_language", "voice_name", "vault_reveal", "retention_days",
    "webchat_origins", "webchat_name", "webchat_colour", "webchat_greeting", "twilio_verify_service_sid",
})
accounts = sa.table('accounts', sa.column('id', sa.Integer), sa.column('slug', sa.String),
                    sa.column('secrets', sa.JSON().with_variant(JSONB(), "postgresql")))


def _vault():  # type: ignore[no-untyped-def]
    # The app's modules when this migration runs, not when Alembic lists the revisions.
    from switchboard.core.accounts.keys import vault_for
    from switchboard.core.settings import load_settings

    settings = context.config.attributes.get("settings") or load_settings()
    return vault_for(settings)


def _rewrite(change) -> None:  # type: ignore[no-untyped-def]
    connection = op.get_bind()
    rows = connection.execute(sa.select(accounts.c.id, accounts.c.secrets)
                              .where(accounts.c.slug != 'default')).all()
    vault = None
    for account_id, stored in rows:
        if not isinstance(stored, dict):
            continue
        if vault is None:
            vault = _vault()
        new = {name: change(vault, name, value) for name, value in stored.items()}
        if new != stored:
            connection.execute(accounts.update().where(accounts.c.id == account_id).values(secrets=new))


def _seal(vault, name: str, value):  # type: ignore[no-untyped-def]
    if name in PLAIN or not isinstance(value, str) or not value or value.startswith(SEALED):
        return value
    return SEALED + vault.seal(value).decode("ascii")


def _open(vault, name: str, value):  # type: ignore[no-untyped-def]
    if isinstance(value, str) and value.startswith(SEALED):
        return vault.open(value[len(SEALED):].encode("ascii"))
    return value


def upgrade() -> None:
    _rewrite(_seal)


def downgrade() -> None:
    _rewrite(_open)

"""Multi-workspace installs: slack_sdk's InstallationStore over our own table, so the
OAuth flow and Bolt's authorize() read the same rows the migrations manage (slack_sdk's
SQLAlchemy store would create tables of its own, outside Alembic)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from switchboard.core.accounts import DEFAULT_SLUG
from switchboard.models import Account, SlackInstallation


class DatabaseInstallationStore(InstallationStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def logger(self) -> Any:  # InstallationStore's abstract property
        import logging

        return logging.getLogger(__name__)

    def save(self, installation: Installation, *, account_id: int | None = None) -> None:
        data = {k: v for k, v in installation.to_dict().items() if not k.endswith("token")}
        self.session.add(SlackInstallation(
            account_id=account_id, enterprise_id=installation.enterprise_id, team_id=installation.team_id,
            bot_token=installation.bot_token, bot_user_id=installation.bot_user_id, data=_json_safe(data),
            installed_at=datetime.now(UTC)))
        self.session.commit()

    def _latest(self, enterprise_id: str | None, team_id: str | None) -> SlackInstallation | None:
        query = select(SlackInstallation).where(SlackInstallation.team_id == team_id)
        if enterprise_id:
            query = query.where(SlackInstallation.enterprise_id == enterprise_id)
        return self.session.scalar(query.order_by(SlackInstallation.installed_at.desc(), SlackInstallation.id.desc())
                                   .limit(1))

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        row = self._latest(enterprise_id, team_id)
        if row is None or not row.bot_token:
            return None
        return Bot(enterprise_id=row.enterprise_id, team_id=row.team_id, bot_token=row.bot_token,
                   bot_id=str(row.data.get("bot_id") or ""), bot_user_id=row.bot_user_id or "",
                   installed_at=row.installed_at.timestamp())

    def find_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                          is_enterprise_install: bool | None = False) -> Installation | None:
        row = self._latest(enterprise_id, team_id)
        if row is None:
            return None
        return Installation(enterprise_id=row.enterprise_id, team_id=row.team_id, bot_token=row.bot_token,
                            bot_user_id=row.bot_user_id, user_id=str(row.data.get("user_id") or ""),
                            installed_at=row.installed_at.timestamp())


def installed_bot_token(session: Session, enterprise_id: str | None, team_id: str | None) -> str | None:
    bot = DatabaseInstallationStore(session).find_bot(enterprise_id=enterprise_id, team_id=team_id)
    return bot.bot_token if bot else None


def bot_token_for_account(session: Session, account: Account) -> str | None:
    """The bot token the newest OAuth install of the account's workspace stored, so an
    account linked to a workspace can post without a slack_bot_token secret."""
    if not account.slack_team_id:
        return None
    return installed_bot_token(session, None, account.slack_team_id)


def account_for_install(session: Session, team_id: str | None) -> Account | None:
    """The account a freshly installed workspace belongs to: the one already linked to
    the team, else the default account while it is linked to no workspace (it is then
    linked, so Bolt's requests from that team find it). Further workspaces need an
    account of their own (`switchboard accounts add SLUG --slack-team-id T…`)."""
    if not team_id:
        return None
    linked = session.scalar(select(Account).where(Account.slack_team_id == team_id))
    if linked is not None:
        return linked
    # Conditional, so two workspaces installing at once cannot both take the default.
    claimed = session.execute(update(Account).where(Account.slug == DEFAULT_SLUG, Account.slack_team_id.is_(None))
                              .values(slack_team_id=team_id).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return None
    return session.scalar(select(Account).where(Account.slug == DEFAULT_SLUG).execution_options(
        populate_existing=True))


def install(session: Session, installation: Installation) -> Account | None:
    """Store an OAuth install and link its workspace to an account, in one commit."""
    account = account_for_install(session, installation.team_id)
    DatabaseInstallationStore(session).save(installation, account_id=account.id if account else None)
    return account


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

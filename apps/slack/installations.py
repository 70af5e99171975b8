"""Multi-workspace installs: slack_sdk's InstallationStore over our own table, so the
OAuth flow and Bolt's authorize() read the same rows the migrations manage (slack_sdk's
SQLAlchemy store would create tables of its own, outside Alembic)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.core.store.models import Account, SlackInstallation


class DatabaseInstallationStore(InstallationStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def logger(self) -> Any:  # InstallationStore's abstract property

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


class InstallRefused(Exception):
    """An OAuth install that cannot be linked to the account it was started for; the
    message says what to do, and nothing was stored."""


class NoSuchAccount(InstallRefused):
    def __init__(self) -> None:
        super().__init__("The account this install was started for no longer exists, so nothing was stored: sign "
                         "in at /dashboard/login with the API key of an existing account and open /slack/install "
                         "again.")


class NotAWorkspace(InstallRefused):
    def __init__(self) -> None:
        super().__init__("Slack answered without a workspace (an Enterprise Grid organization-wide install?), so "
                         "nothing was stored: Switchboard links one workspace per account, so install it into a "
                         "single workspace from /slack/install.")


class TeamLinkedElsewhere(InstallRefused):
    def __init__(self, team_id: str) -> None:
        # The other account is not named: the operator of this account need not learn
        # another tenant's name.
        super().__init__(f"Workspace {team_id} is already linked to another Switchboard account, so nothing was "
                         f"stored. To refresh that install, sign in at /dashboard/login with that account's API key "
                         f"and open /slack/install again; to move the workspace here, have its link removed from "
                         f"the other account first.")


class AccountLinkedElsewhere(InstallRefused):
    def __init__(self, account: Account, linked: str, team_id: str) -> None:
        super().__init__(f"Account '{account.slug}' is already linked to workspace {linked}, so nothing was stored "
                         f"for workspace {team_id}. To refresh the install, add Switchboard from workspace {linked}; "
                         f"to serve workspace {team_id}, give it an account of its own (`switchboard accounts add "
                         f"SLUG --name NAME`, then `switchboard accounts key --account SLUG`), sign in at "
                         f"/dashboard/login with that key and open /slack/install again.")


def link_account(session: Session, account_id: int, team_id: str | None) -> Account:
    """The account the operator started the install for, linked to the installed team.
    Only that account is ever linked (no implicit claim of the default account), and a
    link is never moved: a team of another account, or a team other than the account's
    own, is refused, so a stranger's workspace cannot receive this account's approvals."""
    if not team_id:
        raise NotAWorkspace()
    account = session.get(Account, account_id)
    if account is None:
        raise NoSuchAccount()
    if account.slack_team_id == team_id:  # a re-install: the token is refreshed
        return account
    if account.slack_team_id is not None:
        raise AccountLinkedElsewhere(account, account.slack_team_id, team_id)
    if session.scalar(select(Account.id).where(Account.slack_team_id == team_id)) is not None:
        raise TeamLinkedElsewhere(team_id)
    return _claim(session, account, team_id)


def _claim(session: Session, account: Account, team_id: str) -> Account:
    """Conditional, so two installs racing for the same account (or the same team, by
    the unique constraint) cannot both link: the loser is refused."""
    try:
        session.execute(update(Account).where(Account.id == account.id, Account.slack_team_id.is_(None))
                        .values(slack_team_id=team_id).execution_options(synchronize_session=False))
    except IntegrityError:  # another account took the team in the meantime
        session.rollback()
        raise TeamLinkedElsewhere(team_id) from None
    session.refresh(account)
    if account.slack_team_id != team_id:  # nothing updated: another install linked it first
        refused = AccountLinkedElsewhere(account, account.slack_team_id or "another workspace", team_id)
        session.rollback()
        raise refused
    return account


def install(session: Session, installation: Installation, account_id: int) -> Account:
    """Store an OAuth install linked to the account it was started for, in one commit;
    raises InstallRefused (having stored nothing) when the link would conflict."""
    account = link_account(session, account_id, installation.team_id)
    DatabaseInstallationStore(session).save(installation, account_id=account.id)
    return account


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

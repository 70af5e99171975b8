"""Multi-workspace installs: slack_sdk's InstallationStore over our own table, so the
OAuth flow and Bolt's authorize() read the same rows the migrations manage (slack_sdk's
SQLAlchemy store would create tables of its own, outside Alembic)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import SlackInstallation


class DatabaseInstallationStore(InstallationStore):
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def logger(self) -> Any:  # InstallationStore's abstract property
        import logging

        return logging.getLogger(__name__)

    def save(self, installation: Installation) -> None:
        data = {k: v for k, v in installation.to_dict().items() if not k.endswith("token")}
        self.session.add(SlackInstallation(
            enterprise_id=installation.enterprise_id, team_id=installation.team_id, bot_token=installation.bot_token,
            bot_user_id=installation.bot_user_id, data=_json_safe(data), installed_at=datetime.now(UTC)))
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


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

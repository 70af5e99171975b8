"""Who is signed in to the supervisors' pages, and the secret that signs it.

A session is a signed, HTTP-only cookie naming the account, made from an account API key
(an operator's) or from a one-minute code the Zendesk sidebar obtains for an agent. The
dashboard (``apps/dashboard.py``) signs people in and out with it; the sidebar
issues codes and the Slack app's install asks for a key's session. The web chat signs its
visitor tokens with the same deployment secret (its own salt). Kept apart from the
dashboard's pages so these apps use it without importing the dashboard, which imports
the sidebar back.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from switchboard.core.outcomes import metrics
from switchboard.core.store.models import Account, ApiKey
from switchboard.core.store.private_files import create_private
from switchboard.intake import db

log = logging.getLogger("switchboard.apps.dashboard")
COOKIE = "switchboard_dashboard"
SESSION_HOURS = 8


def _secret(app: Flask) -> str:
    """SWITCHBOARD_SECRET_KEY (or Flask's SECRET_KEY) when configured: the same on every
    host, so a cookie signed by one web host is read by the next. Without it, a random
    secret kept in the data directory serves the single-host default (every gunicorn
    worker and a restart of that host agree; a second host would not)."""
    settings = app.config["SETTINGS"]
    if settings.secret_key:
        return str(settings.secret_key)
    if app.config.get("SECRET_KEY"):
        return str(app.config["SECRET_KEY"])
    if not settings.database_url.startswith("sqlite"):
        app.logger.warning("SWITCHBOARD_SECRET_KEY is not set: dashboard sessions signed here are not valid on "
                           "other web hosts; set the same long random value on every host")
    path: Path = app.config["SETTINGS"].data_dir / ".switchboard-session-secret"
    create_private(path, lambda: os.urandom(32).hex())
    return path.read_text().strip()


def app_secret(app: Flask) -> str:
    """The deployment's signing secret (see :func:`_secret`), read once per app: the
    dashboard's sessions and the web chat's visitor tokens are signed with it (each
    with its own salt)."""
    secret = app.extensions.get("switchboard.dashboard_secret")
    if secret is None:
        secret = app.extensions["switchboard.dashboard_secret"] = _secret(app)
    return str(secret)


def serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app_secret(current_app), salt="switchboard-dashboard")


#: How long a sign-in code from the sidebar app is good for: the app opens the
#: dashboard with it at once, so a minute is plenty and a leaked code soon worthless.
CODE_SECONDS = 60
CODE_SALT = "switchboard-dashboard-code"
#: The metric event recording a code's one use (its dedupe key makes it one).
CODE_USED = "dashboard.code_used"


def issue_code(account: Account, agent: str) -> str:
    """A short-lived signed code that signs an agent's browser into the dashboard. The
    sidebar app's credential stays in Zendesk's proxy (a secure setting), so the browser
    has nothing of its own to sign in with: the app asks for this code through the proxy."""
    # The nonce makes each code its own: two asked for within a second would otherwise be
    # the same text, and the first one's use would refuse the second.
    return serializer().dumps({"account": account.id, "agent": agent[:200], "nonce": os.urandom(8).hex()},
                               salt=CODE_SALT)


def account_for_code(code: str) -> Account | None:
    """The account a code signs in to, once: a copy of the code (a browser's history,
    a screen share, a proxy's log) must not open a second session within its minute.
    Its use is recorded under a key unique per account, so two hosts taking the same
    code at once let one of them through."""
    try:
        data = serializer().loads(code, max_age=CODE_SECONDS, salt=CODE_SALT)
    except BadSignature:  # also SignatureExpired
        return None
    session = db.session()
    account = session.get(Account, data.get("account")) if isinstance(data, dict) else None
    if account is None:
        return None
    first_use = metrics.record(session, account.id, CODE_USED, label=str(data.get("agent") or "")[:64],
                               dedupe_key=f"{CODE_USED}:{hashlib.sha256(code.encode()).hexdigest()}")
    session.commit()
    if first_use is None:
        log.warning("dashboard sign-in code used a second time, refused (agent %s)", data.get("agent"))
        return None
    return account


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def signed_in_with_key() -> Account | None:
    """The account of a session made from an account API key: an operator's. A session
    opened from the sidebar (any Zendesk agent) may read figures, not install the Slack
    app for the account."""
    data = session_data()
    return signed_in() if data is not None and data.get("key") else None


def session_data() -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = serializer().loads(raw, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def signed_in() -> Account | None:
    data = session_data()
    if data is None:
        return None
    session = db.session()
    if data.get("key"):  # still a live key of the same account?
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == data["key"], ApiKey.revoked_at.is_(None)))
        if key is None or key.account_id != data.get("account"):
            return None
    return session.get(Account, data.get("account"))

"""/dashboard: the supervisors' view of outcomes, server-rendered.

Sign-in takes an account API key (typed into the form), a one-minute code the sidebar
app obtains through Zendesk's proxy (POST /api/sidebar/dashboard-session) and posts, or
a Zendesk-signed token (verified exactly as the sidebar API verifies it). Either one
becomes a signed, HTTP-only session cookie naming the account; every figure, gap and
audit entry on the page is then read for that account only. A cookie made from a key
stops working when the key is revoked.

The page is one GET with the filters in the query string, so a filtered view is a
link a supervisor can share. Charts are drawn by the bundled Chart.js from the
figures embedded in the page; nothing is fetched from a CDN.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from switchboard import db
from switchboard.core import accounts, audit, metrics
from switchboard.core.digest import _gap_groups
from switchboard.core.knowledge import phrasings as learned_phrasings
from switchboard.core.metrics import BOT_QUIET
from switchboard.core.metrics_figures import (
    MAX_DAY,
    MIN_DAY,
    FiguresError,
    Filters,
    TimeUnit,
    check_day,
    figures,
    first_day,
    format_duration,
    options,
    time_unit,
)
from switchboard.models import Account, ApiKey
from switchboard.private_files import create_private

log = logging.getLogger(__name__)
blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")
COOKIE = "switchboard_dashboard"
SESSION_HOURS = 8
#: Without a chosen start the page shows the last DEFAULT_DAYS, or on a younger account
#: every day since its first conversation, and never fewer than MIN_DEFAULT_DAYS: a
#: week of history is not charted as 30 days of mostly nothing.
DEFAULT_DAYS = 30
MIN_DEFAULT_DAYS = 7
#: Knowledge gaps read every unanswered question of the period: cap the window.
GAP_DAYS = 31
AUDIT_ROWS = 20


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


def _serializer() -> URLSafeTimedSerializer:
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
    return _serializer().dumps({"account": account.id, "agent": agent[:200], "nonce": os.urandom(8).hex()},
                               salt=CODE_SALT)


def _account_for_code(code: str) -> Account | None:
    """The account a code signs in to, once: a copy of the code (a browser's history,
    a screen share, a proxy's log) must not open a second session within its minute.
    Its use is recorded under a key unique per account, so two hosts taking the same
    code at once let one of them through."""
    try:
        data = _serializer().loads(code, max_age=CODE_SECONDS, salt=CODE_SALT)
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


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def signed_in_with_key() -> Account | None:
    """The account of a session made from an account API key: an operator's. A session
    opened from the sidebar (any Zendesk agent) may read figures, not install the Slack
    app for the account."""
    data = _session_data()
    return _signed_in() if data is not None and data.get("key") else None


def _session_data() -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _signed_in() -> Account | None:
    data = _session_data()
    if data is None:
        return None
    session = db.session()
    if data.get("key"):  # still a live key of the same account?
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == data["key"], ApiKey.revoked_at.is_(None)))
        if key is None or key.account_id != data.get("account"):
            return None
    return session.get(Account, data.get("account"))


def require_supervisor(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        account = _signed_in()
        if account is None:
            return redirect(url_for("dashboard.login"))
        g.account = account
        return view(*args, **kwargs)

    return wrapper


#: The default account's key `switchboard serve` writes into the data directory (next
#: to the SQLite database) and prints the path of: what a newcomer has to sign in with.
API_KEY_FILE = ".switchboard-api-key"


def _from_this_machine() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def key_file_hint() -> dict[str, str | None]:
    """Where the sign-in page says the key `switchboard serve` wrote is: the file's full
    path to a browser on the serving machine (the newcomer's case), only its name and
    folder to anyone else, who has no business learning the server's paths."""
    path: Path = current_app.config["SETTINGS"].data_dir / API_KEY_FILE
    return {"name": API_KEY_FILE, "path": str(path) if path.exists() and _from_this_machine() else None}


def _login_page(error: str | None = None) -> str:
    return render_template("dashboard_login.html", error=error, key_file=key_file_hint())


@blueprint.get("/login")
def login() -> ResponseReturnValue:
    return _login_page()


@blueprint.post("/login")
def login_submit() -> ResponseReturnValue:
    from switchboard.apps.zendesk.sidebar_api import account_for_jwt

    key = (request.form.get("key") or "").strip()
    token = (request.form.get("token") or "").strip()
    code = (request.form.get("code") or "").strip()
    account, payload = None, {}
    if key:
        account = accounts.account_for_api_key(db.session(), key)
        payload = {"key": _key_hash(key)}
    elif code:
        account = _account_for_code(code)
    elif token.count(".") == 2:
        account = account_for_jwt(token)
    if account is None and code and not key:
        log.warning("dashboard sign-in code refused from %s", request.remote_addr)
        return _login_page(error="That sign-in code was used already or has expired: a code opens one session, "
                                 "within a minute. Open the dashboard again from the Switchboard app in Zendesk."), 401
    if account is None:
        log.warning("dashboard sign-in refused from %s", request.remote_addr)
        return _login_page(error=f"That key or token is not valid. Paste the whole key from {API_KEY_FILE}, or "
                           "create one with `switchboard accounts key --name dashboard`."), 401
    response = redirect(url_for("dashboard.index"))
    response.set_cookie(COOKIE, _serializer().dumps({"account": account.id, **payload}),
                        max_age=SESSION_HOURS * 3600, httponly=True, samesite="Lax", secure=request.is_secure)
    return response


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    response = redirect(url_for("dashboard.login"))
    response.delete_cookie(COOKIE)
    return response


def _date(name: str, default: date) -> date:
    """A day from the query string, checked against the allowed range before any date
    arithmetic (``to=9999-12-31`` must be a 400 naming the range, not an overflow)."""
    value = request.args.get(name) or ""
    if not value:
        return default
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FiguresError(f"{name} must be a date like 2026-11-01 between {MIN_DAY} and {MAX_DAY}, "
                           f"not {value!r}") from None
    return check_day(name, day)


def default_start(end: date, first: date | None) -> date:
    """The first day to show up to ``end`` when the user chose none: the account's
    first day with conversations, but no more than DEFAULT_DAYS back and no fewer than
    MIN_DEFAULT_DAYS (an account without conversations yet gets the last week)."""
    shortest = end - timedelta(days=MIN_DEFAULT_DAYS - 1)
    longest = end - timedelta(days=DEFAULT_DAYS - 1)
    return max(MIN_DAY, longest, min(first or shortest, shortest))


def _filters(account_id: int) -> Filters:
    """The period and segment from the query string; a day the user gives is kept as
    given, a missing start follows the account's history (``default_start``)."""
    today = datetime.now(UTC).date()
    end = _date("to", today)
    start = _date("from", default_start(end, first_day(db.session(), account_id)))
    return Filters(start, end, request.args.get("channel") or None, request.args.get("tier") or None,
                   request.args.get("intent") or None)


#: What the page calls each automation level (core.metrics.AUTOMATION_LEVELS), in the
#: segment table and the chart alike.
AUTOMATION_LABELS = {"ai_only": "AI only", "ai_then_human": "AI then human", "human_only": "Human only",
                     "awaiting_human": "Waiting for a person"}
#: The figures the times chart draws, one line each.
TIME_FIGURES = ("first_response_avg_s", "handle_time_avg_s", "resolution_time_avg_s")


def chart_time_unit(daily: list[dict[str, Any]]) -> TimeUnit:
    """The times chart's one unit, by the same rule as the cards (``time_unit``),
    for the largest value it draws: 40 s averages are charted in seconds, not as 0.67
    of a minute."""
    return time_unit(max((day[name] for day in daily for name in TIME_FIGURES if day[name] is not None),
                         default=None))


@blueprint.get("")
@blueprint.get("/")
@require_supervisor
def index() -> ResponseReturnValue:
    account: Account = g.account
    session = db.session()
    try:
        filters = _filters(account.id)
    except FiguresError as exc:
        return render_template("dashboard.html", account=account, error=str(exc), data=None, filters=None,
                               choices=options(session, account.id), gaps=[], audit_rows=[], min_day=MIN_DAY,
                               max_day=MAX_DAY), 400
    data = figures(session, account.id, filters)
    gap_start = max(filters.start_at, filters.end_at - timedelta(days=GAP_DAYS))
    gaps, _ = _gap_groups(session, account.id, gap_start, filters.end_at)
    rows = audit.entries(session, account.id, limit=AUDIT_ROWS)
    return render_template("dashboard.html", account=account, error=None, data=data, filters=filters,
                           choices=options(session, account.id), gaps=gaps[:5], audit_rows=rows, min_day=MIN_DAY,
                           max_day=MAX_DAY, bot_quiet_hours=round(BOT_QUIET.total_seconds() / 3600),
                           time_unit=chart_time_unit(data["daily"]), automation_labels=AUTOMATION_LABELS)


# --- learned phrasings: what the bot learned, and an operator's remove button ------------

def csrf_token() -> str:
    """The token a form on the page must send back: an HMAC of this browser's session
    cookie, which another site can neither read nor compute. (The cookie is also
    SameSite=Lax; a state-changing button gets both.)"""
    raw = request.cookies.get(COOKIE, "")
    return hmac.new(app_secret(current_app).encode(), f"csrf:{raw}".encode(), hashlib.sha256).hexdigest()


def _operator() -> str | None:
    """How the audit names the operator signed in with an account key, else None (a
    session opened from the sidebar, by any agent, may read but not remove)."""
    data = _session_data()
    if signed_in_with_key() is None or data is None:
        return None
    key = db.session().scalar(select(ApiKey).where(ApiKey.key_hash == data["key"]))
    return f"dashboard:key:{key.prefix}" if key is not None else None


@blueprint.get("/phrasings")
@require_supervisor
def phrasings_page() -> ResponseReturnValue:
    account: Account = g.account
    rows = learned_phrasings.list_phrasings(db.session(), account.id)
    removed = request.args.get("removed", type=int)
    return render_template("dashboard_phrasings.html", account=account, phrasings=rows, removed=removed,
                           can_remove=_operator() is not None, csrf=csrf_token())


@blueprint.post("/phrasings/<int:phrasing_id>/remove")
@require_supervisor
def remove_phrasing(phrasing_id: int) -> ResponseReturnValue:
    account: Account = g.account
    actor = _operator()
    if actor is None:
        return ("Removing a phrasing needs a session signed in with an account API key (an operator's), "
                "not one opened from the Zendesk sidebar: sign in at /dashboard/login with a key."), 403
    if not hmac.compare_digest((request.form.get("csrf") or "").encode(), csrf_token().encode()):
        log.warning("phrasing removal refused from %s: missing or wrong CSRF token", request.remote_addr)
        return "This form is stale or did not come from the dashboard: reload /dashboard/phrasings and try again.", 400
    session = db.session()
    try:
        learned_phrasings.remove_phrasing(session, account.id, phrasing_id, actor=actor)
    except learned_phrasings.PhrasingError as exc:
        return str(exc), 404
    session.commit()
    return redirect(url_for("dashboard.phrasings_page", removed=phrasing_id))


def init_app(app: Flask) -> None:
    app.add_template_filter(format_duration, "duration")
    app.register_blueprint(blueprint)

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
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from switchboard.apps.sign_in import (
    COOKIE,
    SESSION_HOURS,
    account_for_code,
    app_secret,
    key_hash,
    serializer,
    session_data,
    signed_in,
    signed_in_with_key,
)
from switchboard.apps.zendesk.sidebar_api import account_for_jwt
from switchboard.core import accounts
from switchboard.core.knowledge import phrasings as learned_phrasings
from switchboard.core.knowledge import topics
from switchboard.core.knowledge_loop import conflicts as kb_conflicts
from switchboard.core.knowledge_loop import drafts as kb_drafts
from switchboard.core.knowledge_loop import gaps
from switchboard.core.knowledge_loop import impact as kb_impact
from switchboard.core.knowledge_loop.digest import _gap_groups
from switchboard.core.outcomes.figures import (
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
from switchboard.core.outcomes.metrics import BOT_QUIET
from switchboard.core.quality import report as quality_report
from switchboard.core.quality import rubric as quality_rubric
from switchboard.core.store import audit
from switchboard.core.store.models import Account, ApiKey
from switchboard.intake import db

log = logging.getLogger(__name__)
blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")
#: Without a chosen start the page shows the last DEFAULT_DAYS, or on a younger account
#: every day since its first conversation, and never fewer than MIN_DEFAULT_DAYS: a
#: week of history is not charted as 30 days of mostly nothing.
DEFAULT_DAYS = 30
MIN_DEFAULT_DAYS = 7
#: Knowledge gaps read every unanswered question of the period: cap the window.
GAP_DAYS = 31
AUDIT_ROWS = 20


def require_supervisor(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        account = signed_in()
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
    key = (request.form.get("key") or "").strip()
    token = (request.form.get("token") or "").strip()
    code = (request.form.get("code") or "").strip()
    account, payload = None, {}
    if key:
        account = accounts.account_for_api_key(db.session(), key)
        payload = {"key": key_hash(key)}
    elif code:
        account = account_for_code(code)
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
    response.set_cookie(COOKIE, serializer().dumps({"account": account.id, **payload}),
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


#: What the page calls each automation level (core.outcomes.metrics.AUTOMATION_LEVELS), in the
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
    data = session_data()
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


@blueprint.get("/quality")
@require_supervisor
def quality_page() -> ResponseReturnValue:
    """QA scores of the conversations that ended in the period, worst first with evidence."""
    account: Account = g.account
    end = datetime.now(UTC).date()
    try:
        start = _date("from", end - timedelta(days=DEFAULT_DAYS))
    except FiguresError as exc:
        return str(exc), 400
    session = db.session()
    rows = quality_report.scores_since(session, account.id, datetime.combine(start, datetime.min.time(), UTC))
    names = quality_report.names_for(session, account.id, rows)
    return render_template("dashboard_quality.html", account=account, start=start,
                           data=quality_report.report(rows, names), criteria=quality_rubric.CRITERIA)


@blueprint.get("/knowledge")
@require_supervisor
def knowledge_page() -> ResponseReturnValue:
    """The improvement loop: what customers asked that no article answered (gaps, ranked),
    and the articles drafted from agents' answers, with their proof, for review."""
    account: Account = g.account
    session = db.session()
    settings = current_app.config["SETTINGS"]
    end = datetime.now(UTC)
    found = gaps.rank_gaps(session, account.id, topics.live_retriever(session, account.id, settings),
                           start=end - timedelta(days=DEFAULT_DAYS), end=end)
    drafts = sorted(kb_drafts.drafts(session, account.id), key=lambda d: (d.status != kb_drafts.PENDING, -d.id))
    return render_template("dashboard_knowledge.html", account=account, gaps=found[:20], days=DEFAULT_DAYS,
                           drafts=drafts, diffs={d.id: kb_drafts.diff(d) for d in drafts},
                           impacts=kb_impact.measure(session, account, settings, until=end),
                           window_days=kb_impact.WINDOW_DAYS,
                           conflicts=kb_conflicts.review(session, account.id, settings),
                           decided=request.args.get("decided"),
                           can_decide=_operator() is not None, csrf=csrf_token())


def _draft_form_refused(actor: str | None, doing: str) -> tuple[str, int] | None:
    """Why a draft's form is refused: no operator's session (403), or no CSRF token (400)."""
    if actor is None:
        return (f"{doing} a draft needs a session signed in with an account API key (an operator's), "
                "not one opened from the Zendesk sidebar: sign in at /dashboard/login with a key."), 403
    if not hmac.compare_digest((request.form.get("csrf") or "").encode(), csrf_token().encode()):
        return "This form is stale or did not come from the dashboard: reload /dashboard/knowledge and try again.", 400
    return None


@blueprint.post("/knowledge/drafts/<int:draft_id>/<any(approve, reject):verdict>")
@require_supervisor
def decide_draft(draft_id: int, verdict: str) -> ResponseReturnValue:
    """Approve (publish) or reject a draft, as `switchboard kb drafts approve|reject` does."""
    account: Account = g.account
    actor = _operator()
    refused = _draft_form_refused(actor, "Deciding on")
    if refused is not None:
        return refused
    assert actor is not None
    try:
        decision = kb_drafts.decide(db.session(), account, current_app.config["SETTINGS"], draft_id, verdict,
                                    actor=actor)
    except kb_drafts.DraftNotFound as exc:
        return str(exc), 404
    return redirect(url_for("dashboard.knowledge_page", decided=f"{draft_id}:{decision.outcome}"))


@blueprint.post("/knowledge/drafts/<int:draft_id>/edit")
@require_supervisor
def edit_draft(draft_id: int) -> ResponseReturnValue:
    """A new version of a pending draft from the edit form, as the Slack modal and
    `switchboard kb drafts edit` save it: proven again, nothing published."""
    account: Account = g.account
    actor = _operator()
    refused = _draft_form_refused(actor, "Editing")
    if refused is not None:
        return refused
    assert actor is not None
    if "title" not in request.form or "body" not in request.form:
        return "The edit form sends a title and a body: reload /dashboard/knowledge and try again.", 400
    try:
        decision = kb_drafts.edit(db.session(), account, current_app.config["SETTINGS"], draft_id,
                                  title=request.form["title"], body=request.form["body"], actor=actor)
    except kb_drafts.DraftNotFound as exc:
        return str(exc), 404
    except kb_drafts.InvalidEdit as exc:
        return f"The edit was not saved: {exc}.", 422
    if decision.outcome.startswith("already:"):
        return f"The edit was not saved: draft {draft_id} is already {decision.draft.status}.", 409
    return redirect(url_for("dashboard.knowledge_page", decided=f"{draft_id}:{decision.outcome}"))


def init_app(app: Flask) -> None:
    app.add_template_filter(format_duration, "duration")
    app.register_blueprint(blueprint)

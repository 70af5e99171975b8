"""The web chat widget's public API (issue 21; the contract is webchat-contract.md):
the widget's files, an account's look, visitor sessions, messages in and out, and the
live stream.

These routes are public: a visitor proves who they are with the signed token their
session call returned (``Authorization: Bearer``; the stream, which EventSource opens
without headers, takes it in the query). No cookies are used, POSTs must be JSON (a
cross-site form cannot send that without a CORS preflight) and only the account's
allowed origins get CORS answers, which together keep the API CSRF-safe.

Views are thin: a visitor's message is recorded in the inbox and queued like a
vendor's webhook (durable before the 202, processed once per client_id), and the
core answers it in the worker.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from switchboard.apps.sign_in import app_secret
from switchboard.apps.webchat import stream as live
from switchboard.apps.webchat import stream_slots as slots
from switchboard.apps.webchat.schemas import MESSAGE_REQUEST, SESSION_REQUEST, BadRequest, load
from switchboard.core import accounts
from switchboard.core.channels import webchat
from switchboard.core.customers import address_verification
from switchboard.core.store.models import Account, Customer, WebVisitor
from switchboard.intake import db
from switchboard.intake.inbox import accept

blueprint = Blueprint("webchat", __name__, url_prefix="/chat")
ASSETS = Path(__file__).parent / "assets"
#: The widget's files, by the name they are served under.
FILES = {"widget.js": "text/javascript", "widget.css": "text/css", "demo.html": "text/html"}
MAX_BODY_BYTES = 8 * 1024


class WebChatError(Exception):
    """A refused request: its status and what the widget (or its developer) should do."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _refused(exc: WebChatError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=exc.message), exc.status, exc.headers


def _bad_request(exc: BadRequest) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
    return jsonify(error=f"the request body is larger than {MAX_BODY_BYTES // 1024} KB; send a shorter "
                         f"message (at most {webchat.MAX_TEXT} characters)"), 413


#: What a visitor over a rate limit is told, by the route that refused them (Flask-Limiter
#: would say "10 per 1 minute"); the wait itself is in the Retry-After header.
RATE_LIMITED = {
    "webchat.post_message": "You're sending messages faster than we can read them",
    "webchat.start_session": "Too many new chats were started from your network just now",
    "webchat_identity.identify": "Too many codes were asked for just now",
}


def _rate_limited(exc: RateLimitExceeded) -> tuple[Response, int]:
    what = RATE_LIMITED.get(request.endpoint or "", "Too many requests just now")
    return jsonify(error=f"{what}: please wait a moment and try again."), 429


def secret() -> str:
    return app_secret(current_app)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# -- the widget's files ---------------------------------------------------------------------

def _asset(name: str) -> Response:
    """A file of the widget's, from the package (or WEBCHAT_ASSETS, a folder a
    deployment keeps its own build of the widget in)."""
    path = Path(current_app.config.get("WEBCHAT_ASSETS") or ASSETS) / name
    if not path.is_file():
        raise WebChatError(404, f"the web chat widget's {name} is not installed (expected it at "
                                f"apps/webchat/assets/{name}); reinstall Switchboard")
    response = send_file(path, mimetype=FILES[name], max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"  # a script tag on any site may load it
    return response


@blueprint.get("/widget.js")
def widget_js() -> Response:
    return _asset("widget.js")


@blueprint.get("/widget.css")
def widget_css() -> Response:
    return _asset("widget.css")


@blueprint.get("/demo")
def demo() -> Response:
    return _asset("demo.html")


# -- every /chat/<slug>/ request: the account, its origins, the body's size ------------------

def _own_origins() -> set[str]:
    own = {request.host_url.rstrip("/").lower()}
    public_url = current_app.config["SETTINGS"].public_url
    if public_url:
        parts = urlsplit(public_url)
        own.add(f"{parts.scheme}://{parts.netloc}".lower())
    return own


def screen() -> Response | None:
    """Before every /chat/<slug>/ request: the account (404 unknown), the Origin (403
    unless the account's or ours), the 8 KB body cap, and the answer to a preflight."""
    slug = (request.view_args or {}).get("slug")
    if slug is None:
        return None
    request.max_content_length = MAX_BODY_BYTES
    account = accounts.by_slug(db.session(), slug)
    if account is None:
        raise WebChatError(404, f"no web chat for account {slug!r}: check the data-account of the script tag")
    g.webchat_account = account
    origin = request.headers.get("Origin")
    if origin and not _allowed(account, origin):
        where = accounts.secret_variable(account, "webchat_origins")
        raise WebChatError(403, f"origin {origin!r} may not embed this chat: add it to webchat_origins ({where})")
    if request.method == "OPTIONS":
        return Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600"})
    return None


def _allowed(account: Account | None, origin: str) -> bool:
    """The account's own sites (webchat_origins) and the Switchboard's own pages."""
    bare = origin.rstrip("/").lower()
    return bare in _own_origins() or (account is not None and bare in webchat.allowed_origins(
        account, current_app.config["SETTINGS"]))


def add_cors(response: Response) -> Response:
    """After it: CORS headers for an allowed Origin (also on a refusal that came before
    ``screen``, such as a rate limit's 429, so the widget can read it), ``Vary:
    Origin``, no caching."""
    slug = (request.view_args or {}).get("slug")
    if slug is None:
        return response
    response.vary.add("Origin")
    response.headers.setdefault("Cache-Control", "no-store")
    origin = request.headers.get("Origin")
    account = g.get("webchat_account") or _account_if_reachable(slug)
    if origin and _allowed(account, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def _account_if_reachable(slug: str) -> Account | None:
    """The account, for a response ``screen`` did not get to: none when the database
    failed this request (its session cannot run another statement, and the answer is
    already the database handler's 503); our own origins are still allowed then."""
    try:
        return accounts.by_slug(db.session(), slug)
    except SQLAlchemyError:
        return None


def guard(chat: Blueprint) -> None:
    """What every web chat blueprint does around its views (this one, and the visitor
    identity routes' own): screen the request, answer CORS, sort errors into JSON."""
    chat.before_request(screen)
    chat.after_request(add_cors)
    chat.register_error_handler(WebChatError, _refused)
    chat.register_error_handler(BadRequest, _bad_request)
    chat.register_error_handler(RequestEntityTooLarge, _too_large)
    chat.register_error_handler(RateLimitExceeded, _rate_limited)


guard(blueprint)


def current_account() -> Account:
    """The account of the /chat/<slug>/ request (``screen`` found it)."""
    account: Account = g.webchat_account
    return account


def json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise WebChatError(415, f"send the body as application/json (got {request.mimetype or 'no content type'})")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def require_visitor(token: str | None = None) -> WebVisitor:
    """The visitor the request's token names (``token``, else the bearer token), or 401."""
    token = token or bearer_token()
    visitor = webchat.visitor_for_token(db.session(), secret(), current_account(), token)
    if visitor is None:
        raise WebChatError(401, "the visitor token is missing, expired or not this chat's: start a new session "
                                "(POST /chat/<account>/session)", {"WWW-Authenticate": 'Bearer realm="webchat"'})
    return visitor


def _after(*, resumed: bool = False) -> int:
    """The last message the widget has: ``after``, or for a reconnecting stream the
    browser's Last-Event-ID (newer than the ``after`` its URL was opened with)."""
    header = request.headers.get("Last-Event-ID") if resumed else None
    raw = header or request.args.get("after") or "0"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise BadRequest(f"after must be a message id (a whole number), got {raw[:20]!r}")
    return int(raw)


# -- the API --------------------------------------------------------------------------------

@blueprint.get("/<slug>/config")
def config(slug: str) -> Response:
    look = webchat.appearance(current_account(), current_app.config["SETTINGS"])
    locale = request.accept_languages.best or None
    return jsonify(name=look.name, colour=look.colour, greeting=look.greeting, locale=locale)


@blueprint.post("/<slug>/session")
def start_session(slug: str) -> Response:
    body = load(SESSION_REQUEST, json_body())
    session = db.session()
    account = current_account()
    visitor = webchat.visitor_for_token(session, secret(), account, body["token"])
    if visitor is None:
        visitor = webchat.start_visitor(session, account, body["locale"] or request.accept_languages.best)
    else:
        webchat.seen(visitor)
    customer = session.get(Customer, visitor.customer_id)
    assert customer is not None
    messages = webchat.message_json(session, current_app.config["SETTINGS"],
                                    webchat.latest_messages(session, customer.id))
    # What a code proved, the same rule the notify preference checks (not any phone the
    # customer has: a visitor joined by their email has not proven the SMS number).
    answer = {"token": webchat.issue_token(secret(), account.id, visitor.id), "visitor": visitor.id,
              "messages": messages, "verified": address_verification.verified_summary(session, customer),
              "notify": visitor.notify}
    session.commit()
    return jsonify(answer)


@blueprint.post("/<slug>/messages")
def post_message(slug: str) -> tuple[Response, int]:
    body = json_body()
    visitor = require_visitor()
    message = load(MESSAGE_REQUEST, body)
    client_id = message["client_id"].strip()
    accept(current_account(), vendor="webchat", kind="webchat.message", dedupe_key=f"{visitor.id}:{client_id}",
           payload={"visitor": visitor.id, "client_id": client_id, "text": message["text"].strip(),
                    "locale": request.accept_languages.best, "ip": request.remote_addr})
    return jsonify(client_id=client_id), 202


@blueprint.get("/<slug>/messages")
def list_messages(slug: str) -> Response:
    visitor = require_visitor()
    session = db.session()
    messages = webchat.message_json(session, current_app.config["SETTINGS"],
                                    webchat.messages_after(session, visitor.customer_id, _after()))
    if webchat.seen(visitor):
        session.commit()
    return jsonify(messages=messages)


#: What a visitor whose stream is refused is told, by the limit that refused it.
STREAM_REFUSED = {
    "streams_per_visitor": "You already have {value} live connections to this chat open (the most one visitor may "
                           "have, streams_per_visitor): close another tab of this chat, or wait",
    "streams_per_ip": "{value} live chat connections are already open from your network (the most one address may "
                      "have, streams_per_ip): wait for one to close",
    "streams_per_process": "This server is holding as many live chat connections as it lends them "
                           "({value}, streams_per_process): try again shortly",
}


def client_ip() -> str:
    """The visitor's address (the proxy's client when SWITCHBOARD_TRUSTED_PROXIES trusts it)."""
    return request.remote_addr or "unknown"


def _stream_slot(app: Any, visitor: WebVisitor, seconds: float) -> slots.Slot:
    """A slot for the stream, or the refusal: 429 over a visitor's or an IP's limit,
    503 when this process lends streams no more threads; the wait is one stream's
    length, by when one of those open has ended (the widget polls meanwhile)."""
    try:
        return slots.slots_of(app).acquire(app, visitor=f"{visitor.account_id}:{visitor.id}", ip=client_ip(),
                                           seconds=seconds)
    except slots.StreamRefused as refused:
        status = 503 if refused.limit == "streams_per_process" else 429
        raise WebChatError(status, STREAM_REFUSED[refused.limit].format(value=refused.value)
                           + "; the chat checks for new messages meanwhile.",
                           {"Retry-After": str(round(seconds))}) from None


@blueprint.get("/<slug>/stream")
def open_stream(slug: str) -> Response:
    visitor = require_visitor(request.args.get("token"))
    after = _after(resumed=True)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    seconds = float(app.config.get("WEBCHAT_STREAM_SECONDS", live.STREAM_SECONDS))
    slot = _stream_slot(app, visitor, seconds)
    try:
        events = live.events(app, app.config["SETTINGS"], account_id=visitor.account_id, visitor_id=visitor.id,
                             customer_id=visitor.customer_id, after=after, seconds=seconds,
                             recheck=float(app.config.get("WEBCHAT_RECHECK_SECONDS", live.RECHECK_SECONDS)))
        db.session().close()  # the stream reads with sessions of its own: no connection held while it waits
        response = Response(events, mimetype="text/event-stream",
                            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    except BaseException:
        slot.release()
        raise
    response.call_on_close(slot.release)  # the server closes the response when the stream ends or is cut
    return response

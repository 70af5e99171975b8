"""Rate limits of the public web chat API (Flask-Limiter): per visitor and per IP.

The widget is on the open internet, so every route that writes is limited: messages
per visitor (what one browser may send) and per IP (what one machine may send with
many visitors), new sessions per IP (what one machine may create). Counts live in
Redis when the deployment has it, so every web host shares them; in memory otherwise
(the single-process default).

Each app gets its own Limiter (tests build many apps in one process, and a shared one
would share their counts); the limits are read from the app's config on each request,
so a deployment or a test can change them (``WEBCHAT_LIMITS``).

Flask-Limiter hooks itself into every request of the app (before, after, teardown),
even where no limit is declared: a vendor's webhook paid about 180 Python calls for a
limiter it never meets. Every limit here is declared on a view (``apply``), and such a
limit is checked by the view's own wrapper, not by the before-request hook (that one
only evaluates application, default and blueprint limits, of which there are none); so
the three hooks are moved to the blueprints of the limited views, where they still
inject the X-RateLimit and Retry-After headers and reset the limiter's per-request state.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter

from switchboard.apps.webchat.api import bearer_token, client_ip, secret
from switchboard.apps.webchat.stream_slots import redis_prefix
from switchboard.core.channels import webchat

#: The contract's defaults; ``app.config["WEBCHAT_LIMITS"]`` may override any of them.
DEFAULT_LIMITS = {
    "messages_per_visitor": "10/minute;200/day",
    "messages_per_ip": "60/minute",
    "sessions_per_ip": "30/hour",
    "identify_per_visitor": "5/hour",
}
EXTENSION = "switchboard.webchat.limiter"
#: The endpoints ``apply`` limited, in app.extensions.
LIMITED = "switchboard.webchat.limited"
#: The limiter's request hooks, by the app attribute that holds them, in app.extensions.
HOOKS = "switchboard.webchat.limiter_hooks"
#: The blueprints the hooks run for (those of the limited views), in app.extensions.
HOOKED = "switchboard.webchat.limiter_hooked"
_HOOK_TABLES = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def limit_of(name: str) -> Callable[[], str]:
    def value() -> str:
        return str({**DEFAULT_LIMITS, **current_app.config.get("WEBCHAT_LIMITS", {})}[name])
    return value


def ip_key() -> str:
    return f"ip:{client_ip()}"


def visitor_key() -> str:
    """The visitor the bearer token names (its signature checked, no database read); a
    request without a valid token counts against its IP (and is then refused, 401)."""
    found = webchat.read_token(secret(), bearer_token())
    return f"visitor:{found[0]}:{found[1]}" if found else f"anonymous:{client_ip()}"


def init_app(app: Flask) -> Limiter:
    settings = app.config["SETTINGS"]
    options: dict[str, Any] = {"storage_uri": "memory://"}
    if settings.redis_url:
        options = {"storage_uri": settings.redis_url, "storage_options": {"socket_connect_timeout": 2},
                   "in_memory_fallback_enabled": True}
    limiter = Limiter(ip_key, headers_enabled=True, strategy="moving-window", key_prefix=redis_prefix(app),
                      **options)
    app.extensions[HOOKS] = _unhooked(app, limiter)
    app.extensions[EXTENSION] = limiter
    limited: set[str] = app.extensions.setdefault(LIMITED, set())

    @limiter.request_filter
    def _not_limited() -> bool:
        """Only the limited views' requests have their limits resolved: the other
        routes of the web chat's blueprints (the stream, preflights) leave the limiter
        at its first check. Other blueprints never reach it (``_hook_blueprint``)."""
        return request.endpoint not in limited

    return limiter


def _unhooked(app: Flask, limiter: Limiter) -> dict[str, list[Callable[..., Any]]]:
    """``limiter`` initialised on ``app`` with the app-wide request hooks it registers
    taken off again and returned, by the app attribute that held them (``apply`` puts
    them back for the blueprints of the views it limits). Found as what ``init_app``
    added, so no private name of Flask-Limiter's is relied on."""
    before = {table: list(getattr(app, table).get(None, ())) for table in _HOOK_TABLES}
    limiter.init_app(app)
    hooks: dict[str, list[Callable[..., Any]]] = {}
    for table in _HOOK_TABLES:
        registered = getattr(app, table).get(None, [])
        hooks[table] = [hook for hook in registered if hook not in before[table]]
        registered[:] = before[table]
    if limiter.enabled and not hooks["before_request_funcs"]:
        raise RuntimeError("Flask-Limiter registered no before-request hook: apps/webchat/limits.py expects the "
                           "app-wide hooks of Flask-Limiter 4 (see constraints.txt); check its changelog")
    return hooks


def _hook_blueprint(app: Flask, endpoint: str) -> None:
    """The limiter's request hooks run for the blueprint of ``endpoint`` (once each)."""
    blueprint = endpoint.rpartition(".")[0] or None
    hooked: set[str | None] = app.extensions.setdefault(HOOKED, set())
    if blueprint in hooked:
        return
    hooked.add(blueprint)
    for table, hooks in app.extensions[HOOKS].items():
        getattr(app, table).setdefault(blueprint, []).extend(hooks)


def apply(app: Flask, limiter: Limiter, endpoint: str, *limits: tuple[str, Callable[[], str]],
          exempt_when: Callable[[], bool] | None = None) -> None:
    """Limit the POSTs of ``endpoint`` (a preflight is not counted): each of ``limits``
    is (the name of a limit, the key it counts by); a request ``exempt_when`` says so
    is not counted."""
    view: Any = app.view_functions[endpoint]
    app.extensions.setdefault(LIMITED, set()).add(endpoint)
    _hook_blueprint(app, endpoint)
    for name, key in limits:
        view = limiter.limit(limit_of(name), key_func=key, methods=["POST"], exempt_when=exempt_when)(view)
    app.view_functions[endpoint] = view


def resuming() -> bool:
    """A session call that carries a valid visitor token resumes a chat: it creates
    nothing, so the per-IP limit on new sessions does not count it (a customer reading
    thirty pages in an hour keeps their chat)."""
    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    return isinstance(token, str) and webchat.read_token(secret(), token) is not None

"""Rate limits of the public web chat API (Flask-Limiter): per visitor and per IP.

The widget is on the open internet, so every route that writes is limited: messages
per visitor (what one browser may send) and per IP (what one machine may send with
many visitors), new sessions per IP (what one machine may create). Counts live in
Redis when the deployment has it, so every web host shares them; in memory otherwise
(the single-process default).

Each app gets its own Limiter (tests build many apps in one process, and a shared one
would share their counts); the limits are read from the app's config on each request,
so a deployment or a test can change them (``WEBCHAT_LIMITS``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter

from switchboard.core import webchat

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


def limit_of(name: str) -> Callable[[], str]:
    def value() -> str:
        return str({**DEFAULT_LIMITS, **current_app.config.get("WEBCHAT_LIMITS", {})}[name])
    return value


def client_ip() -> str:
    return request.remote_addr or "unknown"


def ip_key() -> str:
    return f"ip:{client_ip()}"


def visitor_key() -> str:
    """The visitor the bearer token names (its signature checked, no database read); a
    request without a valid token counts against its IP (and is then refused, 401)."""
    from .api import bearer_token, secret

    found = webchat.read_token(secret(), bearer_token())
    return f"visitor:{found[0]}:{found[1]}" if found else f"anonymous:{client_ip()}"


def init_app(app: Flask) -> Limiter:
    settings = app.config["SETTINGS"]
    options: dict[str, Any] = {"storage_uri": "memory://"}
    if settings.redis_url:
        options = {"storage_uri": settings.redis_url, "storage_options": {"socket_connect_timeout": 2},
                   "in_memory_fallback_enabled": True}
    limiter = Limiter(ip_key, app=app, headers_enabled=True, strategy="moving-window",
                      key_prefix=app.config.get("WEBCHAT_LIMIT_PREFIX", "switchboard.webchat"), **options)
    app.extensions[EXTENSION] = limiter
    limited: set[str] = app.extensions.setdefault(LIMITED, set())

    @limiter.request_filter
    def _not_limited() -> bool:
        """Only the web chat's routes are limited: every other request (a vendor's
        webhook above all) leaves the limiter at its first check instead of having its
        limits resolved."""
        return request.endpoint not in limited

    return limiter


def apply(app: Flask, limiter: Limiter, endpoint: str, *limits: tuple[str, Callable[[], str]],
          exempt_when: Callable[[], bool] | None = None) -> None:
    """Limit the POSTs of ``endpoint`` (a preflight is not counted): each of ``limits``
    is (the name of a limit, the key it counts by); a request ``exempt_when`` says so
    is not counted."""
    view: Any = app.view_functions[endpoint]
    app.extensions.setdefault(LIMITED, set()).add(endpoint)
    for name, key in limits:
        view = limiter.limit(limit_of(name), key_func=key, methods=["POST"], exempt_when=exempt_when)(view)
    app.view_functions[endpoint] = view


def resuming() -> bool:
    """A session call that carries a valid visitor token resumes a chat: it creates
    nothing, so the per-IP limit on new sessions does not count it (a customer reading
    thirty pages in an hour keeps their chat)."""
    from .api import secret

    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    return isinstance(token, str) and webchat.read_token(secret(), token) is not None

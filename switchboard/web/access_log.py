"""Access logs without secrets. The web chat's live stream carries its visitor token in
the query string (a browser's EventSource cannot send headers), Slack's OAuth callback
its one-time code: a log line with the URL as requested would hand them to whoever reads
the logs. Both servers we run log the URL through here: `switchboard serve` (werkzeug's
request handler) and gunicorn (``logger_class`` in switchboard/gunicorn_conf.py)."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from werkzeug.serving import WSGIRequestHandler

#: Query parameters whose values are credentials somewhere in the app.
SECRET_PARAMETERS = frozenset({"token", "code", "key", "state", "access_token"})
REDACTED = "[redacted]"


def redact_target(target: str) -> str:
    """``/chat/acme/stream?token=abc&after=4`` → ``/chat/acme/stream?token=[redacted]&after=4``."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    return f"{path}?{redact_query(query)}"


def redact_query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        name, equals, _value = piece.partition("=")
        pieces.append(f"{name}={REDACTED}" if equals and unquote_plus(name).lower() in SECRET_PARAMETERS else piece)
    return "&".join(pieces)


def redact_request_line(line: str) -> str:
    """``GET /x?token=abc HTTP/1.1`` with its target redacted."""
    method, space, rest = line.partition(" ")
    target, space2, version = rest.rpartition(" ") if rest.count(" ") else (rest, "", "")
    return f"{method}{space}{redact_target(target)}{space2}{version}"


def werkzeug_request_handler() -> type[Any]:
    """werkzeug's development server handler, logging redacted URLs (`switchboard serve`).
    Built on demand: werkzeug.serving is not imported by the web processes otherwise."""
    class RedactingRequestHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # The app has read the path already (the environ is built before this).
            path, line = getattr(self, "path", None), getattr(self, "requestline", "")
            if path is not None:
                self.path = redact_target(path)
            self.requestline = redact_request_line(line)
            try:
                super().log_request(code, size)
            finally:
                if path is not None:
                    self.path = path
                self.requestline = line

    return RedactingRequestHandler

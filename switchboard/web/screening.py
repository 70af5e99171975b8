"""What every request's parameters are held to before any view reads them, in one place
for every route (vendors', the widget's, the API's, the pages'), so no route can end as
a 500 on input a probe makes up:

- a JSON body is parsed by ``loads_json`` (intake/payloads.py), installed as the app's
  JSON provider: ``request.get_json`` anywhere refuses a text nested beyond reason (the
  parser's RecursionError) or holding U+0000, with a 400 that says which. The Zendesk
  and Slack views parse their raw bodies with it too, for the depth only: a vendor's
  signed delivery with a NUL is stored scrubbed (intake/inbox.py), not refused;
- a query parameter or a URL segment holding U+0000 is refused by name (PostgreSQL's
  text cannot hold it; the driver would fail as a 500).

The screen is lazy for bodies: a JSON body is parsed when the route asks for it, after
its blueprint's own limits (the web chat's 8 KB cap) have been applied.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider

from switchboard.intake.payloads import loads_json


class ScreenedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing through ``loads_json``. Its UnsafeJson is not a ValueError,
    so ``get_json(silent=True)`` does not turn it into "no body": the error handler for
    MalformedPayload answers 400 with its message."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_json(s)


def refuse_nul_bytes() -> tuple[Response, int] | None:
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return jsonify(error=f"query parameter {name.replace(chr(0), '')!r} contains a NUL byte; remove it"), 400
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            return jsonify(error=f"the URL's {name} contains a NUL byte; remove it"), 400
    return None


def init_app(app: Flask) -> None:
    app.json = ScreenedJSONProvider(app)
    # First of the app's hooks, so no other hook (the rate limiter's keys, the API's
    # account lookup) reads a parameter before it is screened.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_bytes)

"""What someone who opens the service's address in a browser needs: where to go next."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from markupsafe import escape

blueprint = Blueprint("home", __name__)

LINKS = (
    ("/playground", "Playground", "play the customer by SMS or WhatsApp (this machine only, while Twilio is "
                                  "sandboxed); `switchboard chat` does the same in a terminal"),
    ("/dashboard", "Dashboard", "outcomes for supervisors (sign in with an API key, e.g. the one in "
                                ".switchboard-api-key)"),
    ("/api/openapi.json", "API", "the OpenAPI description of /api/"),
    ("/readyz", "Readiness", "database and Redis checks"),
)


@blueprint.get("/")
def index() -> ResponseReturnValue:
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify(service="switchboard", links={name.lower(): path for path, name, _ in LINKS})
    items = "".join(f'<li><a href="{path}">{escape(name)}</a>: {escape(what)}</li>' for path, name, what in LINKS)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Switchboard</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>"
            f"<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5\">"
            f"<h1>Switchboard</h1><p>This service is running.</p><ul>{items}</ul></body></html>")


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

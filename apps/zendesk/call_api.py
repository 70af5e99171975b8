"""/api/sidebar/tickets/<id>/call: the live call card of a ticket whose caller is on the
line with an agent (core/calls/card.py), for the sidebar to poll while the call lasts.

Polled about once a second, so it reads only the card: the ticket's full context
(``sidebar_api.ticket``, which also counts the package as opened) is read once."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, jsonify
from flask.typing import ResponseReturnValue

from switchboard.apps.zendesk.sidebar_api import require_agent, ticket_conversation
from switchboard.core.calls.card import live_card
from switchboard.intake import db

blueprint = Blueprint("sidebar_calls", __name__, url_prefix="/api/sidebar")


@blueprint.get("/tickets/<int:ticket_id>/call")
@require_agent
def call_card(ticket_id: int) -> ResponseReturnValue:
    conversation = ticket_conversation(ticket_id)
    card = live_card(db.session(), current_app.config["SETTINGS"], conversation)
    if card is None:
        abort(404, f"ticket {ticket_id} has no transcribed call")
    return jsonify(card)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

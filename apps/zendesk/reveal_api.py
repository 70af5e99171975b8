"""/api/sidebar/tickets/<id>/vault: the agent's one-click reveal of a redacted value.

The sidebar lists the tokens of the ticket's conversation ([PHONE_1], [CARD_1]) with
whether this agent may reveal each; a click reveals one. Who may is the account's
``vault_reveal`` setting, per kind of data, for agents the app identifies (ZAF's
currentUser, or a Zendesk signed token's ``sub``). A rule naming agents ("card:381")
is met only by the signed token's ``sub``: the app's X-Zendesk-User-Id header is the
agent's own browser speaking. Every reveal, shown or refused, is in the audit trail;
the value never is.
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, g, jsonify
from flask.typing import ResponseReturnValue

from switchboard.apps.zendesk.sidebar_api import current_agent, require_agent, ticket_conversation
from switchboard.core.pii import vault
from switchboard.core.store.models import Account
from switchboard.intake import db

blueprint = Blueprint("vault", __name__, url_prefix="/api/sidebar")


@blueprint.get("/tickets/<int:ticket_id>/vault")
@require_agent
def tokens(ticket_id: int) -> ResponseReturnValue:
    """The ticket's tokens, and which of them this agent may reveal (no values)."""
    account: Account = g.account
    rules = vault.reveal_rules(account, current_app.config["SETTINGS"])
    agent = current_agent()
    entries = vault.entries_of(db.session(), account.id, ticket_conversation(ticket_id).id)
    return jsonify(tokens=[{"token": e.token, "kind": e.kind,
                            "revealable": vault.may_reveal(rules, e.kind, agent.user_id, verified=agent.verified)}
                           for e in entries])


@blueprint.post("/tickets/<int:ticket_id>/vault/<token>/reveal")
@require_agent
def reveal(ticket_id: int, token: str) -> ResponseReturnValue:
    """One value, for an agent allowed its kind; 403 naming the setting otherwise."""
    token = token if token.startswith("[") else f"[{token}]"
    if not vault.TOKEN.fullmatch(token):
        abort(404, f"{token!r} is not a vault token; tokens look like PHONE_1 or [PHONE_1]")
    session, agent = db.session(), current_agent()
    conversation = ticket_conversation(ticket_id)
    settings = current_app.config["SETTINGS"]
    try:
        value = vault.reveal(session, vault.vault_for(settings), g.account, settings, conversation_id=conversation.id,
                             token=token, agent_id=agent.user_id, agent_verified=agent.verified, actor=agent.actor,
                             agent_detail=agent.audit_detail())
    except vault.UnknownToken as exc:
        abort(404, str(exc))
    except vault.RevealRefused as exc:
        session.commit()  # the refusal is audited too
        return jsonify(error=str(exc)), 403
    session.commit()
    return jsonify(token=token, value=value)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

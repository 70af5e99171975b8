"""/api/sidebar/…/governed-actions: the agent's side of governed actions.

The sidebar lists what can be done on the ticket (with a suggested next-best action
prefilled from the customer's last message), and runs an action when the agent
clicks. Every run carries the app's ``Idempotency-Key`` (one per button rendering),
so a double click or a retried request runs the action once. Actions needing
confirmation answer 202 with a preview first; the confirm button calls /confirm.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from switchboard.apps.zendesk.sidebar_api import current_agent, require_agent
from switchboard.core.actions import ActionRequest, Governor, Outcome, Principal
from switchboard.core.actions.checks import check_configuration
from switchboard.core.actions.customer_requests import match_intent
from switchboard.core.actions.registry import REGISTRY
from switchboard.core.actions.schemas import json_schema
from switchboard.core.actions.wording import UNAVAILABLE
from switchboard.core.errors import MalformedPayload
from switchboard.core.helpdesk.handoff import conversation_for_ticket
from switchboard.core.store.models import ActionExecution, Message
from switchboard.intake import db
from switchboard.vendors.outbound import VendorRateLimited, VendorUnavailable

blueprint = Blueprint("governed_actions", __name__, url_prefix="/api/sidebar")
STATUS_CODES = {"succeeded": 200, "refused": 422, "failed": 502}


def _governor() -> Governor:
    return Governor(db.session(), g.account, current_app.config["SETTINGS"])


def execution_json(execution: ActionExecution, governor: Governor, message: str | None = None) -> dict[str, Any]:
    return {"id": execution.id, "action": execution.action, "status": execution.status, "role": execution.role,
            "actor": execution.actor, "params": execution.params, "reasons": execution.reasons,
            "result": execution.result, "preview": governor.preview(execution),
            "message": message or governor.describe(execution), "created_at": execution.created_at.isoformat(),
            "decided_by": execution.decided_by, "error": execution.error,
            "expires_at": execution.expires_at.isoformat() if execution.expires_at else None}


@blueprint.get("/tickets/<int:ticket_id>/governed-actions")
@require_agent
def list_actions(ticket_id: int) -> ResponseReturnValue:
    session, governor = db.session(), _governor()
    conversation = conversation_for_ticket(session, g.account.id, ticket_id)
    available = [{"name": name, "description": spec.description, "risk": spec.risk,
                  "needs_confirmation": rule.agent_confirmation, "parameters": json_schema(spec.schema)}
                 for name, spec in REGISTRY.items()
                 if (rule := governor.policy.rule(name)) is not None and "agent" in rule.allowed]
    suggested = []
    if conversation is not None:
        last = session.scalar(select(Message).where(Message.conversation_id == conversation.id,
                                                    Message.author == "customer").order_by(Message.id.desc()).limit(1))
        intent = match_intent(last.body) if last is not None else None
        if intent is not None and any(a["name"] == intent.action for a in available):
            suggested.append({"name": intent.action, "params": intent.params})
    conditions = [ActionExecution.zendesk_ticket_id == ticket_id]
    if conversation is not None:
        conditions.append(ActionExecution.conversation_id == conversation.id)

    executions = session.scalars(select(ActionExecution).where(
        ActionExecution.account_id == g.account.id, or_(*conditions)).order_by(ActionExecution.id)).all()
    return jsonify(available=available, suggested=suggested,
                   executions=[execution_json(e, governor) for e in executions])


@blueprint.post("/tickets/<int:ticket_id>/governed-actions/<name>")
@require_agent
def run_action(ticket_id: int, name: str) -> ResponseReturnValue:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key or len(key) > 120:
        raise MalformedPayload("send an Idempotency-Key header (one per click of the button, at most 120 "
                               "characters) so a double click runs the action once")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("params", {}), dict):
        raise MalformedPayload('send JSON like {"params": {"order_id": "A1001"}, "confirm": false}')
    if name not in REGISTRY:
        abort(404, f"no action named {name!r}; use one of {', '.join(sorted(REGISTRY))}")
    session, governor = db.session(), _governor()
    conversation = conversation_for_ticket(session, g.account.id, ticket_id)
    try:
        outcome = governor.request(ActionRequest(
            name, body.get("params") or {}, Principal("agent", current_agent().principal), f"sidebar:{key}",
            customer_id=conversation.customer_id if conversation else None,
            conversation_id=conversation.id if conversation else None, ticket_id=ticket_id,
            confirmed=bool(body.get("confirm"))))
    except VendorUnavailable as exc:
        return _unavailable(governor, governor.by_key(f"sidebar:{key}"), exc)
    return _answer(governor, outcome)


@blueprint.post("/governed-actions/<int:execution_id>/confirm")
@require_agent
def confirm(execution_id: int) -> ResponseReturnValue:
    session, governor = db.session(), _governor()
    execution = session.get(ActionExecution, execution_id)
    if execution is None or execution.account_id != g.account.id:
        abort(404, f"no action #{execution_id} on this account")
    try:
        outcome = governor.confirm(execution, Principal("agent", current_agent().principal))
    except VendorUnavailable as exc:
        return _unavailable(governor, execution, exc)
    return _answer(governor, outcome)


def _answer(governor: Governor, outcome: Outcome) -> ResponseReturnValue:
    db.session().commit()
    return jsonify({**execution_json(outcome.execution, governor, outcome.message),
                    "repeated": outcome.repeated}), STATUS_CODES.get(outcome.status, 202)


def _unavailable(governor: Governor, execution: ActionExecution | None, exc: VendorUnavailable) -> ResponseReturnValue:
    """The company's system (or a vendor) is down: the engine has put the execution
    back, so the same button (same Idempotency-Key) or /confirm runs it once later.
    503 with Retry-After, never a 500."""
    session = db.session()
    session.rollback()
    retry_after = int(exc.retry_after) if isinstance(exc, VendorRateLimited) else 30
    if execution is not None:
        session.refresh(execution)
    message = governor.texts(execution)(UNAVAILABLE)  # the language of whoever asked (an agent: English)
    body: dict[str, Any] = {"error": str(exc), "message": message, "retry": True, "retry_after": retry_after,
                            "repeated": False}
    if execution is not None:
        body = {**execution_json(execution, governor, message), **body}
    response = jsonify(body)
    response.headers["Retry-After"] = str(retry_after)
    return response, 503


def init_app(app: Flask) -> None:
    # Importing registers the Slack Approve/Reject handler (prefix "action:").
    from switchboard.apps.slack import action_approvals  # noqa: F401

    # A bad actions.yaml or action_policy.yaml stops create_app here (ActionConfigError
    # naming file, line and field) instead of failing every customer message later.
    check_configuration(app.config["SETTINGS"])
    app.register_blueprint(blueprint)

"""/api/customers: data-subject requests over the account-key API.

``POST /api/customers/erase`` removes a customer's personal data everywhere it is
stored (the CLI's `switchboard customers erase`); ``GET /api/customers/export`` gives
it as JSON (data-subject access). The identity is a phone with its country code, an
email, or ``customer:<id>``.
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard.core.customer_data import subject_requests as privacy
from switchboard.core.errors import MalformedPayload
from switchboard.core.pii.vault import vault_for
from switchboard.core.store.models import Customer
from switchboard.intake import db
from switchboard.web.api import require_account

blueprint = Blueprint("privacy", __name__, url_prefix="/api/customers")


def _customer(identity: object) -> Customer:
    if not isinstance(identity, str) or not identity.strip():
        raise MalformedPayload('name the customer: {"identity": "+14155550100"} (a phone with its country code, an '
                               'email, or customer:<id>)')
    number = identity.strip().removeprefix("customer:")
    if identity.strip().startswith("customer:") and number.isdigit() and int(number) > db.MAX_ID:
        raise MalformedPayload(f"customer id {number[:30]} is out of range: customer ids run from 1 to {db.MAX_ID}")
    try:
        return privacy.find_customer(db.session(), g.account.id, identity)
    except privacy.UnknownCustomer as exc:
        abort(404, str(exc))


@blueprint.post("/erase")
@require_account
def erase() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    customer = _customer(body.get("identity") if isinstance(body, dict) else None)
    session = db.session()
    erased = privacy.erase(session, g.account, customer, vault_for(current_app.config["SETTINGS"]), actor="api")
    session.commit()
    return jsonify(customer_id=customer.id, rows=erased.rows)


@blueprint.get("/export")
@require_account
def export() -> ResponseReturnValue:
    customer = _customer(request.args.get("identity"))
    session = db.session()
    data = privacy.export(session, g.account, customer, vault_for(current_app.config["SETTINGS"]), actor="api")
    session.commit()
    return jsonify(data)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)

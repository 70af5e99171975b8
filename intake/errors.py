"""How webhook failures are answered: one place sorts errors into status codes, so no
view can turn a bad signature into a 500 or a malformed body into a silent drop."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from switchboard.core.errors import BadSignature, MalformedPayload, NotConfigured, UnknownAccount

log = logging.getLogger("switchboard.vendors.webhooks")


def _answer(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(BadSignature)
    def bad_signature(exc: BadSignature) -> tuple[Response, int]:
        log.warning("refused %s: %s", request.path, exc)
        return _answer(403, str(exc))

    @app.errorhandler(NotConfigured)
    def not_configured(exc: NotConfigured) -> tuple[Response, int]:
        log.error("refused %s: %s", request.path, exc)
        return _answer(403, str(exc))

    @app.errorhandler(UnknownAccount)
    def unknown_account(exc: UnknownAccount) -> tuple[Response, int]:
        log.warning("refused %s: %s", request.path, exc)
        return _answer(403, str(exc))

    @app.errorhandler(MalformedPayload)
    def malformed(exc: MalformedPayload) -> tuple[Response, int]:
        log.warning("malformed payload on %s: %s", request.path, exc)
        return _answer(400, str(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return _answer(413, f"request body is larger than the {limit}-byte limit")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(exc: OperationalError | InterfaceError) -> tuple[Response, int]:
        # Nothing was recorded: a 5xx makes the vendor deliver again later, and the
        # pool's pre-ping reconnects by itself once the database is back.
        log.error("database error on %s: %s", request.path, type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        return _answer(503, "the database is unavailable; nothing was recorded, retry later")

    @app.errorhandler(DataError)
    def refused_by_database(exc: DataError) -> tuple[Response, int]:
        # The database refused a value the request carried (a number beyond its column,
        # text it cannot encode): the caller's to fix, so a 400 naming the problem. The
        # screens in front of the views catch the ones we know; this catches the rest.
        problem = str(exc.orig).splitlines()[0] if exc.orig else "a value it cannot store"
        log.warning("database refused a value on %s: %s", request.path, problem)
        return _answer(400, f"the database refused a value in this request ({problem}); check the ids, numbers "
                            "and text you sent")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return _answer(exc.code or 500, exc.description or exc.name)

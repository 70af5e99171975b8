"""A loopback stand-in for a company's order/billing/appointment system, served over
real HTTP on 127.0.0.1 so the configured HTTP actions are exercised end to end.

Like real payment APIs (Stripe's ``Idempotency-Key``) it applies a POST once per key:
a repeat with the same key is answered with the first result and changes nothing, a
repeat with the same key and a different request is refused. Only a success is
remembered, so a call that failed (a 503 on purpose) runs when it is retried.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

from ..fakes.loopback import Answer, LoopbackFake, Request

TOKEN = "shop-test-token"
Result = tuple[int, dict[str, Any]]


class OrderServer(LoopbackFake):
    def __init__(self, orders: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.orders = orders
        self.received: list[dict[str, Any]] = []
        #: Refunds the system actually issued (a replayed POST adds none).
        self.refunds: list[dict[str, Any]] = []
        self.held, self.release = threading.Event(), threading.Event()
        self._hold: str | None = None
        self._first: dict[str, tuple[str, Result]] = {}  # Idempotency-Key → (request, first result)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = self.origin

    def answer(self, request: Request) -> Answer:
        body = json.loads(request.body) if request.body else None
        entry = {"method": request.method, "path": request.path, "body": body, "headers": request.headers}
        self.received.append(entry)
        status, answer, entry["replayed"] = self.respond(
            request.method, request.path, body, request.headers.get("Authorization"),
            request.headers.get("Idempotency-Key"))
        self.wait_if_held(request.method, request.path)
        return Answer(status, answer, {"Idempotent-Replayed": "true"} if entry["replayed"] else {})

    def hold(self, path: str) -> None:
        """The next POST to ``path`` takes effect, sets ``held`` and waits for
        ``release`` before answering: the moment a test kills the caller."""
        self._hold = path

    def wait_if_held(self, method: str, path: str) -> None:
        if method == "POST" and path == self._hold:
            self._hold = None  # the first one only: a retry is answered at once
            self.held.set()
            self.release.wait(60)

    def respond(self, method: str, path: str, body: Any, auth: str | None,
                key: str | None) -> tuple[int, dict[str, Any], bool]:
        """``answer``, once per Idempotency-Key for a POST; True when replayed."""
        with self._lock:
            if method != "POST" or not key:
                return *self.route(method, path, body, auth), False
            request = json.dumps([path, body], sort_keys=True)
            if key in self._first:
                first_request, (status, answer) = self._first[key]
                if first_request != request:
                    return 422, {"error": "idempotency_key_reused",
                                 "description": f"Idempotency-Key {key} was used for a different request"}, False
                return status, answer, True
            status, answer = self.route(method, path, body, auth)
            if status < 300:
                self._first[key] = (request, (status, answer))
            return status, answer, False

    def route(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, Any]]:
        if auth != f"Bearer {TOKEN}":
            return 401, {"error": "unauthorised"}
        if method == "GET" and (m := re.fullmatch(r"/orders/([\w-]+)", path)):
            order = self.orders.get(m.group(1))
            return (200, order) if order else (404, {"error": "no such order"})
        if method == "POST" and (m := re.fullmatch(r"/orders/([\w-]+)/refunds", path)):
            return 201, self._refund(m.group(1), body or {})
        if method == "PUT" and re.fullmatch(r"/customers/[\w-]+/address", path):
            return 200, {"status": "updated"}
        if method == "PUT" and re.fullmatch(r"/customers/[\w-]+/phone", path):
            # Echoes the number, as many systems do (in a refusal too): the connector must not store the echo.
            phone = (body or {}).get("phone")
            if str(phone).endswith("0000"):
                return 422, {"error": f"{phone} cannot receive calls"}
            return 200, {"status": "updated", "phone": phone}
        if method == "POST" and (m := re.fullmatch(r"/appointments/([\w-]+)/reschedule", path)):
            return 200, {"id": m.group(1), "date": body["date"], "slot": body["slot"], "status": "rescheduled"}
        return 404, {"error": f"no route {method} {path}"}

    def _refund(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        refund = {"id": f"re_{order_id}_{next(self._ids)}", "order_id": order_id, "amount": body.get("amount"),
                  "currency": body.get("currency"), "status": "pending"}
        self.refunds.append(refund)
        return dict(refund)

    def calls(self, method: str, prefix: str = "") -> list[dict[str, Any]]:
        return [r for r in self.received if r["method"] == method and r["path"].startswith(prefix)]

    def closing(self) -> None:
        self.release.set()  # a held request answers, so the server can stop

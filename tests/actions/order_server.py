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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "shop-test-token"
Result = tuple[int, dict[str, Any]]


class OrderServer:
    def __init__(self, orders: dict[str, dict[str, Any]]) -> None:
        self.orders = orders
        self.received: list[dict[str, Any]] = []
        #: Refunds the system actually issued (a replayed POST adds none).
        self.refunds: list[dict[str, Any]] = []
        self.held, self.release = threading.Event(), threading.Event()
        self._hold: str | None = None
        self._first: dict[str, tuple[str, Result]] = {}  # Idempotency-Key → (request, first result)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                entry = {"method": self.command, "path": self.path, "body": body,
                         "headers": dict(self.headers.items())}
                server.received.append(entry)
                status, answer, entry["replayed"] = server.respond(
                    self.command, self.path, body, self.headers.get("Authorization"),
                    self.headers.get("Idempotency-Key"))
                server.wait_if_held(self.command, self.path)
                raw = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    if entry["replayed"]:
                        self.send_header("Idempotent-Replayed", "true")
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the caller died waiting (a worker killed mid-call): the effect stays

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

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
                return *self.answer(method, path, body, auth), False
            request = json.dumps([path, body], sort_keys=True)
            if key in self._first:
                first_request, (status, answer) = self._first[key]
                if first_request != request:
                    return 422, {"error": "idempotency_key_reused",
                                 "description": f"Idempotency-Key {key} was used for a different request"}, False
                return status, answer, True
            status, answer = self.answer(method, path, body, auth)
            if status < 300:
                self._first[key] = (request, (status, answer))
            return status, answer, False

    def answer(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, Any]]:
        if auth != f"Bearer {TOKEN}":
            return 401, {"error": "unauthorised"}
        if method == "GET" and (m := re.fullmatch(r"/orders/([\w-]+)", path)):
            order = self.orders.get(m.group(1))
            return (200, order) if order else (404, {"error": "no such order"})
        if method == "POST" and (m := re.fullmatch(r"/orders/([\w-]+)/refunds", path)):
            return 201, self._refund(m.group(1), body or {})
        if method == "PUT" and re.fullmatch(r"/customers/[\w-]+/address", path):
            return 200, {"status": "updated"}
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

    def __enter__(self) -> OrderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

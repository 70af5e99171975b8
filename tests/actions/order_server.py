"""A loopback stand-in for a company's order/billing/appointment system, served over
real HTTP on 127.0.0.1 so the configured HTTP actions are exercised end to end."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "shop-test-token"


class OrderServer:
    def __init__(self, orders: dict[str, dict[str, Any]]) -> None:
        self.orders = orders
        self.received: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                server.received.append({"method": self.command, "path": self.path, "body": body,
                                        "headers": dict(self.headers.items())})
                status, answer = server.answer(self.command, self.path, body, self.headers.get("Authorization"))
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def answer(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, Any]]:
        if auth != f"Bearer {TOKEN}":
            return 401, {"error": "unauthorised"}
        if method == "GET" and (m := re.fullmatch(r"/orders/([\w-]+)", path)):
            order = self.orders.get(m.group(1))
            return (200, order) if order else (404, {"error": "no such order"})
        if method == "POST" and (m := re.fullmatch(r"/orders/([\w-]+)/refunds", path)):
            return 201, {"id": f"re_{m.group(1)}", "status": "pending"}
        if method == "PUT" and re.fullmatch(r"/customers/[\w-]+/address", path):
            return 200, {"status": "updated"}
        if method == "POST" and (m := re.fullmatch(r"/appointments/([\w-]+)/reschedule", path)):
            return 200, {"id": m.group(1), "date": body["date"], "slot": body["slot"], "status": "rescheduled"}
        return 404, {"error": f"no route {method} {path}"}

    def calls(self, method: str, prefix: str = "") -> list[dict[str, Any]]:
        return [r for r in self.received if r["method"] == method and r["path"].startswith(prefix)]

    def __enter__(self) -> OrderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

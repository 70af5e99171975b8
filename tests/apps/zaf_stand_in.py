"""Loopback servers for the sidebar's browser test: a stand-in Zendesk and a fake backend.

Why three servers: Zendesk serves an app from an origin of its own (not the agent
workspace's) and calls third-party backends from its proxy, server-side. Keeping the
parent page, the app's assets and the backend on three origins (three ports on
127.0.0.1) makes the test fail if the app ever relied on same-origin access or CORS.

- `ZendeskStandIn` — the parent origin serves tests/apps/parent_frame.html and
  ``POST /__zendesk_proxy`` (Zendesk's request proxy: fills ``{{setting.NAME}}`` with
  secure settings when the request says ``secure: true``, then calls the backend); the
  apps origin serves apps/zendesk/assets/ as /assets/.
- `FakeBackend` — answers the sidebar API contract from canned JSON and records every
  request. Tests can stop it (connection refused) and start it again on the same port.
  Governed actions follow the contract of switchboard/actions_api.py: one execution
  per Idempotency-Key, 200 succeeded / 202 awaiting confirmation or approval / 422
  refused, and /confirm; the outcome of a run is scripted per action below.
"""
from __future__ import annotations

import json
import mimetypes
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
APP_ASSETS = REPO / "apps" / "zendesk" / "assets"
PARENT_PAGE = HERE / "parent_frame.html"
CANNED_TICKET = HERE / "fixtures" / "sidebar_ticket.json"
CANNED_ACTIONS = HERE / "fixtures" / "governed_actions.json"
#: The order number the fake's order system does not know (a refusal, as the backend's
#: policy engine answers for a missing or someone else's order).
UNKNOWN_ORDER = "B2002"
#: switchboard/core/actions/engine.py's UNAVAILABLE, as the sidebar API sends it.
UNAVAILABLE = ("The company's system isn't answering right now, so nothing was changed yet. The request is kept: "
               "retry it (the same button, or the same request) in a minute and it will run once.")
PLACEHOLDER = re.compile(r"\{\{setting\.(\w+)\}\}")


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; port 0 picks a free port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output quiet; the servers record what matters

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())


# ---- the fake Switchboard backend ---------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any
    idempotency_key: str | None = None


@dataclass
class FakeBackendState:
    token: str
    ticket: dict[str, Any]
    fail_status: int | None = None  # when set, every request is answered with it
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    governed: dict[str, Any] = field(default_factory=lambda: json.loads(CANNED_ACTIONS.read_text()))
    #: What a confirmed execution becomes: "succeeded", or "awaiting_approval" (Slack).
    confirm_status: str = "succeeded"
    #: Runs answered 503 before the real answer: "gateway" without an execution (the
    #: proxy lost the answer), "unavailable" as Switchboard answers when the company's
    #: system is down (the execution kept under its key, ``retry: true``).
    fail_runs: int = 0
    fail_as: str = "gateway"
    #: Seconds a run takes, so a second click arrives while the first is in flight.
    run_delay: float = 0.0
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def posts(self, suffix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]


class _BackendHandler(_Handler):
    state: FakeBackendState  # set on the per-backend subclass

    def _record(self, body: Any) -> None:
        with self.state.lock:
            self.state.requests.append(Recorded(self.command, self.path, self.headers.get("Authorization"),
                                                body, self.headers.get("Idempotency-Key")))

    def _authorized(self) -> bool:
        if self.state.fail_status is not None:
            self._json(self.state.fail_status, {"error": "the fake backend was told to fail"})
            return False
        if self.headers.get("Authorization") == f"Bearer {self.state.token}":
            return True
        self._json(401, {"error": "send an account API key as 'Authorization: Bearer sb_…'"})
        return False

    def do_GET(self) -> None:
        self._record(None)
        match = re.fullmatch(r"/api/sidebar/tickets/(\d+)(/governed-actions)?", urlsplit(self.path).path)
        if not match:
            return self._json(404, {"error": f"no route {self.path}"})
        if not self._authorized():
            return None
        if int(match.group(1)) != self.state.ticket["ticket_id"]:
            return self._json(404, {"error": f"ticket {match.group(1)} is unknown to Switchboard"})
        if match.group(2):
            with self.state.lock:
                return self._json(200, json.loads(json.dumps(self.state.governed)))
        return self._json(200, self.state.ticket)

    def do_POST(self) -> None:
        raw = self._body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(body)
        path = urlsplit(self.path).path
        if run := re.fullmatch(r"/api/sidebar/tickets/(\d+)/governed-actions/(\w+)", path):
            return self._run_action(int(run.group(1)), run.group(2), body) if self._authorized() else None
        if confirm := re.fullmatch(r"/api/sidebar/governed-actions/(\d+)/confirm", path):
            return self._confirm(int(confirm.group(1))) if self._authorized() else None
        match = re.fullmatch(r"/api/sidebar/suggestions/(\d+)/(feedback|inserted)", path)
        if not match:
            return self._json(404, {"error": f"no route {self.path}"})
        if not self._authorized():
            return None
        known = {s["id"] for s in self.state.ticket["suggestions"]}
        if int(match.group(1)) not in known:
            return self._json(404, {"error": f"no suggestion {match.group(1)}"})
        if match.group(2) == "feedback" and not _is_feedback(body):
            return self._json(400, {"error": "body must be {rating: up|down, reason: str|null}"})
        return self._send(204)


    # -- governed actions ---------------------------------------------------------------

    def _run_action(self, ticket_id: int, name: str, body: Any) -> None:
        state = self.state
        if ticket_id != state.ticket["ticket_id"]:
            return self._json(404, {"error": f"ticket {ticket_id} is unknown to Switchboard"})
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key or not isinstance(body, dict) or not isinstance(body.get("params", {}), dict):
            return self._json(400, {"error": "send an Idempotency-Key header and JSON like {\"params\": {...}}"})
        if name not in {a["name"] for a in state.governed["available"]}:
            return self._json(404, {"error": f"no action named {name!r}"})
        time.sleep(state.run_delay)
        with state.lock:
            if state.fail_runs > 0:
                state.fail_runs -= 1
                if state.fail_as == "gateway":
                    return self._json(503, {"error": "the fake backend was told to fail this run"})
                kept = {**_scripted(name, body.get("params") or {}, 999), "status": "requested"}
                return self._json(503, {**kept, "error": "VendorUnavailable: shop timed out", "retry": True,
                                        "retry_after": 30, "message": UNAVAILABLE})
            if key in state.by_key:
                execution = {**state.by_key[key], "repeated": True}
            else:
                execution = _scripted(name, body.get("params") or {}, len(state.governed["executions"]) + 1000)
                state.by_key[key] = execution
                state.governed["executions"].append(execution)
        return self._json(_STATUS_CODES.get(execution["status"], 202), execution)

    def _confirm(self, execution_id: int) -> None:
        state = self.state
        with state.lock:
            execution = next((e for e in state.governed["executions"] if e["id"] == execution_id), None)
            if execution is None:
                return self._json(404, {"error": f"no action #{execution_id} on this account"})
            if execution["status"] == "awaiting_confirmation":
                status = state.confirm_status
                execution.update(status=status, message=_MESSAGES[status].format(preview=execution["preview"]))
            answer = dict(execution)
        return self._json(_STATUS_CODES.get(answer["status"], 202), answer)


_STATUS_CODES = {"succeeded": 200, "refused": 422, "failed": 502}
_PREVIEWS = {"order_status": "look up order {order_id}", "refund": "refund $42.50 for order {order_id}",
             "update_address": "change the address", "reschedule": "move the visit",
             "add_note": "add an internal note to the ticket"}
_MESSAGES = {"succeeded": "Done: {preview}.", "awaiting_confirmation": "Confirm to {preview}.",
             "awaiting_approval": "I've asked a supervisor to approve this ({preview}). I'll message you here as "
                                  "soon as they decide."}
_DONE = {"order_status": "Order {order_id} is shipped; expected delivery Friday.",
         "add_note": "The note was added to the ticket."}


def _scripted(name: str, params: dict[str, Any], execution_id: int) -> dict[str, Any]:
    """The answer the policy engine would give: an unknown order is refused; refunds
    and address changes wait for the agent's confirmation; the rest succeed."""
    preview = _PREVIEWS[name].format(order_id=params.get("order_id", ""))
    execution: dict[str, Any] = {
        "id": execution_id, "action": name, "role": "agent", "actor": "zendesk:agent", "params": params,
        "reasons": [], "result": None, "preview": preview, "created_at": "2026-11-22T10:00:00+00:00",
        "decided_by": None, "repeated": False}
    if params.get("order_id") == UNKNOWN_ORDER:
        return {**execution, "status": "refused", "reasons": ["order_not_found"],
                "message": f"I couldn't find order {UNKNOWN_ORDER} on your account. Check the number, or reply "
                           "AGENT to reach a person."}
    if name in ("refund", "update_address"):
        return {**execution, "status": "awaiting_confirmation", "message": _MESSAGES["awaiting_confirmation"]
                .format(preview=preview)}
    done = _DONE.get(name, _MESSAGES["succeeded"]).format(preview=preview, order_id=params.get("order_id", ""))
    return {**execution, "status": "succeeded", "result": {"ok": True}, "message": done}


def _is_feedback(body: Any) -> bool:
    return (isinstance(body, dict) and body.get("rating") in ("up", "down")
            and (body.get("reason") is None or isinstance(body.get("reason"), str)))


class FakeBackend:
    """The sidebar API contract answered from tests/apps/fixtures/sidebar_ticket.json."""

    def __init__(self, token: str, ticket: dict[str, Any] | None = None) -> None:
        self.state = FakeBackendState(token=token,
                                      ticket=ticket or json.loads(CANNED_TICKET.read_text()))
        self._server: _Server | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handler = type("BoundBackendHandler", (_BackendHandler,), {"state": self.state})
        self._server = _Server(handler, self.port)  # same port again after a stop
        self.port = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def posts(self, suffix: str) -> list[Recorded]:
        return self.state.posts(suffix)

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)


# ---- the stand-in Zendesk -------------------------------------------------------------


class _ParentHandler(_Handler):
    stand_in: ZendeskStandIn

    def do_GET(self) -> None:
        if urlsplit(self.path).path in ("/", "/parent_frame.html"):
            return self._send(200, PARENT_PAGE.read_bytes(), "text/html; charset=utf-8")
        return self._json(404, {"error": "not here"})

    def do_POST(self) -> None:
        if self.path != "/__zendesk_proxy":
            return self._json(404, {"error": "not here"})
        options = json.loads(self._body())
        return self._json(200, self.stand_in.proxy(options))


class _AssetsHandler(_Handler):
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith("/assets/"):
            return self._json(404, {"error": "only /assets/ is served here"})
        target = (APP_ASSETS / path.removeprefix("/assets/")).resolve()
        if APP_ASSETS.resolve() not in target.parents or not target.is_file():
            return self._json(404, {"error": f"no asset {path}"})
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return self._send(200, target.read_bytes(), kind)


class ZendeskStandIn:
    """The parent page + proxy origin and the apps origin, with the app's settings.

    `secure_settings` stay in this process, as they stay on Zendesk's servers: the
    browser only ever sends the placeholder.
    """

    def __init__(self, *, backend_url: str, secure_settings: dict[str, str], ticket_id: int) -> None:
        self.backend_url = backend_url
        self.secure_settings = dict(secure_settings)
        self.ticket_id = ticket_id
        self.proxied: list[dict[str, Any]] = []
        parent = type("BoundParentHandler", (_ParentHandler,), {"stand_in": self})
        self.parent = _Server(parent)
        self.apps = _Server(_AssetsHandler)

    def page_url(self) -> str:
        query = urlencode({"app": f"{self.apps.origin}/assets/iframe.html",
                           "backend_url": self.backend_url, "ticket_id": self.ticket_id})
        return f"{self.parent.origin}/?{query}"

    def _fill(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.secure_settings.get(m.group(1), m.group(0)), text)

    def proxy(self, options: dict[str, Any]) -> dict[str, Any]:
        """Do what Zendesk's proxy does with a client.request(options); answer like an XHR."""
        self.proxied.append(options)
        url = str(options.get("url", ""))
        method = str(options.get("type", "GET")).upper()
        headers = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        data = options.get("data")
        if options.get("secure") is True:
            url = self._fill(url)
            headers = {k: self._fill(v) for k, v in headers.items()}
            data = self._fill(data) if isinstance(data, str) else data
        if urlsplit(url).scheme not in ("http", "https"):
            return {"status": 400, "statusText": "Bad Request", "contentType": "text/plain",
                    "responseText": f"stand-in proxy: not an http(s) URL: {url!r}"}
        if options.get("contentType"):
            headers["Content-Type"] = str(options["contentType"])
        body = data.encode() if isinstance(data, str) else None
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return {"status": response.status, "statusText": response.reason,
                        "contentType": response.headers.get("Content-Type", ""),
                        "responseText": response.read().decode("utf-8", errors="replace")}
        except urllib.error.HTTPError as error:
            return {"status": error.code, "statusText": error.reason,
                    "contentType": error.headers.get("Content-Type", ""),
                    "responseText": error.read().decode("utf-8", errors="replace")}
        except (urllib.error.URLError, OSError) as error:
            # Zendesk's proxy answers a gateway error when the backend cannot be reached.
            return {"status": 502, "statusText": "Bad Gateway", "contentType": "text/plain",
                    "responseText": f"stand-in proxy: could not reach {url}: {error}"}

    def close(self) -> None:
        self.parent.close()
        self.apps.close()

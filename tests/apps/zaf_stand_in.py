"""A fake Switchboard backend for the sidebar's browser test, and the stand-in Zendesk.

The stand-in agent workspace is the one `switchboard zendesk preview` serves
(apps/zendesk/preview_server.py, apps/zendesk/preview/workspace.html): the parent page and
``POST /__zendesk_proxy`` (Zendesk's request proxy: fills ``{{setting.NAME}}`` with
secure settings when the request says ``secure: true``, then calls the backend) on one
origin, apps/zendesk/assets/ on another. With the backend that makes three origins
(three ports on 127.0.0.1), so the test fails if the app ever relied on same-origin
access or CORS.

- `FakeBackend` — answers the sidebar API contract from canned JSON and records every
  request. Tests can stop it (connection refused) and start it again on the same port.
  Governed actions follow the contract of apps/zendesk/actions_api.py: one execution
  per Idempotency-Key, 200 succeeded / 202 awaiting confirmation or approval / 422
  refused, and /confirm; the outcome of a run is scripted per action below.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from switchboard.apps.zendesk.preview_server import LoopbackServer, PreviewAgent, QuietHandler
from switchboard.apps.zendesk.preview_server import Workspace as ZendeskStandIn

HERE = Path(__file__).resolve().parent
CANNED_TICKET = HERE / "fixtures" / "sidebar_ticket.json"
CANNED_ACTIONS = HERE / "fixtures" / "governed_actions.json"
#: The order number the fake's order system does not know (a refusal, as the backend's
#: policy engine answers for a missing or someone else's order).
UNKNOWN_ORDER = "B2002"
#: switchboard/core/actions/engine.py's UNAVAILABLE, as the sidebar API sends it.
UNAVAILABLE = ("The company's system isn't answering right now, so nothing was changed yet. The request is kept: "
               "retry it (the same button, or the same request) in a minute and it will run once.")
#: The agent the stand-in says is signed in (client.get('currentUser')).
AGENT = PreviewAgent(id=4021, name="Åsa Lindqvist", email="åsa@acme.test")
__all__ = ["AGENT", "CANNED_ACTIONS", "CANNED_TICKET", "UNKNOWN_ORDER", "FakeBackend", "Recorded", "ZendeskStandIn"]


# ---- the fake Switchboard backend ---------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any
    idempotency_key: str | None = None
    #: The agent's identity headers the app sent (x-zendesk-user-id, -name, -email).
    agent: dict[str, str] = field(default_factory=dict)


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


class _BackendHandler(QuietHandler):
    state: FakeBackendState  # set on the per-backend subclass

    def _record(self, body: Any) -> None:
        with self.state.lock:
            agent = {name.lower(): value for name, value in self.headers.items()
                     if name.lower().startswith("x-zendesk-user-")}
            self.state.requests.append(Recorded(self.command, self.path, self.headers.get("Authorization"),
                                                body, self.headers.get("Idempotency-Key"), agent))

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
        match = re.fullmatch(r"/api/sidebar/tickets/(\d+)(/governed-actions|/vault)?", urlsplit(self.path).path)
        if not match:
            return self._json(404, {"error": f"no route {self.path}"})
        if not self._authorized():
            return None
        if int(match.group(1)) != self.state.ticket["ticket_id"]:
            return self._json(404, {"error": f"ticket {match.group(1)} is unknown to Switchboard"})
        if match.group(2) == "/vault":
            return self._json(200, {"tokens": []})  # nothing redacted in the canned ticket
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
             "update_contact_phone": "change the contact phone",
             "add_note": "add an internal note to the ticket"}
_MESSAGES = {"succeeded": "Done: {preview}.", "awaiting_confirmation": "Confirm to {preview}.",
             "awaiting_approval": "I've asked a supervisor to approve this ({preview}). I'll message you here as "
                                  "soon as they decide."}
_DONE = {"order_status": "Order {order_id} is shipped; expected delivery Friday.",
         "add_note": "The note was added to the ticket."}


def _scripted(name: str, params: dict[str, Any], execution_id: int) -> dict[str, Any]:
    """The answer the policy engine would give: an unknown order is refused; refunds
    and address or phone changes wait for the agent's confirmation; the rest succeed."""
    preview = _PREVIEWS[name].format(order_id=params.get("order_id", ""))
    execution: dict[str, Any] = {
        "id": execution_id, "action": name, "role": "agent", "actor": "zendesk:agent", "params": params,
        "reasons": [], "result": None, "preview": preview, "created_at": "2026-11-22T10:00:00+00:00",
        "decided_by": None, "repeated": False}
    if params.get("order_id") == UNKNOWN_ORDER:
        return {**execution, "status": "refused", "reasons": ["order_not_found"],
                "message": f"I couldn't find order {UNKNOWN_ORDER} on your account. Check the number, or reply "
                           "AGENT to reach a person."}
    if name in ("refund", "update_address", "update_contact_phone"):
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
        self._server: LoopbackServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handler = type("BoundBackendHandler", (_BackendHandler,), {"state": self.state})
        self._server = LoopbackServer(handler, self.port)  # same port again after a stop
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

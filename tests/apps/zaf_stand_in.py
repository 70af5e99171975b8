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
"""
from __future__ import annotations

import json
import mimetypes
import re
import threading
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


@dataclass
class FakeBackendState:
    token: str
    ticket: dict[str, Any]
    fail_status: int | None = None  # when set, every request is answered with it
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self, suffix: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]


class _BackendHandler(_Handler):
    state: FakeBackendState  # set on the per-backend subclass

    def _record(self, body: Any) -> None:
        with self.state.lock:
            self.state.requests.append(Recorded(self.command, self.path,
                                                self.headers.get("Authorization"), body))

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
        match = re.fullmatch(r"/api/sidebar/tickets/(\d+)", urlsplit(self.path).path)
        if not match:
            return self._json(404, {"error": f"no route {self.path}"})
        if not self._authorized():
            return None
        if int(match.group(1)) != self.state.ticket["ticket_id"]:
            return self._json(404, {"error": f"ticket {match.group(1)} is unknown to Switchboard"})
        return self._json(200, self.state.ticket)

    def do_POST(self) -> None:
        raw = self._body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self._record(body)
        match = re.fullmatch(r"/api/sidebar/suggestions/(\d+)/(feedback|inserted)", urlsplit(self.path).path)
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

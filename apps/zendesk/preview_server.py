"""`switchboard zendesk preview`: the sidebar app in a local stand-in of Zendesk's agent
workspace, against a running Switchboard.

Why it is built this way: Zendesk serves an app from an origin of its own and calls the
backend from its proxy, server-side, filling the app's secure settings in there. The
stand-in keeps that shape with two loopback servers: the workspace page and its proxy on
one origin, the app's assets on another (so nothing works here that relies on
same-origin access or CORS), and the API key stays in this process; the browser only
ever sees the ``{{setting.token}}`` placeholder. The page
(``apps/zendesk/preview/workspace.html``) answers the ZAF SDK's postMessage protocol,
including ``currentUser`` (the agent), and lists the tickets the bot handed over. The
sidebar's browser tests use the same stand-in against a fake backend.

The proxy holds the account's API key, and any web page the user has open may post to
a port on 127.0.0.1. So it answers only its own page: the request must come from the
page's origin (``Origin``, and ``Host`` against DNS rebinding), carry the secret of this
run that the page's address holds (``X-Preview-Secret``: another site cannot read that
address), and be JSON (a cross-site "simple" request cannot be). It sends only to the
Switchboard it previews, and it listens on a port of its own choosing unless told one.
"""
from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from switchboard.core.resources import zendesk_app_dir

WORKSPACE_PAGE = zendesk_app_dir() / "preview" / "workspace.html"
APP_ASSETS = zendesk_app_dir() / "assets"
DEFAULT_URL = "http://127.0.0.1:8000"
#: What `switchboard serve` writes into the data folder on its first start.
KEY_FILE_NAME = ".switchboard-api-key"
PLACEHOLDER = re.compile(r"\{\{setting\.(\w+)\}\}")
TIMEOUT_SECONDS = 10
#: The header the page sends this run's secret in (it reads it from its own address).
SECRET_HEADER = "X-Preview-Secret"


class PreviewError(RuntimeError):
    """The preview cannot start; the message says what to do about it."""


class ProxyRefused(PreviewError):
    """A request the stand-in proxy will not send (not to the previewed Switchboard)."""


@dataclass(frozen=True)
class PreviewAgent:
    """Who the stand-in says is signed in (``client.get('currentUser')``)."""

    id: int = 1
    name: str = "Preview Agent"
    email: str = "preview.agent@example.com"


@dataclass(frozen=True)
class HandedOver:
    """A ticket the bot handed over, as ``GET /api/conversations`` lists it."""

    ticket_id: int
    conversation_id: int
    channel: str
    status: str
    last_message_at: str

    def line(self) -> str:
        return (f"  #{self.ticket_id:<8} {self.channel:<9} {self.status:<7} last message "
                f"{self.last_message_at[:16].replace('T', ' ')}  (conversation {self.conversation_id})")


# ---- the running Switchboard -------------------------------------------------------------


def read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise PreviewError(f"no API key at {path}: `switchboard serve` writes one there on its first start (run "
                           "it from the same folder, or set SWITCHBOARD_DATA_DIR), or pass --key-file with a key "
                           "from `switchboard accounts key`") from None
    except OSError as exc:
        raise PreviewError(f"cannot read the API key at {path}: {exc.strerror or exc}") from None
    if not key:
        raise PreviewError(f"{path} is empty: put an account API key in it (`switchboard accounts key`)")
    return key


def handed_over_tickets(backend_url: str, key: str) -> list[HandedOver]:
    """The tickets the bot handed over, newest activity first, read with the account key."""
    request = urllib.request.Request(f"{backend_url}/api/conversations",
                                     headers={"Authorization": f"Bearer {key}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            rows = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise PreviewError(f"Switchboard at {backend_url} refused the API key: use a current key of the account "
                               "(`switchboard accounts key`) with --key-file") from None
        raise PreviewError(f"Switchboard at {backend_url} answered HTTP {exc.code} to GET /api/conversations; "
                           "check that --url points at Switchboard") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PreviewError(f"nothing answers at {backend_url} ({reason}): start Switchboard with `switchboard "
                           "serve`, or point --url at the running one") from None
    except ValueError:
        raise PreviewError(f"{backend_url}/api/conversations did not answer JSON; check that --url points at "
                           "Switchboard") from None
    found: dict[int, HandedOver] = {}
    for row in rows if isinstance(rows, list) else []:
        ticket = row.get("zendesk_ticket_id") if isinstance(row, dict) else None
        if isinstance(ticket, int) and ticket not in found:
            found[ticket] = HandedOver(ticket, int(row["id"]), str(row.get("channel")), str(row.get("status")),
                                       str(row.get("last_message_at") or ""))
    return list(found.values())


# ---- the loopback servers ------------------------------------------------------------------


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; port 0 picks a free port."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        try:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            raise PreviewError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): choose another "
                               "--port") from None
        self.httpd.daemon_threads = True
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


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with exact lengths, JSON answers and no request log."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal shows what the preview is for, not every asset it served

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    extra_headers: dict[str, str] = {}

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())


class _WorkspaceHandler(QuietHandler):
    workspace: Workspace  # set on the per-workspace subclass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/", "/workspace.html"):
            self.extra_headers = {"Referrer-Policy": "no-referrer"}  # its address holds the run's secret
            return self._send(200, WORKSPACE_PAGE.read_bytes(), "text/html; charset=utf-8")
        if path == "/__tickets" and self.workspace.list_tickets is not None:
            if (refusal := self._refusal()) is not None:
                return self._json(403, {"error": refusal})
            try:
                tickets = self.workspace.list_tickets()
            except PreviewError as exc:
                return self._json(502, {"error": str(exc)})
            return self._json(200, [asdict(t) for t in tickets])
        return self._json(404, {"error": f"nothing at {path}"})

    def do_POST(self) -> None:
        if self.path != "/__zendesk_proxy":
            return self._json(404, {"error": "only POST /__zendesk_proxy is answered here"})
        if (refusal := self._refusal(post=True)) is not None:
            return self._json(403, {"error": refusal})
        if self.headers.get_content_type() != "application/json":
            return self._json(415, {"error": "send the client.request options as application/json"})
        try:
            options = json.loads(self._body())
        except ValueError:
            return self._json(400, {"error": "send the client.request options as JSON"})
        try:
            return self._json(200, self.workspace.proxy(options if isinstance(options, dict) else {}))
        except ProxyRefused as exc:
            return self._json(403, {"error": str(exc)})

    def _refusal(self, *, post: bool = False) -> str | None:
        """Why this request is not from the workspace page of this run, or None."""
        own = self.workspace.parent.origin
        if self.headers.get("Host") != urlsplit(own).netloc:
            return f"the stand-in answers only its own address ({own})"
        origin = self.headers.get("Origin")
        if origin != own and (post or origin is not None):
            return f"the stand-in answers only its own page ({own}), not {origin or 'a request without Origin'}"
        if not hmac.compare_digest(self.headers.get(SECRET_HEADER, ""), self.workspace.secret):
            return "the stand-in answers only the page it printed the address of (its secret is missing or wrong)"
        return None


class _AssetsHandler(QuietHandler):
    assets: Path  # set on the per-workspace subclass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith("/assets/"):
            return self._json(404, {"error": "only /assets/ is served here"})
        root = self.assets.resolve()
        target = (root / path.removeprefix("/assets/")).resolve()
        if root not in target.parents or not target.is_file():
            return self._json(404, {"error": f"no asset {path}"})
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return self._send(200, target.read_bytes(), kind)


class Workspace:
    """The workspace page and proxy on one origin, the app's assets on another.

    ``secure_settings`` stay in this process, as they stay on Zendesk's servers.
    ``list_tickets`` feeds the page's list of handed-over tickets (none: no list).
    """

    def __init__(self, *, backend_url: str, secure_settings: Mapping[str, str], ticket_id: int | None = None,
                 agent: PreviewAgent | None = None, list_tickets: Callable[[], list[HandedOver]] | None = None,
                 port: int = 0, assets: Path = APP_ASSETS) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.secure_settings = dict(secure_settings)
        self.ticket_id = ticket_id
        self.agent = agent or PreviewAgent()
        self.list_tickets = list_tickets
        #: Put in the page's address; the page sends it back with each proxied request.
        self.secret = secrets.token_urlsafe(24)
        self.proxied: list[dict[str, Any]] = []
        self.parent = LoopbackServer(type("BoundWorkspaceHandler", (_WorkspaceHandler,), {"workspace": self}), port)
        try:
            self.apps = LoopbackServer(type("BoundAssetsHandler", (_AssetsHandler,), {"assets": assets}))
        except PreviewError:
            self.parent.close()
            raise

    def page_url(self, ticket_id: int | None = None) -> str:
        ticket = ticket_id if ticket_id is not None else self.ticket_id
        query = {"app": f"{self.apps.origin}/assets/iframe.html", "backend_url": self.backend_url,
                 **({"ticket_id": ticket} if ticket is not None else {}),
                 "agent_id": self.agent.id, "agent_name": self.agent.name, "agent_email": self.agent.email,
                 "preview_secret": self.secret}
        return f"{self.parent.origin}/?{urlencode(query)}"

    def outside_backend(self, url: str) -> str | None:
        """Why ``url`` is not the previewed Switchboard's (Zendesk's proxy, too, sends
        only to the domains an app declares), or None."""
        wanted, asked = urlsplit(self.backend_url), urlsplit(url)
        if (asked.scheme, asked.netloc) == (wanted.scheme, wanted.netloc) and wanted.netloc \
                and asked.path.startswith(wanted.path):
            return None
        return f"the stand-in proxy sends only to the Switchboard it previews ({self.backend_url or 'none set'})"

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
        if (outside := self.outside_backend(url)) is not None:  # checked with the settings filled in
            raise ProxyRefused(outside)
        if options.get("contentType"):
            headers["Content-Type"] = str(options["contentType"])
        body = data.encode() if isinstance(data, str) else None
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
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

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


# ---- the command -------------------------------------------------------------------------


def serve_preview(backend_url: str, *, key_file: Path, port: int, ticket: int | None,
                  echo: Callable[[str], Any], stop: threading.Event | None = None) -> None:
    """Check the running Switchboard, list what the bot handed over, and serve the
    workspace until Ctrl+C (or ``stop``)."""
    backend_url = backend_url.rstrip("/")
    if urlsplit(backend_url).scheme not in ("http", "https") or not urlsplit(backend_url).netloc:
        raise PreviewError(f"--url {backend_url!r}: give Switchboard's address, e.g. {DEFAULT_URL}")
    key = read_key(key_file)
    tickets = handed_over_tickets(backend_url, key)
    if tickets:
        echo("Tickets the bot handed over (newest activity first):")
        for handed in tickets:
            echo(handed.line())
    else:
        echo(f"No ticket handed over yet: play the customer at {backend_url}/playground and write AGENT, then "
             "reload the list in the preview.")
    first = ticket if ticket is not None else (tickets[0].ticket_id if tickets else None)
    with Workspace(backend_url=backend_url, secure_settings={"token": key}, ticket_id=first,
                   list_tickets=lambda: handed_over_tickets(backend_url, key), port=port) as workspace:
        agent = workspace.agent
        echo(f"Signed in to the stand-in as {agent.name} <{agent.email}> (Zendesk user {agent.id}).")
        echo(f"Preview the sidebar at {workspace.page_url()}")
        echo("Ctrl+C stops the preview.")
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            echo("Preview stopped.")

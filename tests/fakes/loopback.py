"""The one loopback HTTP server every fake vendor in the tests is built on.

A fake (the OpenAI-compatible model server, the Slack Web API, a company's order system,
the vendors behind the worker-fault proxy) only says how it answers a request; this base
serves it over real HTTP on 127.0.0.1 (a free port), in a daemon thread, for the span of
a ``with`` block. The code under test therefore goes through its real HTTP client,
timeouts and retries included, and nothing of ours is patched.

    class Teapot(LoopbackFake):
        def answer(self, request: Request) -> Answer:
            return Answer(418, {"error": "I'm a teapot"})

    with Teapot() as fake:
        requests.get(fake.origin + "/brew")
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

#: shutdown() waits up to one poll interval: short, since every test closes a fake.
POLL_INTERVAL = 0.02


@dataclass(frozen=True)
class Request:
    """One request as it arrived on the wire."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Answer:
    """What a fake sends back. A dict or list body goes out as JSON; bytes as they are."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


class LoopbackFake:
    """Serves :meth:`answer` on ``origin`` while inside ``with``."""

    #: HTTP/1.1 keeps connections open between requests, as the vendors' servers do.
    protocol_version = "HTTP/1.0"

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.server_handler())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)

    def request_handler(self) -> type[BaseHTTPRequestHandler]:
        """The handler that turns each request into :meth:`answer`'s ``Request`` and sends its ``Answer``."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = fake.protocol_version

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, dict(self.headers.items()),
                                  self.rfile.read(length) if length else b"")
                answer = fake.answer(request)
                raw = answer.body if isinstance(answer.body, bytes) else (
                    b"" if answer.body is None else json.dumps(answer.body).encode())
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(raw)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    # The caller hung up (a worker killed mid-call): what the fake did stands.
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a test's output shows its own failures, not every request served

        return Handler

    def server_handler(self) -> type[BaseHTTPRequestHandler]:
        """What listens on ``origin``: the request handler itself, unless a fake puts
        something in front of it (an HTTPS proxy, say)."""
        return self.request_handler()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``, to point the code under test at."""
        return f"http://127.0.0.1:{self.port}"

    def answer(self, request: Request) -> Answer:
        """How this fake answers ``request``; called on the server's threads."""
        raise NotImplementedError(f"{type(self).__name__} must say how it answers a request")

    def closing(self) -> None:
        """Called before the server stops: release anything a request may be waiting on."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

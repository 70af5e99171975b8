"""An OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Usage::

    with FakeOpenAI() as fake:
        fake.reply("Refunds take 14 days [1].")
        ...  # point the code under test at fake.base_url
        assert fake.requests[0]["model"] == "gpt-4o-mini"

Replies are served in the order they were queued, one per request. A request with
nothing queued is answered with HTTP 400 and a message saying so, so a test that
makes more calls than it planned fails loudly instead of receiving a made-up answer.
"""
from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .loopback import Answer, LoopbackFake, Request

CHAT_PATH = "/v1/chat/completions"
DEFAULT_USAGE = {"prompt_tokens": 120, "completion_tokens": 24, "total_tokens": 144}


@dataclass
class CannedResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceivedRequest:
    """Everything the server saw of one request, for tests that check more than the body."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


class FakeOpenAI(LoopbackFake):
    """A loopback OpenAI-compatible API: ``POST /v1/chat/completions`` only."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[ReceivedRequest] = []
        self._queue: deque[CannedResponse] = deque()
        self._lock = threading.Lock()
        self._served = 0
        self.base_url = f"{self.origin}/v1"

    # -- what tests read -------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """The parsed JSON bodies of every chat-completions request, in arrival order."""
        return [r.body for r in self.received if r.path == CHAT_PATH and r.body is not None]

    @property
    def pending(self) -> int:
        """Canned responses not yet served (a test can assert it used all it queued)."""
        return len(self._queue)

    # -- what tests queue ------------------------------------------------------------
    def reply(self, text: str, *, usage: dict[str, int] | None = None,
              finish_reason: str = "stop") -> FakeOpenAI:
        """Queue an assistant message with ``text`` as its content."""
        message = {"role": "assistant", "content": text}
        self._queue.append(CannedResponse(200, self._completion(message, finish_reason, usage)))
        return self

    def reply_tool_call(self, name: str, arguments: dict[str, Any] | str, *,
                        usage: dict[str, int] | None = None) -> FakeOpenAI:
        """Queue an assistant message calling tool ``name``; ``arguments`` is sent as the
        JSON string the API uses (a str is sent as is, to test malformed arguments)."""
        encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
        call = {"id": f"call_{len(self._queue) + self._served + 1}", "type": "function",
                "function": {"name": name, "arguments": encoded}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        self._queue.append(CannedResponse(200, self._completion(message, "tool_calls", usage)))
        return self

    def fail(self, status: int, headers: dict[str, str] | None = None, *,
             message: str | None = None, code: str | None = None) -> FakeOpenAI:
        """Queue an error response shaped like OpenAI's ``{"error": {...}}``."""
        error = {"message": message or f"fake error {status}", "type": "fake_error",
                 "param": None, "code": code}
        self._queue.append(CannedResponse(status, {"error": error}, dict(headers or {})))
        return self

    # -- serving ---------------------------------------------------------------------
    def answer(self, request: Request) -> Answer:
        body = request.json if request.method == "POST" else None
        canned = self._answer(ReceivedRequest(request.method, request.path, request.headers, body))
        return Answer(canned.status, canned.body, canned.headers)

    def _answer(self, request: ReceivedRequest) -> CannedResponse:
        with self._lock:
            self.received.append(request)
            if request.method != "POST" or request.path != CHAT_PATH:
                return CannedResponse(404, {"error": {
                    "message": f"FakeOpenAI only serves POST {CHAT_PATH}, not {request.method} {request.path}",
                    "type": "invalid_request_error", "param": None, "code": "not_found"}})
            if not self._queue:
                return CannedResponse(400, {"error": {
                    "message": "FakeOpenAI has no reply queued: call .reply(), .reply_tool_call() "
                               "or .fail() once per request the test expects",
                    "type": "invalid_request_error", "param": None, "code": "nothing_queued"}})
            self._served += 1
            canned = self._queue.popleft()
        if canned.status == 200:
            canned.body["model"] = (request.body or {}).get("model", "unknown")
        return canned

    def _completion(self, message: dict[str, Any], finish_reason: str,
                    usage: dict[str, int] | None) -> dict[str, Any]:
        number = len(self._queue) + self._served + 1
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": 1_700_000_000 + number,
            "model": "set-when-served",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                         "logprobs": None}],
            "usage": dict(usage or DEFAULT_USAGE),
        }

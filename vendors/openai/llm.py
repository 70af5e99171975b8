"""Chat completions from OpenAI or any OpenAI-compatible server (vLLM, Ollama, LiteLLM).

The outbox payload is exactly the keyword arguments of ``chat.completions.create``, so
the record shows what the model was sent (the caller redacts customer text first) and
a retried task can replay it. ``chat.completions`` with ``tools`` is used rather than
the newer Responses API because every compatible server implements it.
"""
from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from switchboard.core.pii.redaction import truncate_for_model
from switchboard.core.ports import ChatResult  # noqa: F401 - returned here
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    Connector,
    VendorError,
    VendorRateLimited,
    VendorUnavailable,
    retry_after_seconds,
)

if TYPE_CHECKING:
    # The SDK (with pydantic's models of every endpoint and httpx: about 45 MB and 0.4 s)
    # is imported by the first call, not with the app: the default path has no LLM.
    import openai
    from openai import OpenAI

OPERATION = "chat.completions.create"
OPENAI_URL = "https://api.openai.com/v1"
#: vLLM and Ollama ignore the key but the SDK refuses to build a client without one.
PLACEHOLDER_API_KEY = "sk-no-key-required"
#: An SMS answer is due in seconds; the SDK's default (10 minutes) would hold a worker.
TIMEOUT_SECONDS = 30.0
#: The SDK retries by sleeping in the worker, through Retry-After for up to two minutes.
#: Our connectors never sleep: the error goes to the Celery task, which retries with a
#: countdown. Raise it for a caller that has no task around it.
DEFAULT_MAX_RETRIES = 0
#: OpenAI sends Retry-After on most 429s; compatible servers often do not.
DEFAULT_RETRY_AFTER = 5.0


class LLMNotConfigured(VendorError):
    """Neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: use the local engine."""


class LLMClient(Connector):
    vendor = "openai"

    def __init__(self, session: Session, account: Account, settings: Settings, *,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(session, account, settings)
        self.max_retries = max_retries
        self.timeout = timeout

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        """Whether drafting should use an LLM at all. A base URL alone is enough: a
        self-hosted server needs no key."""
        return bool(settings.openai_api_key or settings.openai_base_url)

    def has_credentials(self) -> bool:
        return self.configured(self.settings)

    @property
    def sandboxed(self) -> bool:
        """Never: the LLM is called even when SWITCHBOARD_SANDBOX=1.

        Sandbox mode exists so nothing reaches a customer or a vendor's records during
        a trial; a chat completion does neither (its draft still goes through the
        grounding gate and the sandboxed Twilio connector), and a sandboxed model would
        make the sandbox useless for judging answers. Whether to use the LLM at all is
        the caller's choice through ``configured(settings)``, the local engine
        otherwise; calling ``chat`` unconfigured raises LLMNotConfigured.
        """
        return False

    def chat(self, *, model: str, messages: list[dict[str, Any]], max_tokens: int,
             temperature: float = 0, tools: list[dict[str, Any]] | None = None,
             idempotency_key: str | None = None) -> ChatResult:
        """One chat completion, recorded in the outbox before it is made.

        Raises VendorRateLimited (429, with Retry-After), VendorUnavailable (5xx,
        timeout, connection) or VendorError (other 4xx, or not configured).
        """
        if not self.has_credentials():
            raise LLMNotConfigured(
                "no LLM is configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (a "
                "self-hosted OpenAI-compatible server), or draft with compose_local."
            )
        # Whatever path built the messages, a customer's turn never reaches the model
        # longer than the redaction module's limit (a pasted 100,000 characters).
        messages = [{**m, "content": truncate_for_model(m["content"])}
                    if m.get("role") == "user" and isinstance(m.get("content"), str) else m for m in messages]
        payload: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens,
                                   "temperature": temperature}
        if tools:
            payload["tools"] = tools
        response = self.call(OPERATION, payload, idempotency_key=idempotency_key).response
        return ChatResult(response.get("text"), list(response.get("tool_calls") or []),
                          dict(response.get("usage") or {}))

    @cached_property
    def client(self) -> OpenAI:
        # base_url is always passed: left None the SDK would read OPENAI_BASE_URL from
        # the process environment behind the validated settings' back. The SDK (1 s to
        # import) comes with the first call, not with a web worker's start-up.
        from openai import OpenAI

        return OpenAI(
            api_key=self.settings.openai_api_key or PLACEHOLDER_API_KEY,
            base_url=self.settings.openai_base_url or OPENAI_URL,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation != OPERATION:
            raise ValueError(f"LLMClient cannot perform {operation!r}.")
        import openai  # the SDK with the first call, not at start-up

        try:
            completion = self.client.chat.completions.create(**payload)
        except openai.APIStatusError as exc:
            raise self._translate(exc, payload) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise VendorUnavailable(
                f"the LLM at {self.client.base_url} could not be reached ({exc}); the draft will be retried."
            ) from exc
        if not completion.choices:
            raise VendorUnavailable(f"the LLM ({payload['model']}) returned no choices; the draft will be retried.")
        message = completion.choices[0].message
        usage = completion.usage
        return {
            "id": completion.id,
            "model": completion.model,
            "text": message.content,
            "tool_calls": [_tool_call(call) for call in (message.tool_calls or [])],
            "finish_reason": completion.choices[0].finish_reason,
            "usage": {
                "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            } if usage else {},
        }

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:  # pragma: no cover - never sandboxed
        raise AssertionError("LLMClient is never sandboxed")

    def _translate(self, exc: openai.APIStatusError, payload: dict[str, Any]) -> Exception:
        status = exc.status_code
        detail = _error_message(exc)
        if status == 429 and _error_code(exc) == "insufficient_quota":
            return VendorError(f"the OpenAI account is out of quota: check its billing. OpenAI: {detail}")
        if status == 429:
            headers = exc.response.headers
            return VendorRateLimited(self.vendor, retry_after_seconds(
                headers.get("retry-after"), DEFAULT_RETRY_AFTER, milliseconds=headers.get("retry-after-ms")))
        if status >= 500:
            return VendorUnavailable(f"the LLM failed with HTTP {status} ({detail}); the draft will be retried.")
        if status in (401, 403):
            return VendorError(
                f"the LLM refused the credentials (HTTP {status}): check OPENAI_API_KEY"
                f"{' (a self-hosted server may want its own key there)' if self.settings.openai_base_url else ''}. "
                f"Server: {detail}"
            )
        if status == 404:
            return VendorError(
                f"model {payload['model']!r} or the endpoint was not found (HTTP 404): check "
                "SWITCHBOARD_MODEL_FAST / SWITCHBOARD_MODEL_STRONG and that OPENAI_BASE_URL ends "
                f"in /v1. Server: {detail}"
            )
        return VendorError(f"the LLM refused the request (HTTP {status}): {detail}")


def _tool_call(call: Any) -> dict[str, Any]:
    """A tool call with its arguments decoded; arguments that are not JSON are a model
    failure no retry at temperature 0 will fix."""
    function = getattr(call, "function", None)
    if function is None:  # a "custom" (free-text) tool: its input is not JSON by design
        return {"id": call.id, "name": call.custom.name, "arguments": call.custom.input}
    raw = function.arguments or "{}"
    try:
        arguments = json.loads(raw)
    except ValueError:
        raise VendorError(
            f"the model called {function.name!r} with arguments that are not JSON: {raw[:200]!r}"
        ) from None
    return {"id": call.id, "name": function.name, "arguments": arguments}


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body or exc.message)


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    return body.get("code") if isinstance(body, dict) else None


class UnrecordedChat:
    """The client's request without the outbox row a live draft leaves: ``switchboard
    eval`` stores nothing. Errors are the connector's own, which the decision turns into
    handoffs."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    def chat(self, *, model: str, messages: list[dict[str, Any]], max_tokens: int, temperature: float = 0,
             tools: list[dict[str, Any]] | None = None, idempotency_key: str | None = None) -> ChatResult:
        payload: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens,
                                   "temperature": temperature, **({"tools": tools} if tools else {})}
        response = self._client.perform(OPERATION, payload)
        return ChatResult(response.get("text"), list(response.get("tool_calls") or []),
                          dict(response.get("usage") or {}))

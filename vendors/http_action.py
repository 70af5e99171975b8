"""The company's own systems (orders, billing, appointments) through configured HTTP
actions (switchboard/data/actions.yaml), with requests.

Like every connector the call is recorded in the outbox first under the execution's
idempotency key, so a retried task or a double click calls the system once; the key
is also sent as an ``Idempotency-Key`` header for systems that de-duplicate
themselves. The auth header is added at call time only: the secret is never stored.
"""
from __future__ import annotations

import json
import os
import string
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from sqlalchemy.orm import Session

from switchboard.core.accounts import DEFAULT_SLUG, stored_secret
from switchboard.core.actions.config import Operation, System
from switchboard.core.pii.vault import TOKEN, tokens_in, vault_for
from switchboard.core.pii.vault import resolve as vault_resolve
from switchboard.core.ports import NotFound  # noqa: F401 - raised here
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    CallResult,
    Connector,
    VendorError,
    VendorOutcomeUnknown,
    VendorRateLimited,
    VendorUnavailable,
    may_have_reached_vendor,
    retry_after_seconds,
)

DEFAULT_RETRY_AFTER = 10.0


class TemplateError(VendorError):
    """A template names a value the action does not have: fix actions.yaml."""


class MissingSecret(VendorError):
    """Live mode, and the secret for a system's auth header is not set: refusing beats
    inventing an answer (a made-up order that belongs to whoever asks)."""


class OutcomeUnknown(VendorError):
    """A write may have been applied (its answer was lost) and the system does not
    de-duplicate: sending it again could apply it twice, so a person must check."""


class HttpActionConnector(Connector):
    vendor = "http_action"

    def __init__(self, session: Session, account: Account, settings: Settings, *, system: System) -> None:
        super().__init__(session, account, settings)
        self.system = system
        self._operations: dict[str, Operation] = {}

    def _secret(self) -> str | None:
        auth = self.system.auth
        if auth is None:
            return None
        if self.account.slug == DEFAULT_SLUG:
            return os.environ.get(auth.secret) or None
        return stored_secret(self.account, auth.secret.lower(), self.settings)

    def has_credentials(self) -> bool:
        return self.system.auth is None or self._secret() is not None

    @property
    def sandboxed(self) -> bool:
        """``sandbox: false`` on the system calls it even in sandbox mode (a staging
        order system while messages stay recorded). In a deployment, missing credentials
        do not turn a live system into a sandbox: ``run`` refuses instead. The embedded
        default (no Redis: a newcomer trying Switchboard on one machine) records the call
        and answers with the operation's ``sandbox_response``, as Twilio and Zendesk do
        there without credentials, so every documented flow can be tried."""
        if self.system.sandbox is not None:
            return self.system.sandbox
        return self.settings.sandbox or (self.settings.embedded and not self.has_credentials())

    def require_secret(self) -> None:
        if self.sandboxed or self.has_credentials():
            return
        assert self.system.auth is not None
        name = self.system.auth.secret
        where = (f"set the environment variable {name}" if self.account.slug == DEFAULT_SLUG else
                 f"run `switchboard accounts set-secret {self.account.slug} {name.lower()} ...`")
        raise MissingSecret(f"{self.system.name} needs the secret {name} for its {self.system.auth.header} header "
                            f"and it is not set: {where} (or set SWITCHBOARD_SANDBOX=1 to record calls instead); "
                            "nothing was sent")

    def run(self, operation: Operation, variables: dict[str, Any], *, idempotency_key: str,
            vault_conversation_id: int | None = None) -> dict[str, Any]:
        """Call ``operation`` with ``variables`` filled into its templates; returns the
        response mapped to our field names. Vault tokens in ``variables`` are recorded as
        tokens and opened from ``vault_conversation_id``'s vault only in ``perform``."""
        payload: dict[str, Any] = {
            "method": operation.method,
            "url": self.system.base_url + render_path(operation.path, variables),
            "json": render(operation.body, variables) if operation.body is not None else None,
            "variables": variables,
        }
        if vault_conversation_id is not None and tokens_in(json.dumps(variables, default=str)):
            payload["vault_conversation_id"] = vault_conversation_id
        self._operations[operation.name] = operation
        self.require_secret()
        result = self.call(operation.name, payload, idempotency_key=idempotency_key)
        return map_response(operation.response, result.response)

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        operation = self._operations[call.operation]
        variables = {**call.payload["variables"], "today": datetime.now(UTC).date().isoformat()}
        return render(operation.sandbox_response or {}, variables, lenient=True)

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        values = self._vaulted(operation, payload)
        if not values:
            return self._send(operation, payload)
        # The one moment the original values exist outside the vault: in this request.
        # The answer goes back to tokens before the outbox stores it (a system that
        # echoes the number must not put it on our record).
        template = self._operations[operation]
        opened = {name: _open(value, values) for name, value in payload["variables"].items()}
        sent = {**payload, "url": self.system.base_url + render_path(template.path, opened),
                "json": render(template.body, opened) if template.body is not None else None}
        return _seal_back(self._send(operation, sent, values), values)

    def _vaulted(self, operation: str, payload: dict[str, Any]) -> dict[str, str]:
        """Token → original value, for the tokens the call's variables name."""
        conversation_id = payload.get("vault_conversation_id")
        if conversation_id is None:
            return {}
        vault = vault_for(self.settings)
        values = {token: vault_resolve(self.session, vault, account_id=self.account.id,
                                       conversation_id=conversation_id, text=token)
                  for token in tokens_in(json.dumps(payload["variables"], default=str))}
        missing = [token for token, value in values.items() if value == token]
        if missing:  # erased between the request and its run: send nothing rather than a token
            raise VendorError(f"{', '.join(missing)} is no longer in the conversation's vault (erased or expired); "
                              f"{operation} was not sent: ask the customer for the value again")
        return values

    def _send(self, operation: str, payload: dict[str, Any], values: dict[str, str] | None = None) -> dict[str, Any]:
        """The HTTP request; an error quoting the answer quotes it with ``values`` sealed back."""
        headers = {"Accept": "application/json"}
        pending = self.session.info.get("http_action_key")
        if pending:
            headers["Idempotency-Key"] = pending
        auth = self.system.auth
        if auth is not None:
            headers[auth.header] = auth.value.format(secret=self._secret())
        try:
            response = requests.request(payload["method"], payload["url"], json=payload["json"], headers=headers,
                                        timeout=self.system.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if payload["method"] != "GET" and may_have_reached_vendor(exc):
                raise VendorOutcomeUnknown(f"{self.system.name} did not answer {operation} ({type(exc).__name__}); "
                                           "it may have been applied, so it is checked before any retry.") from exc
            raise VendorUnavailable(f"{self.system.name} could not be reached ({exc}); the action will be "
                                    "retried.") from exc
        if response.status_code == 429:
            raise VendorRateLimited(self.system.name, retry_after_seconds(response.headers.get("Retry-After"),
                                                                         DEFAULT_RETRY_AFTER, minimum=1.0))
        if response.status_code >= 500:
            raise VendorUnavailable(f"{self.system.name} failed with HTTP {response.status_code}; the action "
                                    "will be retried.")
        if response.status_code == 404:
            if self._operations[operation].not_found_is_answer:
                return {"_not_found": True}
            raise NotFound(f"{self.system.name} answered {operation} with HTTP 404 (not found): the thing to change "
                           "does not exist there, so nothing was changed")
        if response.status_code >= 400:
            raise VendorError(f"{self.system.name} refused {operation} (HTTP {response.status_code}): "
                              f"{_seal_back(response.text[:300], values or {})}")
        try:
            body = response.json() if response.content else {}
        except ValueError:
            raise VendorError(f"{self.system.name} answered {operation} with something that is not JSON: "
                              f"{_seal_back(response.text[:200], values or {})!r}; check the URL in "
                              "actions.yaml") from None
        return body if isinstance(body, dict) else {"items": body}

    def reconcile(self, operation: str, payload: dict[str, Any], attempted_at: datetime) -> dict[str, Any] | None:
        """An earlier attempt may have reached the system. A lookup is safe to repeat,
        and so is a write to a system that honours Idempotency-Key (same key, applied
        once). Any other write is not sent again: it fails for a person to check."""
        if payload["method"] == "GET" or self.system.idempotent:
            return None
        raise OutcomeUnknown(
            f"{self.system.name} may have applied {operation} at {attempted_at.isoformat(timespec='seconds')} (its "
            "answer was lost) and does not de-duplicate, so it was not sent again: check in "
            f"{self.system.name} whether it happened (set idempotent: true in actions.yaml if it honours "
            "Idempotency-Key)")

    def call(self, operation: str, payload: dict[str, Any], *, idempotency_key: str | None = None) -> CallResult:
        self.session.info["http_action_key"] = idempotency_key
        try:
            return super().call(operation, payload, idempotency_key=idempotency_key)
        finally:
            self.session.info.pop("http_action_key", None)


def _open(value: Any, values: dict[str, str]) -> Any:
    """``value`` with its tokens replaced by the originals (strings only)."""
    if not isinstance(value, str):
        return value
    return TOKEN.sub(lambda m: values.get(m.group(), m.group()), value)


def _seal_back(body: Any, values: dict[str, str]) -> Any:
    """``body`` with every original value of ``values`` turned back into its token."""
    if isinstance(body, dict):
        return {key: _seal_back(value, values) for key, value in body.items()}
    if isinstance(body, list):
        return [_seal_back(value, values) for value in body]
    if not isinstance(body, str):
        return body
    for token, value in sorted(values.items(), key=lambda item: -len(item[1])):
        body = body.replace(value, token)
    return body


def render(template: Any, variables: dict[str, Any], *, lenient: bool = False) -> Any:
    """Fill ``{name}`` placeholders in every string of ``template``. A string that is
    exactly one placeholder keeps the value's type (an amount stays a number)."""
    if isinstance(template, dict):
        return {key: render(value, variables, lenient=lenient) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, variables, lenient=lenient) for value in template]
    if not isinstance(template, str):
        return template
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    missing = [name for name in names if name not in variables]
    if missing and not lenient:
        raise TemplateError(f"the template {template!r} names {', '.join(missing)}, which this action does not "
                            f"have; use one of {', '.join(sorted(variables))}")
    if len(names) == 1 and template == "{" + names[0] + "}":
        return variables.get(names[0])
    return template.format_map({name: variables.get(name, "") for name in names})


def render_path(template: str, variables: dict[str, Any]) -> str:
    quoted = {key: quote(str(value), safe="") for key, value in variables.items()}
    return str(render(template, quoted))


def map_response(mapping: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Our field names from dotted paths in the system's JSON; unmapped means the whole
    body. A 404 is kept as ``not_found`` so the policy can say so in plain words."""
    if body.get("_not_found"):
        return {"not_found": True}
    if not mapping:
        return dict(body)
    out: dict[str, Any] = {}
    for name, path in mapping.items():
        value: Any = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[name] = value
    return out


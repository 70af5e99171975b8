"""Messages to supervisors and agents in Slack, through slack_sdk's WebClient. No Flask:
the Web API root comes from the settings (``SLACK_API_URL``), so the worker, the CLI and
the web app build it alike.

The outbox payload is the JSON body WebClient posts (``chat_postMessage`` and friends
send JSON, None values dropped), and the live call replays it as the same method's
keyword arguments.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlalchemy.orm import Session, object_session

from switchboard.apps.slack.installations import bot_token_for_account
from switchboard.core.accounts import secret, secret_variable
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    CallResult,
    Connector,
    VendorError,
    VendorRateLimited,
    VendorUnavailable,
    retry_after_seconds,
)


def escape(text: str) -> str:
    """Slack's three control characters (its formatting rules: "&", "<" and ">" must be
    sent as entities), so text from customers, tickets or articles shows as written and
    cannot mention a channel or make a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")



def decision_buttons(block_id: str, value: str, approve: str, edit: str, reject: str) -> dict[str, Any]:
    """The Approve / Edit / Reject row a reviewer answers a card with (outreach campaigns,
    knowledge drafts): one look, so supervisors meet the same buttons in every card."""
    return {"type": "actions", "block_id": block_id, "elements": [
        {"type": "button", "action_id": approve, "style": "primary", "value": value,
         "text": {"type": "plain_text", "text": "Approve"}},
        {"type": "button", "action_id": edit, "value": value, "text": {"type": "plain_text", "text": "Edit"}},
        {"type": "button", "action_id": reject, "style": "danger", "value": value,
         "text": {"type": "plain_text", "text": "Reject"}},
    ]}

#: Slack sends Retry-After with every 429; this is only for a proxy that strips it.
DEFAULT_RETRY_AFTER = 30.0
TIMEOUT_SECONDS = 20

#: Our operation names are Slack's method names; WebClient spells them with "_".
METHODS = {
    "chat.postMessage": "chat_postMessage",
    "chat.update": "chat_update",
    "chat.postEphemeral": "chat_postEphemeral",
    "views.open": "views_open",
}
#: Slack answers these with HTTP 200 and ok=false, yet a retry later can succeed.
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}

Blocks = Sequence[dict[str, Any] | Block]


class Card(Protocol):
    """A row a Slack card is about (a campaign, a draft): where its card was posted."""

    slack_channel: str | None
    slack_ts: str | None


def api_url(settings: Settings) -> str:
    """Slack's Web API root, or the one configured (GovSlack, a stand-in in tests)."""
    return settings.slack_api_url or WebClient.BASE_URL


class SlackConnector(Connector):
    vendor = "slack"

    def __init__(
        self, session: Session, account: Account, settings: Settings, *, base_url: str | None = None
    ) -> None:
        super().__init__(session, account, settings)
        self._base_url = base_url

    @classmethod
    def configured(cls, account: Account, settings: Settings) -> bool:
        """A classmethod so the registry can tell sandboxed vendors without a session
        (an installed workspace is found through the session the account came from)."""
        return bool(bot_token(object_session(account), account, settings))

    def has_credentials(self) -> bool:
        return bool(self._token)

    @cached_property
    def _token(self) -> str | None:
        return bot_token(self.session, self.account, self.settings)

    def post_message(
        self,
        *,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
        idempotency_key: str | None = None,
    ) -> CallResult:
        """Post to a channel; ``text`` is also the notification and screen-reader text
        when ``blocks`` are given, so it should say the same thing."""
        payload = _payload(channel=channel, text=text, blocks=_block_dicts(blocks), thread_ts=thread_ts)
        return self.call("chat.postMessage", payload, idempotency_key=idempotency_key)

    def update_message(
        self,
        *,
        channel: str,
        ts: str,
        text: str,
        blocks: Blocks | None = None,
        idempotency_key: str | None = None,
    ) -> CallResult:
        """Replace a message, e.g. an approval request once someone decided."""
        payload = _payload(channel=channel, ts=ts, text=text, blocks=_block_dicts(blocks))
        return self.call("chat.update", payload, idempotency_key=idempotency_key)

    def post_card(self, card: Card, *, channel: str, text: str, blocks: Blocks, idempotency_key: str) -> None:
        """Post a card a person decides on (an approval, a review) and remember where it
        is on ``card``, so the decision can replace it later (:meth:`update_card`)."""
        result = self.post_message(channel=channel, text=text, blocks=blocks, idempotency_key=idempotency_key)
        card.slack_channel = result.response.get("channel") or channel
        card.slack_ts = result.response.get("ts")

    def update_card(self, card: Card, *, text: str, blocks: Blocks, key: str) -> None:
        """Replace the posted card, once per content: the key carries a digest of the
        blocks, so the same update retried is one call and a changed card is another."""
        if not (card.slack_channel and card.slack_ts):
            return
        digest = hashlib.sha256(json.dumps(_block_dicts(blocks), sort_keys=True).encode()).hexdigest()[:16]
        self.update_message(channel=card.slack_channel, ts=card.slack_ts, text=text, blocks=blocks,
                            idempotency_key=f"{key}:{digest}")

    def post_ephemeral(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
        idempotency_key: str | None = None,
    ) -> CallResult:
        """Show a message to one ``user`` in ``channel``; Slack does not keep it, so
        there is nothing to update later."""
        payload = _payload(channel=channel, user=user, text=text, blocks=_block_dicts(blocks),
                           thread_ts=thread_ts)
        return self.call("chat.postEphemeral", payload, idempotency_key=idempotency_key)

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        # Slack's ts is "<unix seconds>.<6 digits>"; the digits here name the outbox row.
        ts = f"{int(call.created_at.timestamp())}.{call.id:06d}"
        return {"ok": True, "channel": call.payload.get("channel"), "ts": ts}

    @property
    def base_url(self) -> str:
        url = self._base_url or api_url(self.settings)
        return url if url.endswith("/") else url + "/"

    @cached_property
    def client(self) -> WebClient:
        """Built on first live use only: the sandbox never needs credentials."""
        return WebClient(
            token=self._token,
            base_url=self.base_url,
            timeout=TIMEOUT_SECONDS,
            # No retry handlers: the rate-limit one would sleep through Retry-After and
            # the connection one back off inside the worker; Celery retries instead.
            retry_handlers=[],
        )

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation not in METHODS:
            raise ValueError(f"SlackConnector cannot perform {operation!r}.")
        try:
            response = getattr(self.client, METHODS[operation])(**payload)
        except SlackApiError as exc:
            raise self._translate(exc, operation) from exc
        except (URLError, OSError) as exc:
            raise VendorUnavailable(f"Slack could not be reached ({exc}); the call will be retried.") from exc
        data = response.data if isinstance(response.data, dict) else {}
        # One shape for live and sandbox; postEphemeral answers with message_ts.
        return {"ok": True, "channel": data.get("channel", payload.get("channel")),
                "ts": data.get("ts") or data.get("message_ts")}

    def _translate(self, exc: SlackApiError, operation: str) -> Exception:
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if status == 429 or error == "ratelimited":
            headers = {key.lower(): value for key, value in exc.response.headers.items()}
            wait = retry_after_seconds(_first(headers.get("retry-after")), DEFAULT_RETRY_AFTER)
            return VendorRateLimited(self.vendor, wait)
        if status >= 500 or error in TRANSIENT_ERRORS:
            return VendorUnavailable(f"Slack failed on {operation} (HTTP {status}, {error}); the call will be retried.")
        if error in AUTH_ERRORS:
            return VendorError(
                f"Slack refused the bot token ({error}): reinstall the app or update "
                f"{secret_variable(self.account, 'slack_bot_token')}."
            )
        if error in ("not_in_channel", "channel_not_found"):
            return VendorError(
                f"Slack refused {operation} ({error}): check the channel id, and invite the bot to the "
                "channel with /invite."
            )
        return VendorError(f"Slack refused {operation} (HTTP {status}): {error}")


def bot_token(session: Session | None, account: Account, settings: Settings) -> str | None:
    """The configured token (slack_bot_token secret, SLACK_BOT_TOKEN for the default
    account) first; else the token the account's workspace got by installing the app
    through OAuth (multi-workspace); None means the sandbox records the calls."""
    configured = secret(account, "slack_bot_token", settings)
    if configured or session is None:
        return configured

    return bot_token_for_account(session, account)


def _payload(**arguments: Any) -> dict[str, Any]:
    # WebClient drops None values before posting (Slack rejects many nulls); so do we.
    return {key: value for key, value in arguments.items() if value is not None}


def _block_dicts(blocks: Blocks | None) -> list[dict[str, Any]] | None:
    """Block objects as the dicts WebClient would send, so the outbox stores JSON."""
    if blocks is None:
        return None
    return [block.to_dict() if isinstance(block, Block) else dict(block) for block in blocks]


def _first(value: Any) -> str | None:
    """A header value; slack_sdk keeps some headers as lists."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


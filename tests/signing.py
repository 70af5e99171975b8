"""Requests signed as the vendors sign them, with the vendors' own code where it exists:
twilio's RequestValidator, slack_sdk's SignatureVerifier, and Zendesk's documented
scheme (Zendesk ships no Python SDK for it)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

FIXTURES = Path(__file__).parent / "webhooks"
#: Where Twilio posts each fixture, by the start of its name (first match; the rest go
#: to the messages URL).
TWILIO_PATHS = {"voice_transcription": "/webhooks/twilio/voice/transcription", "status": "/webhooks/twilio/status",
                "voice_speech": "/webhooks/twilio/voice/gather?turn=1", "voice_status": "/webhooks/twilio/voice/status",
                "voice": "/webhooks/twilio/voice"}
SLACK_INTERACTIONS = frozenset({"block_actions", "view_submission", "view_closed", "shortcut", "message_action"})


def fixture(vendor: str, name: str) -> Any:
    path = FIXTURES / vendor / "fixtures" / name
    return json.loads(path.read_text())


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


class VendorClient:
    def __init__(self, client: FlaskClient, *, twilio_token: str, zendesk_secret: str,
                 slack_secret: str, public_url: str) -> None:
        self.client = client
        self.twilio_token = twilio_token
        self.zendesk_secret = zendesk_secret
        self.slack_secret = slack_secret
        self.public_url = public_url
        self.visitor_token: str | None = None

    def twilio(self, path: str, params: dict[str, str], *, token: str | None = None,
               signature: str | None = None, headers: dict[str, str] | None = None) -> TestResponse:
        url = self.public_url + path
        if signature is None:
            signature = RequestValidator(token or self.twilio_token).compute_signature(url, params)
        return self.client.post(
            path, data=urlencode(params), content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature, **(headers or {})},
        )

    def zendesk(self, payload: dict[str, Any] | bytes, *, secret: str | None = None,
                timestamp: str | None = None, headers: dict[str, str] | None = None) -> TestResponse:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        timestamp = timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self.client.post("/webhooks/zendesk", data=body, content_type="application/json", headers={
            "X-Zendesk-Webhook-Signature": zendesk_signature(secret or self.zendesk_secret, timestamp, body),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp, **(headers or {}),
        })

    def slack(self, body: str, *, content_type: str, timestamp: int | None = None,
              secret: str | None = None, headers: dict[str, str] | None = None) -> TestResponse:
        timestamp = timestamp if timestamp is not None else int(time.time())
        signature = SignatureVerifier(secret or self.slack_secret).generate_signature(
            timestamp=str(timestamp), body=body)
        return self.client.post("/slack/events", data=body.encode(), content_type=content_type, headers={
            "X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature, **(headers or {}),
        })

    def slack_event(self, payload: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.slack(json.dumps(payload), content_type="application/json", **kwargs)

    def slack_interaction(self, payload: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.slack(urlencode({"payload": json.dumps(payload)}),
                          content_type="application/x-www-form-urlencoded", **kwargs)

    def deliver(self, vendor: str, name: str, **changes: Any) -> TestResponse:
        """Post fixture ``name`` of ``vendor`` the way that vendor delivers it, signed:
        ``vendor.deliver("zendesk", "ticket_status_changed.json")``. ``changes`` replace
        top-level fields. Twilio fixtures named ``status_*`` go to the status callback
        URL, ``voice_*`` ones to the voice URLs (``voice_speech_*`` as the first answer to
        the greeting, turn 1; ``voice_status_*`` to the call status callback,
        ``voice_transcription_*`` to the live transcription's callback), others to
        the messages URL; web chat fixtures are a widget's message (see :meth:`webchat`);
        Slack fixtures with a ``command`` are slash
        commands (form fields), those with a ``type`` of an interaction are posted as
        Slack posts interactivity (a ``payload`` form field), the rest as Events API JSON."""
        payload = {**fixture(vendor, name), **changes}
        if vendor == "zendesk":
            return self.zendesk(payload)
        if vendor == "twilio":
            path = next((url for start, url in TWILIO_PATHS.items() if name.startswith(start)),
                        "/webhooks/twilio/messages")
            return self.twilio(path, payload)
        if vendor == "slack":
            if "command" in payload:
                return self.slack(urlencode(payload), content_type="application/x-www-form-urlencoded")
            if payload.get("type") in SLACK_INTERACTIONS:
                return self.slack_interaction(payload)
            return self.slack_event(payload)
        if vendor == "webchat":
            return self.webchat(payload)
        raise ValueError(f"no fixtures for vendor {vendor!r}")

    def webchat(self, payload: dict[str, Any], *, slug: str = "default") -> TestResponse:
        """A message posted as the web chat widget posts it: with the visitor token of
        a session this client started (the same visitor on every call, so a repeated
        client_id is a repeat, as in a browser)."""
        if self.visitor_token is None:
            started = self.client.post(f"/chat/{slug}/session", json={"token": None})
            assert started.status_code == 200, started.get_data(as_text=True)
            self.visitor_token = started.get_json()["token"]
        return self.client.post(f"/chat/{slug}/messages", json=payload,
                                headers={"Authorization": f"Bearer {self.visitor_token}"})



def slack_button_click(action_id: str, value: str, *, block_id: str, user: str, channel: str,
                       channel_name: str) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button on a message we posted
    (sign and send it with :meth:`VendorClient.slack_interaction` or its kin)."""
    return {
        "type": "block_actions", "api_app_id": "A0001", "token": "legacy",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "team": {"id": "T0001", "domain": "acme"},
        "container": {"type": "message", "message_ts": "1763781000.000200", "channel_id": channel},
        "channel": {"id": channel, "name": channel_name},
        "trigger_id": f"{uuid.uuid4().int % 10**11}.738474920.{uuid.uuid4().hex[:24]}",
        "response_url": "https://hooks.slack.com/actions/T0001/0002/XXXX",
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value,
                     "type": "button", "action_ts": "1763781005.000300",
                     "text": {"type": "plain_text", "text": action_id.split(":")[1].title()}}],
    }

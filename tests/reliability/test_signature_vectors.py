"""Each vendor's signature scheme against published known-answer vectors, then every
way a forged, altered or replayed delivery can look: always a 4xx, never a 500, and
nothing stored (no inbox event, message, outbound call or audit entry).

Vectors: twilio-python's own validator tests (tests/unit/test_request_validator.py),
Slack's worked example in "Verifying requests from Slack", and a Zendesk vector
computed with ``openssl dgst -sha256 -hmac`` (independent of Python's hmac) with the
fixed secret Zendesk's webhook builder uses for test sends.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from flask import Flask
from slack_sdk.signature import Clock, SignatureVerifier
from twilio.request_validator import RequestValidator

from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account
from switchboard.vendors.twilio.verify import verify as verify_twilio
from switchboard.vendors.zendesk.verify import sign as zendesk_sign
from switchboard.vendors.zendesk.verify import verify as verify_zendesk

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import fixture, zendesk_signature
from .conftest import stored

# --- twilio-python's vectors ------------------------------------------------------------
TWILIO_VECTOR_TOKEN = "12345"
TWILIO_VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                        "To": "+18005551212", "Caller": "+14158675309"}
TWILIO_VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
TWILIO_VECTOR_SIGNATURE_PORT_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="

# --- Slack's documented example -----------------------------------------------------------
SLACK_DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_DOC_TIMESTAMP = "1531420618"
SLACK_DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SLACK_DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# --- Zendesk (openssl-computed) -----------------------------------------------------------
ZENDESK_VECTOR_TIMESTAMP = "2026-01-01T00:00:00Z"
ZENDESK_VECTOR_BODY = b'{"type":"zen:event-type:ticket.created","id":"01HX"}'
ZENDESK_VECTOR_SIGNATURE = "4vrRP1s1zi/vip6pAB4hBCQh6tJKuA92ST5P1Kpnu/c="


def _vector_account(**secrets: str) -> Account:
    return Account(slug="vectors", name="Vectors", secrets=secrets)


#: Public URLs with and without a port, and the URLs a signature may have been made for.
PORT_PUBLIC_URLS = ("https://mycompany.com", "https://mycompany.com:443", "http://localhost:5000",
                    "http://localhost:80")
PORT_SIGNED_URLS = ("https://mycompany.com", "https://mycompany.com:443", "http://mycompany.com",
                    "http://localhost:5000", "http://localhost", "http://localhost:80", "http://localhost:5001")


@pytest.mark.parametrize("public_url", PORT_PUBLIC_URLS)
def test_twilio_signatures_for_the_url_with_or_without_its_port_are_what_request_validator_accepts(
        tmp_path, public_url: str) -> None:  # type: ignore[no-untyped-def]
    """verify() computes one HMAC where RequestValidator.validate computes two (the URL
    with its port and without), trying the configured form first: it must accept
    exactly the signatures validate accepts, for either algorithm, whichever URL Twilio
    signed: the port's form, the bare form, or neither."""
    from werkzeug.datastructures import MultiDict

    from switchboard.app import create_app
    from switchboard.core.errors import BadSignature

    settings = load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), "SWITCHBOARD_PUBLIC_URL": public_url,
                              "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}"})
    app = create_app(settings, config={"TESTING": True})
    account = _vector_account(twilio_auth_token=TWILIO_VECTOR_TOKEN)
    validator = RequestValidator(TWILIO_VECTOR_TOKEN)
    form = MultiDict(TWILIO_VECTOR_PARAMS)
    path = "/myapp.php?foo=1&bar=2"
    accepted = 0
    for signed_url in PORT_SIGNED_URLS:
        for algorithm in ("HMAC_SHA1", "HMAC_SHA256"):
            signature = validator.compute_signature(signed_url + path, TWILIO_VECTOR_PARAMS, algorithm)
            expected = validator.validate(public_url + path, form, signature, algorithm=algorithm)
            headers = {"X-Twilio-Signature": signature,
                       "X-Twilio-Webhooks-Signature-Settings": f"key=webhooks_sharedkey_1,algorithm={algorithm}"}
            with app.test_request_context(path, method="POST", headers=headers):
                from flask import request

                try:
                    verified = verify_twilio(request, form, [account], settings) is account
                except BadSignature:
                    verified = False
            assert verified == expected, (signed_url, algorithm)
            accepted += verified
    assert accepted == 4  # the configured URL's two forms, with each algorithm


def test_twilio_published_vector_verifies_through_our_verifier(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Our verify() rebuilds the URL from SWITCHBOARD_PUBLIC_URL and hands it, with every
    form parameter, to RequestValidator: twilio-python's vector must pass through it."""
    from werkzeug.datastructures import MultiDict

    from switchboard.app import create_app

    settings = load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), "SWITCHBOARD_PUBLIC_URL": "https://mycompany.com",
                              "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}"})
    app = create_app(settings, config={"TESTING": True})
    account = _vector_account(twilio_auth_token=TWILIO_VECTOR_TOKEN)
    form = MultiDict(TWILIO_VECTOR_PARAMS)
    for signature in (TWILIO_VECTOR_SIGNATURE, TWILIO_VECTOR_SIGNATURE_PORT_443):
        with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST",
                                      headers={"X-Twilio-Signature": signature}):
            from flask import request

            assert verify_twilio(request, form, [account], settings) is account
    with app.test_request_context("/myapp.php?foo=1&bar=2", method="POST",
                                  headers={"X-Twilio-Signature": TWILIO_VECTOR_SIGNATURE}):
        from flask import request

        from switchboard.core.errors import BadSignature

        with pytest.raises(BadSignature):
            verify_twilio(request, MultiDict({**TWILIO_VECTOR_PARAMS, "Digits": "1235"}), [account], settings)
    assert RequestValidator(TWILIO_VECTOR_TOKEN).compute_signature(TWILIO_VECTOR_URL, TWILIO_VECTOR_PARAMS) \
        == TWILIO_VECTOR_SIGNATURE


def test_slack_documented_example_is_what_bolts_verifier_computes() -> None:
    verifier = SignatureVerifier(SLACK_DOC_SECRET, clock=_FrozenClock(int(SLACK_DOC_TIMESTAMP) + 10))
    assert verifier.generate_signature(timestamp=SLACK_DOC_TIMESTAMP, body=SLACK_DOC_BODY) == SLACK_DOC_SIGNATURE
    assert verifier.is_valid(SLACK_DOC_BODY, SLACK_DOC_TIMESTAMP, SLACK_DOC_SIGNATURE)
    assert not verifier.is_valid(SLACK_DOC_BODY.replace("foobar", "foobaz"), SLACK_DOC_TIMESTAMP,
                                 SLACK_DOC_SIGNATURE)


def test_slack_documented_example_is_accepted_by_our_endpoint(module_app: Flask,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack's own example request, byte for byte, through /slack/events. Its timestamp
    is from 2018, so the clock every SignatureVerifier reads (slack_sdk's Clock, which
    Bolt's request verification and our shape screen both build with) is frozen at the
    example's time: the vendor's clock, not any function of ours. The example's secret
    is the one this suite configures."""
    assert SLACK_DOC_SECRET == SLACK_SECRET
    before = stored(module_app)["inbox_events"]
    monkeypatch.setattr(Clock, "now", lambda self: int(SLACK_DOC_TIMESTAMP) + 10)
    response = module_app.test_client().post(
        "/slack/events", data=SLACK_DOC_BODY.encode(), content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": SLACK_DOC_SIGNATURE})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored(module_app)["inbox_events"] == before + 1  # the /webhook-collect command, recorded
    monkeypatch.undo()  # and with the real clock, the same bytes are a replay
    response = module_app.test_client().post(
        "/slack/events", data=SLACK_DOC_BODY.encode(), content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": SLACK_DOC_SIGNATURE})
    assert response.status_code == 401


def test_zendesk_vector_matches_our_signer_and_verifier(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert zendesk_sign(ZENDESK_SECRET, ZENDESK_VECTOR_TIMESTAMP, ZENDESK_VECTOR_BODY) == ZENDESK_VECTOR_SIGNATURE
    settings = load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path)})
    account = _vector_account(zendesk_webhook_secret=ZENDESK_SECRET)
    headers = {"X-Zendesk-Webhook-Signature": ZENDESK_VECTOR_SIGNATURE,
               "X-Zendesk-Webhook-Signature-Timestamp": ZENDESK_VECTOR_TIMESTAMP}
    at = datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
    assert verify_zendesk(headers, ZENDESK_VECTOR_BODY, [account], settings, now=at) is account
    from switchboard.core.errors import BadSignature

    with pytest.raises(BadSignature, match="away from now"):  # the same delivery replayed 6 minutes on
        verify_zendesk(headers, ZENDESK_VECTOR_BODY, [account], settings, now=at + timedelta(minutes=4))


class _FrozenClock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


# --- the hostile matrix, against the running app ------------------------------------------

Sender = Callable[[Flask], "object"]


def _twilio_params(path: str) -> dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    if path.endswith("/status"):
        return {**fixture("twilio", "status_delivered.json"), "MessageSid": sid, "SmsSid": sid}
    return {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid, "SmsSid": sid}


def _twilio_sign(params: dict[str, str], path: str, token: str = TWILIO_TOKEN, url: str | None = None) -> str:
    return RequestValidator(token).compute_signature(url or PUBLIC_URL + path, params)


def _post_twilio(app: Flask, path: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return app.test_client().post(path, data=body, content_type="application/x-www-form-urlencoded",
                                  headers=headers)


def _twilio_case(mutation: str, path: str):  # type: ignore[no-untyped-def]
    params = _twilio_params(path)
    good = _twilio_sign(params, path)
    body = urlencode(params).encode()
    headers = {"X-Twilio-Signature": good}
    if mutation == "one byte of the body changed":
        body = body.replace(b"AccountSid=AC1", b"AccountSid=AC2", 1) if path.endswith("status") \
            else urlencode({**params, "Body": params["Body"].replace("order", "orber")}).encode()
    elif mutation == "a parameter added after signing":
        body = urlencode({**params, "Extra": "1"}).encode()
    elif mutation == "missing header":
        headers = {}
    elif mutation == "empty signature":
        headers = {"X-Twilio-Signature": ""}
    elif mutation == "garbage signature":
        headers = {"X-Twilio-Signature": "garbage"}
    elif mutation == "truncated signature":
        headers = {"X-Twilio-Signature": good[:12]}
    elif mutation == "not base64":
        headers = {"X-Twilio-Signature": "!!!!****~~~~" * 3}
    elif mutation == "signed with another token":
        headers = {"X-Twilio-Signature": _twilio_sign(params, path, token="f" * 32)}
    elif mutation == "signed for another URL":
        headers = {"X-Twilio-Signature": _twilio_sign(params, path, url="https://evil.example.com" + path)}
    elif mutation == "signed for http instead of https":
        headers = {"X-Twilio-Signature": _twilio_sign(params, path, url=PUBLIC_URL.replace("https", "http") + path)}
    elif mutation == "sha256 settings header with a sha1 signature":
        headers = {"X-Twilio-Signature": good,
                   "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_x,algorithm=HMAC_SHA256"}
    elif mutation == "NUL bytes in the signature":
        headers = {"X-Twilio-Signature": good[:-2] + "\x00\x00"}
    elif mutation == "Latin-1 letters in the signature":
        headers = {"X-Twilio-Signature": good[:-2] + "\u00e9\u00e9"}
    elif mutation == "an algorithm the library does not know":
        headers = {"X-Twilio-Signature": good,
                   "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_x,algorithm=HMAC_MD5"}
    else:
        raise AssertionError(mutation)
    return lambda app: _post_twilio(app, path, body, headers)


TWILIO_MUTATIONS = [
    "one byte of the body changed", "a parameter added after signing", "missing header", "empty signature",
    "garbage signature", "truncated signature", "not base64", "signed with another token",
    "signed for another URL", "signed for http instead of https", "sha256 settings header with a sha1 signature",
    "NUL bytes in the signature", "Latin-1 letters in the signature", "an algorithm the library does not know",
]


def _zendesk_payload() -> bytes:
    return json.dumps({**fixture("zendesk", "ticket_created.json"), "id": str(uuid.uuid4())}).encode()


def _now_iso(shift: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zendesk_case(mutation: str):  # type: ignore[no-untyped-def]
    body, stamp = _zendesk_payload(), _now_iso()
    sig = zendesk_signature(ZENDESK_SECRET, stamp, body)
    headers = {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    if mutation == "one byte of the body changed":
        body = body.replace(b"Where is my order", b"Where is my ordes", 1)
    elif mutation == "re-serialised JSON":
        body = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
    elif mutation == "body signed as body + timestamp (old doc order)":
        headers["X-Zendesk-Webhook-Signature"] = base64.b64encode(
            hmac.new(ZENDESK_SECRET.encode(), body + stamp.encode(), hashlib.sha256).digest()).decode()
    elif mutation == "missing signature header":
        del headers["X-Zendesk-Webhook-Signature"]
    elif mutation == "missing timestamp header":
        del headers["X-Zendesk-Webhook-Signature-Timestamp"]
    elif mutation == "garbage signature":
        headers["X-Zendesk-Webhook-Signature"] = "garbage"
    elif mutation == "truncated signature":
        headers["X-Zendesk-Webhook-Signature"] = sig[:16]
    elif mutation == "not base64":
        headers["X-Zendesk-Webhook-Signature"] = "%%%not*base64%%%"
    elif mutation == "valid base64 of the wrong length":
        headers["X-Zendesk-Webhook-Signature"] = base64.b64encode(b"\x00" * 7).decode()
    elif mutation == "hex instead of base64":
        headers["X-Zendesk-Webhook-Signature"] = hmac.new(ZENDESK_SECRET.encode(), stamp.encode() + body,
                                                          hashlib.sha256).hexdigest()
    elif mutation in ("timestamp 6 minutes in the past", "timestamp 6 minutes in the future",
                      "timestamp a day in the past"):
        shift = {"timestamp 6 minutes in the past": timedelta(minutes=-6),
                 "timestamp 6 minutes in the future": timedelta(minutes=6),
                 "timestamp a day in the past": timedelta(days=-1)}[mutation]
        stamp = _now_iso(shift)
        headers = {"X-Zendesk-Webhook-Signature": zendesk_signature(ZENDESK_SECRET, stamp, body),
                   "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    elif mutation == "timestamp replaced after signing":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = _now_iso(timedelta(seconds=-30))
    elif mutation == "timestamp not a time":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = "yesterday"
    elif mutation == "timestamp absurdly far":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = "9999-12-31T23:59:59Z"
    elif mutation == "signed with another secret":
        headers["X-Zendesk-Webhook-Signature"] = zendesk_signature("another-secret", stamp, body)
    else:
        raise AssertionError(mutation)
    return lambda app: app.test_client().post("/webhooks/zendesk", data=body, content_type="application/json",
                                              headers=headers)


ZENDESK_MUTATIONS = [
    "one byte of the body changed", "re-serialised JSON", "body signed as body + timestamp (old doc order)",
    "missing signature header", "missing timestamp header", "garbage signature", "truncated signature",
    "not base64", "valid base64 of the wrong length", "hex instead of base64", "timestamp 6 minutes in the past",
    "timestamp 6 minutes in the future", "timestamp a day in the past", "timestamp replaced after signing",
    "timestamp not a time", "timestamp absurdly far", "signed with another secret",
]


def _slack_payload() -> str:
    return json.dumps({**fixture("slack", "event_app_mention.json"), "event_id": "Ev" + uuid.uuid4().hex[:10]})


def _slack_case(mutation: str):  # type: ignore[no-untyped-def]
    body, stamp = _slack_payload(), str(int(time.time()))
    content_type = "application/json"
    sig = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}
    if mutation == "one byte of the body changed":
        body = body.replace("escalations", "escalationz", 1)
    elif mutation == "re-serialised JSON":
        body = json.dumps(json.loads(body), indent=2, sort_keys=True)
    elif mutation == "missing signature header":
        del headers["X-Slack-Signature"]
    elif mutation == "missing timestamp header":
        del headers["X-Slack-Request-Timestamp"]
    elif mutation == "garbage signature":
        headers["X-Slack-Signature"] = "garbage"
    elif mutation == "truncated signature":
        headers["X-Slack-Signature"] = sig[:20]
    elif mutation == "not hex":
        headers["X-Slack-Signature"] = "v0=" + "zz" * 32
    elif mutation == "another version prefix":
        headers["X-Slack-Signature"] = "v1=" + sig[3:]
    elif mutation in ("timestamp 301 s in the past", "timestamp 301 s in the future"):
        # Rounded away from now: slack_sdk compares against the float clock, so a
        # future stamp rounded down came back inside the 300 s window whenever the
        # request crossed into the next second (a flake in a slow CI run).
        stamp = str(int(time.time()) - 301 if "past" in mutation else math.ceil(time.time()) + 301)
        headers = {"X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)}
    elif mutation == "timestamp not a number":
        headers["X-Slack-Request-Timestamp"] = "now"
    elif mutation == "timestamp replaced after signing":
        headers["X-Slack-Request-Timestamp"] = str(int(stamp) - 10)
    elif mutation == "signed with another secret":
        headers["X-Slack-Signature"] = SignatureVerifier("0" * 32).generate_signature(timestamp=stamp, body=body)
    elif mutation == "Slack's documented example, replayed years later":
        body, content_type = SLACK_DOC_BODY, "application/x-www-form-urlencoded"
        headers = {"X-Slack-Request-Timestamp": SLACK_DOC_TIMESTAMP, "X-Slack-Signature": SLACK_DOC_SIGNATURE}
    else:
        raise AssertionError(mutation)
    return lambda app: app.test_client().post("/slack/events", data=body.encode(), content_type=content_type,
                                              headers=headers)


SLACK_MUTATIONS = [
    "one byte of the body changed", "re-serialised JSON", "missing signature header", "missing timestamp header",
    "garbage signature", "truncated signature", "not hex", "another version prefix", "timestamp 301 s in the past",
    "timestamp 301 s in the future", "timestamp not a number", "timestamp replaced after signing",
    "signed with another secret", "Slack's documented example, replayed years later",
]

CASES = (
    [pytest.param(lambda m=m: _twilio_case(m, "/webhooks/twilio/messages"), id=f"twilio-messages: {m}")
     for m in TWILIO_MUTATIONS]
    + [pytest.param(lambda m=m: _twilio_case(m, "/webhooks/twilio/status"), id=f"twilio-status: {m}")
       for m in TWILIO_MUTATIONS]
    + [pytest.param(lambda m=m: _zendesk_case(m), id=f"zendesk: {m}") for m in ZENDESK_MUTATIONS]
    + [pytest.param(lambda m=m: _slack_case(m), id=f"slack: {m}") for m in SLACK_MUTATIONS]
)


@pytest.mark.parametrize("make_case", CASES)
def test_forged_altered_or_replayed_deliveries_are_refused_and_nothing_is_stored(
    module_app: Flask, make_case: Callable[[], Sender]
) -> None:
    before = stored(module_app)
    response = make_case()(module_app)
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert stored(module_app) == before


@pytest.mark.parametrize("vendor", ["twilio-messages", "twilio-status", "zendesk", "slack"])
def test_the_unaltered_delivery_is_accepted(module_app: Flask, vendor: str) -> None:
    """The control for the matrix above: the same builders, unmutated, are accepted,
    so each refusal is down to its one mutation."""
    before = stored(module_app)["inbox_events"]
    if vendor.startswith("twilio"):
        path = "/webhooks/twilio/" + vendor.split("-")[1]
        params = _twilio_params(path)
        response = _post_twilio(module_app, path, urlencode(params).encode(),
                                {"X-Twilio-Signature": _twilio_sign(params, path)})
    elif vendor == "zendesk":
        body, stamp = _zendesk_payload(), _now_iso()
        response = module_app.test_client().post("/webhooks/zendesk", data=body, content_type="application/json",
                                                 headers={"X-Zendesk-Webhook-Signature": zendesk_signature(
                                                     ZENDESK_SECRET, stamp, body),
                                                     "X-Zendesk-Webhook-Signature-Timestamp": stamp})
    else:
        body, stamp = _slack_payload(), str(int(time.time()))
        response = module_app.test_client().post("/slack/events", data=body.encode(), content_type="application/json",
                                                 headers={"X-Slack-Request-Timestamp": stamp,
                                                          "X-Slack-Signature": SignatureVerifier(SLACK_SECRET)
                                                          .generate_signature(timestamp=stamp, body=body)})
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert stored(module_app)["inbox_events"] == before + 1

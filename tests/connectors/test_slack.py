from __future__ import annotations

import socket
import threading
from dataclasses import replace
from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector
from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account
from switchboard.vendors.outbound import VendorError, VendorRateLimited, VendorUnavailable

from .conftest import OUTBOX_KEYS, FakeSlackApi, outbox_rows

BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Refund request* from Ada"}},
]


def connector(session: Session, account: Account, settings: Settings, slack_api: FakeSlackApi) -> SlackConnector:
    return SlackConnector(session, account, settings, base_url=slack_api.url)


def test_sandbox_records_the_json_body_and_sends_nothing(
    session: Session, sandbox_account: Account, sandbox_settings: Settings, slack_api: FakeSlackApi
) -> None:
    result = connector(session, sandbox_account, sandbox_settings, slack_api).post_message(
        channel="C0AGENTS", text="Refund request from Ada", blocks=BLOCKS, thread_ts="1700000000.000100")

    assert slack_api.requests == []
    [row] = outbox_rows(session)
    recorded = outbox.as_json(row)
    assert set(recorded) == OUTBOX_KEYS
    assert (recorded["vendor"], recorded["operation"], recorded["status"]) == ("slack", "chat.postMessage", "sandboxed")
    assert recorded["payload"] == {"channel": "C0AGENTS", "text": "Refund request from Ada", "blocks": BLOCKS,
                                   "thread_ts": "1700000000.000100"}
    assert result.response == {"ok": True, "channel": "C0AGENTS",
                               "ts": f"{int(row.created_at.timestamp())}.{row.id:06d}"}


def test_live_post_message_sends_json_with_the_bot_token(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    result = connector(session, live_account, live_settings, slack_api).post_message(
        channel="C0AGENTS", text="Refund request from Ada", blocks=BLOCKS)

    [request] = slack_api.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-test-token"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json == {"channel": "C0AGENTS", "text": "Refund request from Ada", "blocks": BLOCKS}
    assert request.json == result.call.payload
    assert result.response == {"ok": True, "channel": "C0AGENTS", "ts": "1700000000.000100"}
    assert outbox_rows(session)[0].status == "sent"


def test_block_objects_are_recorded_and_sent_as_dicts(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    blocks = [SectionBlock(text="Approve the refund?"),
              ActionsBlock(elements=[ButtonElement(text="Approve", action_id="approve", value="conv-9")])]

    result = connector(session, live_account, live_settings, slack_api).post_message(
        channel="C0AGENTS", text="Approve the refund?", blocks=blocks)

    sent_blocks = slack_api.requests[0].json["blocks"]
    assert sent_blocks == result.call.payload["blocks"] == [b.to_dict() for b in blocks]
    assert sent_blocks[1]["elements"][0]["action_id"] == "approve"


def test_update_message(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    result = connector(session, live_account, live_settings, slack_api).update_message(
        channel="C0AGENTS", ts="1700000000.000100", text="Approved by @sam", blocks=BLOCKS)

    [request] = slack_api.requests
    assert request.path == "/api/chat.update"
    assert request.json == {"channel": "C0AGENTS", "ts": "1700000000.000100", "text": "Approved by @sam",
                            "blocks": BLOCKS}
    assert result.call.operation == "chat.update"
    assert result.response["ts"] == "1700000000.000100"


def test_post_ephemeral_answers_in_the_same_shape(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    result = connector(session, live_account, live_settings, slack_api).post_ephemeral(
        channel="C0AGENTS", user="U0SAM", text="Only you can see this")

    [request] = slack_api.requests
    assert request.path == "/api/chat.postEphemeral"
    assert request.json == {"channel": "C0AGENTS", "user": "U0SAM", "text": "Only you can see this"}
    assert result.response == {"ok": True, "channel": "C0AGENTS", "ts": "1700000000.000200"}


def test_idempotency_key_makes_no_second_request(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    slack = connector(session, live_account, live_settings, slack_api)

    first = slack.post_message(channel="C0AGENTS", text="Hi", idempotency_key="assist-conv-9")
    second = slack.post_message(channel="C0AGENTS", text="Hi", idempotency_key="assist-conv-9")

    assert len(slack_api.requests) == 1
    assert second.repeated and second.response == first.response


def test_rate_limit_raises_with_retry_after_instead_of_sleeping(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    # Only the first answer is a 429: a client that slept and retried would succeed.
    slack_api.reply("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})

    with pytest.raises(VendorRateLimited) as caught:
        connector(session, live_account, live_settings, slack_api).post_message(channel="C0AGENTS", text="Hi")

    assert caught.value.retry_after == 3
    assert caught.value.vendor == "slack"
    assert len(slack_api.requests) == 1  # no retry inside slack_sdk
    assert outbox_rows(session)[0].status == "pending"


def test_bad_token_names_the_variable(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    slack_api.reply("chat.postMessage", 200, {"ok": False, "error": "invalid_auth"})

    with pytest.raises(VendorError, match="SLACK_BOT_TOKEN"):
        connector(session, live_account, live_settings, slack_api).post_message(channel="C0AGENTS", text="Hi")

    assert outbox_rows(session)[0].status == "failed"


def test_other_slack_errors_carry_the_error_code(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    slack_api.reply("chat.update", 200, {"ok": False, "error": "message_not_found"})

    with pytest.raises(VendorError, match="message_not_found") as caught:
        connector(session, live_account, live_settings, slack_api).update_message(
            channel="C0AGENTS", ts="1.2", text="x")

    assert type(caught.value) is VendorError


@pytest.mark.parametrize("status, body", [
    (503, {"ok": False, "error": "service_unavailable"}),
    (200, {"ok": False, "error": "internal_error"}),
])
def test_transient_slack_failures_are_retryable(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi,
    status: int, body: dict[str, Any],
) -> None:
    slack_api.reply("chat.postMessage", status, body)

    with pytest.raises(VendorUnavailable) as caught:
        connector(session, live_account, live_settings, slack_api).post_message(channel="C0AGENTS", text="Hi")

    assert not isinstance(caught.value, VendorRateLimited)
    assert outbox_rows(session)[0].status == "pending"


def test_unreachable_slack_is_retryable(session: Session, live_account: Account, live_settings: Settings) -> None:
    with socket.socket() as listener:  # a port that was free a moment ago: nothing listens now
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    slack = SlackConnector(session, live_account, live_settings, base_url=f"http://127.0.0.1:{port}/api/")

    with pytest.raises(VendorUnavailable, match="could not be reached"):
        slack.post_message(channel="C0AGENTS", text="Hi")

    assert outbox_rows(session)[0].status == "pending"


def test_dropped_connection_is_not_retried_inside_the_worker(
    session: Session, live_account: Account, live_settings: Settings
) -> None:
    """slack_sdk's default handler would reconnect after a back-off; Celery retries."""
    accepted: list[int] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.02)
        stop = threading.Event()

        def hang_up() -> None:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                accepted.append(1)
                connection.recv(65536)
                connection.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        port = listener.getsockname()[1]
        slack = SlackConnector(session, live_account, live_settings, base_url=f"http://127.0.0.1:{port}/api/")
        try:
            with pytest.raises(VendorUnavailable):
                slack.post_message(channel="C0AGENTS", text="Hi")
        finally:
            stop.set()
            thread.join()

    assert len(accepted) == 1


def test_the_web_api_root_comes_from_the_settings(
    session: Session, live_account: Account, live_settings: Settings, slack_api: FakeSlackApi
) -> None:
    """SLACK_API_URL (GovSlack, a proxy) reaches the client without any Flask context:
    the worker and the CLI build it the same way as the web app."""
    settings = replace(live_settings, slack_api_url=slack_api.url.rstrip("/"))

    SlackConnector(session, live_account, settings).post_message(channel="C0AGENTS", text="Hi")

    assert [r.path for r in slack_api.requests] == ["/api/chat.postMessage"]

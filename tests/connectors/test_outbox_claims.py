"""One send per idempotency key, whoever else is trying: the outbox claim."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
from sqlalchemy import update
from sqlalchemy.orm import Session

from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import VendorError, VendorUnavailable
from switchboard.vendors.twilio.connector import TwilioConnector

MESSAGES = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"


@pytest.fixture
def session(session_on_each_database: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return session_on_each_database


def _url(settings: Settings) -> str:
    return MESSAGES.format(sid=settings.twilio_account_sid)


def test_an_attempt_in_flight_makes_a_second_caller_wait(session: Session, live_account: Account,
                                                        live_settings: Settings,
                                                        http: responses.RequestsMock) -> None:
    call, _ = outbox.record_call(session, account_id=live_account.id, vendor="twilio", operation="messages.create",
                                 payload={"to": "+14155550100", "from_": "+15005550006", "body": "hi"},
                                 idempotency_key="reply:1")
    assert outbox.claim_attempt(session, call)  # another worker is mid-call
    with pytest.raises(VendorUnavailable, match="another worker"):
        TwilioConnector(session, live_account, live_settings).send_message(
            to="+14155550100", body="hi", idempotency_key="reply:1")
    assert len(http.calls) == 0


def test_a_claim_left_by_a_killed_worker_expires(session: Session, live_account: Account, live_settings: Settings,
                                                 http: responses.RequestsMock) -> None:
    # Before sending again, the takeover asks Twilio whether the dead worker's message
    # exists (test_twilio_reconcile.py covers the answers); here Twilio has none.
    http.add(responses.GET, _url(live_settings), status=200, json={"messages": [], "next_page_uri": None})
    http.add(responses.POST, _url(live_settings), status=201,
             json={"sid": "SM" + "c" * 32, "status": "queued", "to": "+14155550100", "from": "+15005550006"})
    call, _ = outbox.record_call(session, account_id=live_account.id, vendor="twilio", operation="messages.create",
                                 payload={"to": "+14155550100", "from_": "+15005550006", "body": "hi"},
                                 idempotency_key="reply:2")
    assert outbox.claim_attempt(session, call)
    session.execute(update(OutboxCall).values(attempted_at=datetime.now(UTC) - outbox.ATTEMPT_LEASE - timedelta(1)))
    session.commit()
    result = TwilioConnector(session, live_account, live_settings).send_message(
        to="+14155550100", body="hi", idempotency_key="reply:2")
    assert result.response["sid"] == "SM" + "c" * 32
    assert [c.request.method for c in http.calls] == ["GET", "POST"]
    again = TwilioConnector(session, live_account, live_settings).send_message(
        to="+14155550100", body="hi", idempotency_key="reply:2")
    assert again.repeated and len(http.calls) == 2


def test_a_claim_says_whether_it_took_over_a_stale_attempt(session: Session, live_account: Account) -> None:
    call, _ = outbox.record_call(session, account_id=live_account.id, vendor="twilio", operation="messages.create",
                                 payload={"to": "+14155550100", "from_": "+15005550006", "body": "hi"},
                                 idempotency_key="reply:4")
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    first = outbox.claim(session, call, now=start)
    assert first == outbox.Attempt(taken_over_from=None) and call.status == "sending"
    assert outbox.claim(session, call, now=start + outbox.ATTEMPT_LEASE) is None  # lease not yet over

    later = start + outbox.ATTEMPT_LEASE + timedelta(seconds=1)
    takeover = outbox.claim(session, call, now=later)
    assert takeover == outbox.Attempt(taken_over_from=start)
    assert call.attempted_at == later
    assert outbox.claim(session, call, now=later + timedelta(seconds=1)) is None  # taken over once only

    outbox.give_back(session, call, takeover, error="lookup failed")
    session.expire_all()
    assert (call.status, call.attempted_at) == ("sending", start)
    assert outbox.claim(session, call, now=later + timedelta(seconds=2)) == outbox.Attempt(taken_over_from=start)


def test_a_permanent_failure_is_not_retried_under_the_same_key(session: Session, live_account: Account,
                                                               live_settings: Settings,
                                                               http: responses.RequestsMock) -> None:
    http.add(responses.POST, _url(live_settings), status=400,
             json={"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    twilio = TwilioConnector(session, live_account, live_settings)
    with pytest.raises(VendorError):
        twilio.send_message(to="+14155550100", body="hi", idempotency_key="reply:3")
    with pytest.raises(VendorError, match="failed earlier"):
        twilio.send_message(to="+14155550100", body="hi", idempotency_key="reply:3")
    assert len(http.calls) == 1


def test_a_repeated_key_keeps_the_callers_uncommitted_work(session: Session, live_account: Account) -> None:
    """A duplicate key is answered with the earlier call; what the caller had written
    but not yet committed (here an audit row) survives it."""
    from sqlalchemy import func, select

    from switchboard.core.store.audit import audit
    from switchboard.core.store.models import AuditEntry

    first, created = outbox.record_call(session, account_id=live_account.id, vendor="twilio",
                                        operation="messages.create", payload={"to": "+1"}, idempotency_key="k-1")
    assert created
    audit(session, account_id=live_account.id, actor="bot", action="test.pending", subject_type="conversation",
          subject_id=1)
    again, created = outbox.record_call(session, account_id=live_account.id, vendor="twilio",
                                        operation="messages.create", payload={"to": "+1"}, idempotency_key="k-1")
    assert not created and again.id == first.id
    session.commit()
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "test.pending")) == 1


def _commits(session: Session) -> list[int]:
    from sqlalchemy import event

    counted: list[int] = []
    event.listen(session, "after_commit", lambda _s: counted.append(1))
    return counted


def test_a_first_live_call_is_on_record_as_in_flight_before_the_vendor_sees_it(
        session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock) -> None:
    """Record and claim are one committed row: another connection reads the attempt
    ("sending", its lease running) while the request is on the wire, so a worker that
    dies there leaves an attempt to reconcile, never a "pending" row sent blindly again.
    Two commits in all: the claimed record, then the answer."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session as Fresh

    seen: list[tuple[str, bool]] = []

    def twilio(_request: object) -> tuple[int, dict[str, str], str]:
        with Fresh(session.get_bind()) as other:
            row = other.scalar(select(OutboxCall).where(OutboxCall.idempotency_key == "reply:9"))
            assert row is not None, "the attempt was not committed before the vendor was called"
            seen.append((row.status, row.attempted_at is not None))
        return 201, {}, '{"sid": "SM' + "d" * 32 + '", "status": "queued"}'

    http.add_callback(responses.POST, _url(live_settings), callback=twilio)
    commits = _commits(session)
    result = TwilioConnector(session, live_account, live_settings).send_message(
        to="+14155550100", body="hi", idempotency_key="reply:9")
    assert seen == [("sending", True)]
    assert result.call.status == "sent" and len(commits) == 2


def test_a_sandboxed_call_is_one_commit_of_the_finished_row(session: Session, sandbox_account: Account,
                                                            sandbox_settings: Settings) -> None:
    commits = _commits(session)
    result = TwilioConnector(session, sandbox_account, sandbox_settings).send_message(
        to="+14155550100", body="hi", idempotency_key="reply:10")
    assert len(commits) == 1 and result.call.status == "sandboxed"
    session.expire_all()
    assert outbox.calls(session, sandbox_account.id)[-1].status == "sandboxed"

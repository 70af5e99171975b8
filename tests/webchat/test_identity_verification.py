"""One-time codes through Twilio Verify: sandboxed (the code made and recorded by the
connector) and live against verify.twilio.com faked at the HTTP layer with
``responses``, including its rate limits and outages; and joining the customer who
owns the proven phone or email.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.cli import main
from switchboard.core import ports
from switchboard.core.accounts import ensure_default_account
from switchboard.core.customers import address_verification, identity
from switchboard.core.customers.address_verification import (
    InvalidTarget,
    NoCodeSent,
    Target,
    TooManySends,
    TooManyTries,
    WrongCode,
    check_code,
    join_verified,
    normalise,
    send_code,
)
from switchboard.core.errors import ConfigError
from switchboard.core.settings import Settings, load_settings
from switchboard.core.store.models import Account, AuditEntry, Customer, Identity, IdentityKind, OutboxCall
from switchboard.intake.db import make_engine
from switchboard.vendors.twilio.verify_codes import VerifyNotConfigured, code_digest

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_SID = "VA" + "abcdef0123456789" * 2
VERIFY = f"https://verify.twilio.com/v2/Services/{SERVICE_SID}"
PHONE = "+14155550100"
SUBJECT = "visitor:v_test"


def env(tmp_path: Path, database_url: str, *, live: bool, service: bool = True) -> dict[str, str]:
    values = {"SWITCHBOARD_DATABASE_URL": database_url, "SWITCHBOARD_DATA_DIR": str(tmp_path),
              "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "twilio-auth-token",
              "TWILIO_PHONE_NUMBER": "+15005550006"}
    if service:
        values["TWILIO_VERIFY_SERVICE_SID"] = SERVICE_SID
    if not live:
        values["SWITCHBOARD_SANDBOX"] = "1"
    return values


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        from switchboard.intake.db import upgrade

        upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def sandbox(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(env(tmp_path, database_url, live=False))


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(env(tmp_path, database_url, live=True))


def the_code(db: Session) -> str:
    """What a developer reads in the sandbox: the recorded send's response."""
    sent = db.scalars(select(OutboxCall).where(OutboxCall.operation == "verifications.create")
                      .order_by(OutboxCall.id.desc())).first()
    assert sent is not None and sent.status == "sandboxed"
    code = str(sent.payload["sandbox_code"])
    assert re.fullmatch(r"\d{6}", code)
    return code


def form(call: Any) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


def test_addresses_are_normalised_and_checked() -> None:
    assert normalise("phone", "(415) 555-0100", region="US") == Target("phone", PHONE)
    assert normalise("phone", "+44 7700 900123") == Target("phone", "+447700900123")
    assert normalise("email", "  Ada.Lovelace@Example.COM ") == Target("email", "ada.lovelace@example.com")
    for kind, value, says in (("phone", "call me", "with its country code"), ("email", "ada@", "not an email"),
                              ("fax", "1", "kind must be"), ("email", "", "non-empty")):
        with pytest.raises(InvalidTarget, match=says):
            normalise(kind, value)
    assert normalise("phone", PHONE).masked.endswith("100") and "555" not in normalise("phone", PHONE).masked


def test_sandbox_records_the_code_only_there_and_checks_it(db: Session, sandbox: Settings) -> None:
    account = ensure_default_account(db, sandbox)
    target = normalise("phone", PHONE)
    sent = send_code(db, account, sandbox, subject=SUBJECT, target=target)
    db.commit()
    assert sent.vendor == "twilio_verify" and sent.payload == {"to": PHONE, "channel": "sms",
                                                               "sandbox_code": the_code(db)}
    code = the_code(db)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(WrongCode, match=r"not right.*4 tries left"):
        check_code(db, account, sandbox, subject=SUBJECT, target=target, code=wrong)
    check_code(db, account, sandbox, subject=SUBJECT, target=target, code=code)
    db.commit()
    # A check never stores the code typed: only its digest.
    checks = db.scalars(select(OutboxCall).where(OutboxCall.operation == "verification_checks.create")
                        .order_by(OutboxCall.id)).all()
    assert [c.response["valid"] for c in checks] == [False, True]  # type: ignore[index]
    assert all(code not in str(c.payload) and wrong not in str(c.payload) for c in checks)
    assert checks[1].payload["code_sha256"] == code_digest(str(sent.response["sid"]), code)  # type: ignore[index]
    # Checking again after success (a retried request) is fine and calls nobody.
    check_code(db, account, sandbox, subject=SUBJECT, target=target, code=code)
    assert db.scalar(select(func.count()).select_from(OutboxCall)) == 3
    actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["verification.sent", "verification.wrong", "verification.approved"]
    assert PHONE not in str([e.detail for e in db.scalars(select(AuditEntry))])


def test_five_codes_an_hour_per_visitor(db: Session, sandbox: Settings) -> None:
    account = ensure_default_account(db, sandbox)
    start = datetime.now(UTC)
    for _ in range(address_verification.SEND_LIMIT):
        send_code(db, account, sandbox, subject=SUBJECT, target=normalise("phone", PHONE), now=start)
    db.commit()
    with pytest.raises(TooManySends, match="5 codes were sent in the last hour") as refused:
        send_code(db, account, sandbox, subject=SUBJECT, target=normalise("email", "a@b.example"), now=start)
    assert 3500 < refused.value.retry_after <= 3601
    # Another visitor is not held back by this one (the phone itself has had its five codes of the hour).
    send_code(db, account, sandbox, subject="visitor:v_other", target=normalise("phone", "+14155550199"), now=start)
    db.commit()
    # An hour on, the window has passed.
    later = datetime.now(UTC) + timedelta(hours=1, seconds=5)
    send_code(db, account, sandbox, subject=SUBJECT, target=normalise("phone", PHONE), now=later)


def test_five_wrong_codes_kill_the_code(db: Session, sandbox: Settings) -> None:
    account = ensure_default_account(db, sandbox)
    target = normalise("email", "ada@example.com")
    send_code(db, account, sandbox, subject=SUBJECT, target=target)
    code = the_code(db)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(WrongCode) as refused:
            check_code(db, account, sandbox, subject=SUBJECT, target=target, code=wrong)
        assert refused.value.remaining == left
    assert "last try" in str(refused.value)
    with pytest.raises(TooManyTries, match="5 wrong codes"):
        check_code(db, account, sandbox, subject=SUBJECT, target=target, code=wrong)
    with pytest.raises(TooManyTries):  # even the right code: ask for a new one
        check_code(db, account, sandbox, subject=SUBJECT, target=target, code=code)
    with pytest.raises(NoCodeSent, match="ask for one first"):
        check_code(db, account, sandbox, subject=SUBJECT, target=normalise("phone", PHONE), code=code)
    # A new code works again.
    send_code(db, account, sandbox, subject=SUBJECT, target=target)
    check_code(db, account, sandbox, subject=SUBJECT, target=target, code=the_code(db))


def test_live_sends_and_checks_through_twilio_verify(db: Session, live: Settings, sandbox: Settings) -> None:
    account = ensure_default_account(db, live)
    target = normalise("phone", PHONE)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as http:
        http.post(f"{VERIFY}/Verifications", status=201, json={
            "sid": "VE" + "1" * 32, "service_sid": SERVICE_SID, "account_sid": ACCOUNT_SID, "to": PHONE,
            "channel": "sms", "status": "pending", "valid": False, "lookup": {}, "amount": None, "payee": None,
            "send_code_attempts": [{"time": "2026-11-23T16:00:00Z", "channel": "SMS", "attempt_sid": "VL" + "1" * 32}],
            "date_created": "2026-11-23T16:00:00Z", "date_updated": "2026-11-23T16:00:00Z", "sna": None,
            "url": f"{VERIFY}/Verifications/VE{'1' * 32}"})
        http.post(f"{VERIFY}/VerificationCheck", status=200, json={
            "sid": "VE" + "1" * 32, "service_sid": SERVICE_SID, "account_sid": ACCOUNT_SID, "to": PHONE,
            "channel": "sms", "status": "approved", "valid": True, "amount": None, "payee": None,
            "date_created": "2026-11-23T16:00:00Z", "date_updated": "2026-11-23T16:01:00Z",
            "sna_attempts_error_codes": []})
        sent = send_code(db, account, live, subject=SUBJECT, target=target, locale="fr")
        check_code(db, account, live, subject=SUBJECT, target=target, code=" 123456 ")
        start, check = http.calls
    assert form(start) == {"To": [PHONE], "Channel": ["sms"], "Locale": ["fr"]}
    assert start.request.headers["Authorization"].startswith("Basic ")
    assert form(check) == {"VerificationSid": ["VE" + "1" * 32], "Code": ["123456"]}
    assert sent.status == "sent" and "sandbox_code" not in str(sent.payload) + str(sent.response)
    # A language Twilio Verify does not write in is left out rather than refused by Twilio.
    sandboxed = send_code(db, account, sandbox, subject="visitor:v_other", target=target, locale="cy")
    assert "locale" not in sandboxed.payload


@pytest.mark.parametrize(("status", "body", "error", "says"), [
    (429, {"code": 60203, "message": "Max send attempts reached", "status": 429}, ports.VendorRateLimited,
     "twilio_verify rate limit"),
    (503, {"code": 20500, "message": "Service unavailable", "status": 503}, ports.VendorUnavailable,
     "Twilio Verify failed with HTTP 503"),
    (404, {"code": 20404, "message": "The requested resource was not found", "status": 404}, ports.VendorError,
     "has no service"),
])
def test_a_refused_or_failed_send_is_a_clear_error_and_links_nothing(db: Session, live: Settings, status: int,
                                                                      body: dict[str, Any], error: type[Exception],
                                                                      says: str) -> None:
    account = ensure_default_account(db, live)
    with responses.RequestsMock() as http:
        http.post(f"{VERIFY}/Verifications", status=status, json=body)
        with pytest.raises(error, match=says):
            send_code(db, account, live, subject=SUBJECT, target=normalise("phone", PHONE))
    with pytest.raises(NoCodeSent):  # nothing to check: the code never went
        check_code(db, account, live, subject=SUBJECT, target=normalise("phone", PHONE), code="123456")
    assert db.scalar(select(func.count()).select_from(Identity)) == 0


def test_a_check_during_an_outage_can_be_retried_and_twilios_own_limit_kills_the_code(db: Session,
                                                                                     live: Settings) -> None:
    account = ensure_default_account(db, live)
    target = normalise("phone", PHONE)
    with responses.RequestsMock() as http:
        http.post(f"{VERIFY}/Verifications", status=201, json={"sid": "VE" + "2" * 32, "status": "pending",
                                                                "channel": "sms", "to": PHONE})
        http.post(f"{VERIFY}/VerificationCheck", status=500, json={"code": 20500, "message": "Internal error"})
        send_code(db, account, live, subject=SUBJECT, target=target)
        with pytest.raises(ports.VendorUnavailable, match="try again in a moment"):
            check_code(db, account, live, subject=SUBJECT, target=target, code="123456")
    with responses.RequestsMock() as http:
        http.post(f"{VERIFY}/VerificationCheck", status=200, json={"sid": "VE" + "2" * 32, "status": "pending",
                                                                    "valid": False})
        http.post(f"{VERIFY}/VerificationCheck", status=429, json={
            "code": 60202, "message": "Max check attempts reached", "status": 429})
        # The outage did not count as a wrong code: 4 tries remain after this one.
        with pytest.raises(WrongCode) as refused:
            check_code(db, account, live, subject=SUBJECT, target=target, code="123456")
        assert refused.value.remaining == 4
        with pytest.raises(TooManyTries, match="Ask for a new one"):
            check_code(db, account, live, subject=SUBJECT, target=target, code="654321")


def test_live_twilio_without_a_verify_service_says_what_to_set(db: Session, tmp_path: Path,
                                                               database_url: str) -> None:
    settings = load_settings(env(tmp_path, database_url, live=True, service=False))
    account = ensure_default_account(db, settings)
    with pytest.raises(VerifyNotConfigured, match="set TWILIO_VERIFY_SERVICE_SID"):
        send_code(db, account, settings, subject=SUBJECT, target=normalise("phone", PHONE))


def test_the_service_sid_is_validated_in_the_environment_and_per_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Verify Service SID"):
        load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), "TWILIO_VERIFY_SERVICE_SID": "VE123"})
    environ = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=environ).exit_code == 0
    bad = runner.invoke(main, ["accounts", "set-secret", "globex", "twilio_verify_service_sid", "--value", "VA12"],
                        env=environ)
    assert bad.exit_code == 1 and "twilio_verify_service_sid of account 'globex'" in bad.output, bad.output
    good = runner.invoke(main, ["accounts", "set-secret", "globex", "TWILIO_VERIFY_SERVICE_SID", "--value",
                                SERVICE_SID], env=environ)
    assert good.exit_code == 0, good.output


def test_joining_links_a_new_address_or_merges_with_its_owner(db: Session, sandbox: Settings) -> None:
    account = ensure_default_account(db, sandbox)
    other = Account(slug="other", name="Other", secrets={})
    db.add(other)
    db.flush()
    old = Customer(account_id=account.id, attributes={}, created_at=datetime.now(UTC) - timedelta(days=9))
    visitor = Customer(account_id=account.id, attributes={}, display_name="Ada")
    stranger = Customer(account_id=other.id, attributes={})
    db.add_all([old, visitor, stranger])
    db.flush()
    db.add(Identity(account_id=account.id, customer_id=old.id, kind=IdentityKind.PHONE, value=PHONE))
    # The same number in another account is another company's customer: never merged.
    db.add(Identity(account_id=other.id, customer_id=stranger.id, kind=IdentityKind.EMAIL, value="ada@example.com"))
    db.commit()
    old_id, visitor_id = old.id, visitor.id

    email = normalise("email", "ada@example.com")
    assert join_verified(db, account.id, visitor_id, email, actor=SUBJECT) == visitor_id  # linked, nobody had it
    assert address_verification.verified_summary(db, db.get(Customer, visitor_id)) == {  # type: ignore[arg-type]
        "kind": "email", "masked": email.masked}
    assert join_verified(db, account.id, visitor_id, normalise("phone", PHONE), actor=SUBJECT) == old_id  # merged
    db.commit()
    assert db.get(Customer, visitor_id) is None
    survivor = db.get(Customer, old_id)
    assert survivor is not None and survivor.display_name == "Ada"
    assert sorted(i.kind.value for i in survivor.identities) == ["email", "phone"]
    assert address_verification.verified_identity(db, survivor, "email") is not None
    assert address_verification.verified_summary(db, survivor) == {
        "kind": "phone", "masked": normalise("phone", PHONE).masked}
    # Proving it again (a retried request) changes nothing.
    assert join_verified(db, account.id, old_id, normalise("phone", PHONE), actor=SUBJECT) == old_id
    assert db.scalar(select(func.count()).select_from(Customer).where(Customer.account_id == account.id)) == 1


def test_a_proven_address_joins_identities_the_session_has_loaded(db: Session, sandbox: Settings) -> None:
    """The rest of the request (a reply's address, a handoff package) reads the
    customer's identities from the session: the one just proven is among them."""
    account = ensure_default_account(db, sandbox)
    visitor = Customer(account_id=account.id, attributes={},
                       identities=[Identity(account_id=account.id, kind=IdentityKind.VISITOR, value="v-1")])
    db.add(visitor)
    db.flush()
    assert [i.kind for i in visitor.identities] == [IdentityKind.VISITOR]  # loaded
    assert join_verified(db, account.id, visitor.id, normalise("phone", PHONE), actor=SUBJECT) == visitor.id
    assert sorted(i.kind.value for i in visitor.identities) == ["phone", "visitor"]
    assert identity.reply_address(visitor, "sms") == PHONE


def test_the_ticket_requester_is_given_the_verified_email_through_zendesks_api(db: Session, tmp_path: Path,
                                                                              database_url: str) -> None:
    """What makes Zendesk's own notification email a visitor who chose email."""
    from switchboard.vendors.zendesk.connector import ZendeskConnector

    settings = load_settings({**env(tmp_path, database_url, live=True), "ZENDESK_SUBDOMAIN": "acme",
                              "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "zendesk-api-token"})
    account = ensure_default_account(db, settings)
    url = "https://acme.zendesk.com/api/v2/users/42/identities.json"
    with responses.RequestsMock() as http:
        http.post(url, status=201, json={"identity": {"id": 7, "user_id": 42, "type": "email", "primary": True,
                                                      "value": "ada@example.com", "verified": True}})
        http.post(url, status=422, json={"error": "RecordInvalid", "description": "Record validation errors",
                                         "details": {"value": [{"description": "Value: is already being used"}]}})
        added = ZendeskConnector(db, account, settings).add_user_email(42, email="ada@example.com",
                                                                       idempotency_key="requester-email:42:1")
        assert added.response == {"user_id": 42, "identity_id": 7, "primary": True}
        assert http.calls[0].request.headers["Authorization"].startswith("Basic ")
        assert b'"verified": true' in http.calls[0].request.body
        # Repeated under its key: recorded once, Zendesk not asked again.
        again = ZendeskConnector(db, account, settings).add_user_email(42, email="ada@example.com",
                                                                       idempotency_key="requester-email:42:1")
        assert again.repeated and len(http.calls) == 1
        with pytest.raises(ports.VendorError, match="refused users.identities.create"):
            ZendeskConnector(db, account, settings).add_user_email(42, email="bob@example.com",
                                                                   idempotency_key="requester-email:42:2")

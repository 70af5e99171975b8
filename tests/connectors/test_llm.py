"""LLMClient against a loopback OpenAI-compatible server: the real openai SDK builds,
sends and parses every request; nothing of ours is patched."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.accounts import ensure_default_account
from switchboard.core.settings import Settings, load_settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.intake.db import make_engine, upgrade
from switchboard.vendors.openai.llm import PLACEHOLDER_API_KEY, LLMClient, LLMNotConfigured
from switchboard.vendors.outbound import VendorError, VendorRateLimited, VendorUnavailable
from tests.fakes.openai_server import FakeOpenAI

MESSAGES = [{"role": "system", "content": "Answer from the passages."},
            {"role": "user", "content": "How long do refunds take?"}]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'switchboard.db'}")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session
    engine.dispose()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), **env})


def client_for(session: Session, settings: Settings) -> LLMClient:
    account: Account = ensure_default_account(session, settings)
    return LLMClient(session, account, settings, max_retries=0, timeout=10)


@pytest.fixture
def llm(session: Session, fake: FakeOpenAI, tmp_path: Path) -> LLMClient:
    return client_for(session, settings_for(tmp_path, OPENAI_API_KEY="sk-test-key", OPENAI_BASE_URL=fake.base_url))


def outbox_rows(session: Session) -> list[OutboxCall]:
    session.expire_all()
    return list(session.scalars(select(OutboxCall).order_by(OutboxCall.id)))


def test_chat_posts_to_chat_completions_and_returns_text_and_usage(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.reply("Refunds take 5 business days [1].",
               usage={"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40})
    result = llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=120)
    assert result.text == "Refunds take 5 business days [1]."
    assert result.tool_calls == []
    assert result.usage == {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40}
    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert fake.requests == [{"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 120, "temperature": 0}]


def test_the_outbox_records_the_call_as_sent(llm: LLMClient, fake: FakeOpenAI, session: Session) -> None:
    fake.reply("Refunds take 5 business days.")
    llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=120)
    [row] = outbox_rows(session)
    assert (row.vendor, row.operation, row.status) == ("openai", "chat.completions.create", "sent")
    assert row.payload == fake.requests[0]  # recorded exactly as sent
    assert row.response["text"] == "Refunds take 5 business days."


def test_tools_are_sent_and_tool_calls_come_back_decoded(llm: LLMClient, fake: FakeOpenAI) -> None:
    tools = [{"type": "function", "function": {
        "name": "handoff", "description": "Hand the conversation to a person.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}}}]
    fake.reply_tool_call("handoff", {"reason": "wants a person"})
    result = llm.chat(model="gpt-4o", messages=MESSAGES, max_tokens=50, tools=tools)
    assert result.text is None
    assert [(c["name"], c["arguments"]) for c in result.tool_calls] == [("handoff", {"reason": "wants a person"})]
    assert fake.requests[0]["tools"] == tools


def test_tool_arguments_that_are_not_json_are_a_vendor_error(llm: LLMClient, fake: FakeOpenAI,
                                                             session: Session) -> None:
    fake.reply_tool_call("handoff", "{reason: unquoted")
    with pytest.raises(VendorError, match="not JSON"):
        llm.chat(model="gpt-4o", messages=MESSAGES, max_tokens=50)
    assert outbox_rows(session)[0].status == "failed"


def test_a_base_url_alone_is_enough_and_sends_a_placeholder_key(session: Session, fake: FakeOpenAI,
                                                                 tmp_path: Path) -> None:
    settings = settings_for(tmp_path, OPENAI_BASE_URL=fake.base_url)
    assert LLMClient.configured(settings)
    fake.reply("ok")
    assert client_for(session, settings).chat(model="llama3.1", messages=MESSAGES, max_tokens=10).text == "ok"
    assert fake.received[0].headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_configured_needs_a_key_or_a_base_url(tmp_path: Path) -> None:
    assert LLMClient.configured(settings_for(tmp_path, OPENAI_API_KEY="sk-x"))
    assert not LLMClient.configured(settings_for(tmp_path))


def test_unconfigured_chat_says_what_to_set_and_records_nothing(session: Session, tmp_path: Path) -> None:
    llm = client_for(session, settings_for(tmp_path))
    with pytest.raises(LLMNotConfigured, match="OPENAI_API_KEY.*OPENAI_BASE_URL"):
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert outbox_rows(session) == []


def test_sandbox_mode_still_calls_a_configured_llm(session: Session, fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, OPENAI_BASE_URL=fake.base_url, SWITCHBOARD_SANDBOX="1")
    llm = client_for(session, settings)
    assert settings.sandbox and not llm.sandboxed
    fake.reply("Refunds take 5 business days.")
    assert llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10).text == "Refunds take 5 business days."
    assert len(fake.requests) == 1
    assert outbox_rows(session)[0].status == "sent"


def test_429_becomes_rate_limited_with_the_servers_retry_after(llm: LLMClient, fake: FakeOpenAI,
                                                              session: Session) -> None:
    fake.fail(429, {"Retry-After": "17"}, message="Rate limit reached for gpt-4o-mini")
    with pytest.raises(VendorRateLimited) as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert caught.value.retry_after == 17
    assert caught.value.vendor == "openai"
    assert len(fake.requests) == 1  # the SDK did not sleep and retry by itself
    assert outbox_rows(session)[0].status == "pending"  # a retry may still send it


def test_429_without_retry_after_uses_a_default_wait(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.fail(429)
    with pytest.raises(VendorRateLimited) as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert caught.value.retry_after > 0


def test_an_exhausted_quota_is_not_retried_as_a_rate_limit(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.fail(429, message="You exceeded your current quota", code="insufficient_quota")
    with pytest.raises(VendorError, match="quota") as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert not isinstance(caught.value, VendorUnavailable)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_becomes_vendor_unavailable(llm: LLMClient, fake: FakeOpenAI, session: Session, status: int) -> None:
    fake.fail(status)
    with pytest.raises(VendorUnavailable) as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert not isinstance(caught.value, VendorRateLimited)
    assert f"HTTP {status}" in str(caught.value)
    assert outbox_rows(session)[0].status == "pending"


def test_an_unreachable_server_is_vendor_unavailable(session: Session, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = client_for(session, settings_for(tmp_path, OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(VendorUnavailable, match="could not be reached"):
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)


def test_a_refused_key_names_the_variable_to_fix(llm: LLMClient, fake: FakeOpenAI, session: Session) -> None:
    fake.fail(401, message="Incorrect API key provided")
    with pytest.raises(VendorError, match="OPENAI_API_KEY") as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert not isinstance(caught.value, VendorUnavailable)
    assert outbox_rows(session)[0].status == "failed"


def test_an_unknown_model_names_the_model_settings(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.fail(404, message="The model `gpt-9` does not exist")
    with pytest.raises(VendorError, match="SWITCHBOARD_MODEL_FAST"):
        llm.chat(model="gpt-9", messages=MESSAGES, max_tokens=10)


def test_other_4xx_is_a_vendor_error_carrying_the_servers_message(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.fail(400, message="max_tokens is too large")
    with pytest.raises(VendorError, match="max_tokens is too large") as caught:
        llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10**6)
    assert not isinstance(caught.value, VendorUnavailable)


def test_the_same_idempotency_key_does_not_pay_twice(llm: LLMClient, fake: FakeOpenAI) -> None:
    fake.reply("Refunds take 5 business days.")
    first = llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10, idempotency_key="msg-1:draft")
    again = llm.chat(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10, idempotency_key="msg-1:draft")
    assert again == first
    assert len(fake.requests) == 1

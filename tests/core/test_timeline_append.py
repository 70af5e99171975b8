"""timeline.append on SQLite and PostgreSQL: a message with an external id is inserted
without a lookup first (the unique (account, external_id) decides), and the same id
appended again, as a retried event does, returns the stored message and adds nothing."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event, func, select

from switchboard.core.customers import timeline
from switchboard.core.store.models import Conversation, Customer, Message
from switchboard.intake.db import get_db


def test_a_new_message_is_inserted_without_a_lookup_and_a_repeat_returns_it(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    database = get_db(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    with database.session() as session:
        customer = Customer(account_id=account_id, attributes={})
        session.add(customer)
        session.flush()
        conversation = Conversation(account_id=account_id, customer_id=customer.id, channel="sms", status="open")
        session.add(conversation)
        session.flush()
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            first = timeline.append(session, conversation, direction="inbound", channel="sms", author="customer",
                                    body="where is my parcel", external_id="SM1", meta={"a": 1})
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        assert not [s for s in statements if s.startswith("SELECT")], statements
        assert [s.split()[0] for s in statements] == ["INSERT", "UPDATE"], statements  # the message, last_message_at
        assert first.id is not None and first.meta == {"a": 1} and conversation.last_message_at == first.created_at
        session.commit()
        again = timeline.append(session, conversation, direction="inbound", channel="sms", author="customer",
                                body="where is my parcel (retried)", external_id="SM1")
        assert again.id == first.id and again.body == "where is my parcel"
        without_id = timeline.append(session, conversation, direction="outbound", channel="sms", author="bot",
                                     body="on its way")
        session.commit()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.conversation_id == conversation.id)) == 2
        assert session.get(Message, without_id.id) is not None

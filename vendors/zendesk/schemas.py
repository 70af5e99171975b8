"""The ticket events Zendesk's event subscriptions send
(https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/):
``detail`` is the ticket as it is now, ``event`` what changed. Every other field is kept
as sent."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields

from switchboard.intake.payloads import INCLUDE, Object, Schema, WholeNumber, type_name

#: Zendesk numbers each account's tickets from 1; our zendesk_ticket_id columns are
#: INTEGER (32-bit on PostgreSQL), so a larger id could not be looked up or stored.
MAX_TICKET_ID = 2**31 - 1


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class Author(_Open):
    id = fields.Raw(allow_none=True)
    is_staff = fields.Boolean(allow_none=True)


class Comment(_Open):
    id = fields.Raw(allow_none=True)
    body = fields.String(allow_none=True)
    is_public = fields.Boolean(allow_none=True)
    author = Object(Author, allow_none=True)


class TextOrList(fields.Field):
    """``event.current``/``previous``: a status name, or a list of tags."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str | list[str] | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise fields.ValidationError(f"must be text or an array of text, got {type_name(value)}")


class Change(_Open):
    comment = Object(Comment, allow_none=True)
    current = TextOrList(allow_none=True)
    previous = TextOrList(allow_none=True)
    tags_added = fields.List(fields.String(), allow_none=True)
    tags_removed = fields.List(fields.String(), allow_none=True)


class Ticket(_Open):
    id = WholeNumber(minimum=1, maximum=MAX_TICKET_ID, what="the ticket's number", required=True)
    tags = fields.List(fields.String(), allow_none=True,
                       error_messages={"invalid": "must be an array of tag names"})
    subject = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


class TicketEvent(_Open):
    type = fields.String()
    detail = Object(Ticket, required=True)
    event = Object(Change, load_default=dict)
    time = fields.String(allow_none=True)


TICKET_EVENT = TicketEvent()

"""What the core needs from the world outside it, as small interfaces.

The core sends a message to a customer, writes to the helpdesk, asks a chat model,
tells supervisors and calls the company's systems; it never knows that these are
Twilio, Zendesk, an OpenAI-compatible server, Slack or an HTTP API. ``create_app`` (and
through it the worker and the CLI) installs the vendors' implementations with
``switchboard.wiring.install()``; the core asks :func:`current` for them when it needs
one. So no module here imports ``vendors/``, ``apps/``, ``vendors/``, Flask or a
vendor SDK (``tests/test_core_boundary.py`` checks it in a fresh interpreter).

The errors a vendor call can end with live here too, because the core decides on them
(retry later, hand over, tell the customer) and the connectors raise them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

from sqlalchemy.orm import Session

from switchboard.core.pii.redaction import redact
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.core.store.outbox import ATTEMPT_LEASE

# -- what a vendor call can end with -------------------------------------------------------

class _RedactedMessage(Exception):
    """Vendors quote the request in their errors ("The 'To' number +1415… is not valid"):
    the message is redacted, because it is logged, retried by Celery and stored."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)).text, *args)


class VendorError(_RedactedMessage):
    """A vendor API call failed in a way a retry will not fix (4xx other than 429)."""


class VendorUnavailable(_RedactedMessage):
    """A vendor API call failed in a way a later retry may fix (5xx, timeout)."""


class VendorOutcomeUnknown(VendorUnavailable):
    """The request left, but no answer came back (read timeout, connection dropped after
    sending): the vendor may have acted on it. The outbox row stays an attempt in flight,
    so the retry waits for its lease to run out and asks the vendor (``reconcile``)
    before calling again, instead of calling blindly as after a refused connection."""

    #: Retrying sooner only finds the attempt still in flight.
    retry_after = ATTEMPT_LEASE.total_seconds()


class VendorRateLimited(VendorUnavailable):
    def __init__(self, vendor: str, retry_after: float) -> None:
        self.vendor = vendor
        self.retry_after = retry_after
        super().__init__(f"{vendor} rate limit: retry after {retry_after:.0f}s")


class RecipientOptedOut(VendorError):
    """The recipient replied STOP: the messaging vendor refuses every send until they reply START."""


class OutsideWhatsAppWindow(VendorError):
    """Free-form WhatsApp text more than 24 h after the customer's last message."""


class NotFound(VendorError):
    """A write (refund, reschedule, address change) found nothing to change (HTTP 404)."""


class VerificationGone(VendorError):
    """The one-time code's verification is over at the vendor: expired, already approved,
    or its checks used up (Twilio Verify: HTTP 404, or error 60202). Ask for a new code."""


@dataclass(frozen=True)
class CallResult:
    """What the caller needs back: the vendor's response (or the sandbox's stand-in)
    and whether it came from an earlier call under the same idempotency key."""

    call: OutboxCall
    response: dict[str, Any]
    repeated: bool


@dataclass(frozen=True)
class ChatResult:
    """The model's answer: ``text`` (None when it only called tools), ``tool_calls`` as
    ``{"id", "name", "arguments"}`` with arguments decoded, and token ``usage``."""

    text: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


# -- the interfaces --------------------------------------------------------------------------

class MessageContent(TypedDict, total=False):
    """What a message carries: its text, or (WhatsApp outside the 24-hour window) an
    approved template and its variables."""

    body: str
    content_sid: str
    content_variables: dict[str, Any]


class Messenger(Protocol):
    """Sends a text to a customer on their channel (SMS or WhatsApp)."""

    def send_message(self, *, to: str, channel: str, idempotency_key: str, body: str | None = None,
                     content_sid: str | None = None, content_variables: dict[str, Any] | None = None,
                     media_url: list[str] | None = None, status_callback: str | None = None,
                     vault_conversation_id: int | None = None, vault_tokens: Sequence[str] = ()) -> CallResult:
        """``vault_tokens`` of ``body`` (core.pii.vault.echoable's choice) are opened from
        ``vault_conversation_id``'s vault in the request that delivers the message only:
        what is recorded keeps the tokens."""
        ...


class Helpdesk(Protocol):
    """The helpdesk's users, tickets and comments."""

    def find_user(self, *, phone: str | None = None, email: str | None = None) -> int | None: ...

    def find_or_create_user(self, *, name: str, email: str | None = None, phone: str | None = None,
                            external_id: str | None = None, idempotency_key: str | None = None) -> CallResult:
        """The response carries ``user_id``."""
        ...

    def add_user_email(self, user_id: int, *, email: str, idempotency_key: str | None = None) -> CallResult:
        """Give a helpdesk user (a ticket's requester) a verified email, so the helpdesk's
        own notifications of agent replies reach it."""
        ...

    def create_ticket(self, *, requester: dict[str, Any], subject: str, comment_body: str, public: bool = False,
                      tags: Sequence[str] = (), priority: str | None = None, group_id: int | None = None,
                      custom_fields: Sequence[dict[str, Any]] = (), idempotency_key: str | None = None,
                      external_id: str | None = None) -> CallResult:
        """The response carries ``ticket_id``."""
        ...

    def update_ticket(self, ticket_id: int, *, tags: Sequence[str] = (), priority: str | None = None,
                      custom_fields: Sequence[dict[str, Any]] = (),
                      idempotency_key: str | None = None) -> CallResult: ...

    def add_comment(self, ticket_id: int, *, body: str, public: bool, tags: Sequence[str] = (),
                    priority: str | None = None, author_id: int | None = None,
                    idempotency_key: str | None = None) -> CallResult: ...

    def call(self, operation: str, payload: dict[str, Any], *, idempotency_key: str | None = None) -> CallResult: ...

    def help_center_pages(self, start_time: int) -> Iterator[dict[str, Any]]:
        """The knowledge base's articles changed since ``start_time``, page by page."""
        ...

    def help_center_article_ids(self) -> set[str]:
        """The ids of every article the Help Center holds now (archived ones are not among
        them: the incremental export never says an article was archived)."""
        ...


class ChatModel(Protocol):
    """A chat-completions model (OpenAI or any compatible server)."""

    def chat(self, *, model: str, messages: list[dict[str, Any]], max_tokens: int, temperature: float = 0,
             tools: list[dict[str, Any]] | None = None, idempotency_key: str | None = None) -> ChatResult: ...


class SupervisorChannel(Protocol):
    """Where supervisors read and decide (Slack)."""

    def post_message(self, *, channel: str, text: str, blocks: Sequence[dict[str, Any]] | None = None,
                     thread_ts: str | None = None, idempotency_key: str) -> CallResult: ...


class BusinessSystem(Protocol):
    """One of the company's own systems, called by a declared operation."""

    def run(self, operation: Any, variables: dict[str, Any], *, idempotency_key: str,
            vault_conversation_id: int | None = None) -> dict[str, Any]:
        """``vault_conversation_id``: the conversation whose vault tokens in ``variables``
        are opened at the moment of the call (never before, so nothing stored holds them)."""
        ...


class Verifier(Protocol):
    """Sends a one-time code to a phone (SMS) or email and checks the code a person
    types back. The vendor makes, delivers and checks the code (Twilio Verify): the core
    never sees a live code."""

    def start(self, *, to: str, channel: str, idempotency_key: str, locale: str | None = None) -> CallResult:
        """``to``: E.164 or a lower-cased email; ``channel``: "sms" or "email". The
        response carries the verification's ``sid`` and ``status`` ("pending")."""
        ...

    def check(self, *, verification_sid: str, code: str, idempotency_key: str) -> CallResult:
        """The response carries ``status`` ("approved" or "pending") and ``valid``.
        Raises VerificationGone when the verification can no longer be checked."""
        ...


class SupervisorFlows(Protocol):
    """The supervisors' side of outreach and governed actions: approval requests,
    decisions and progress, in the supervisors' tool."""

    def request_campaign_approval(self, session: Session, account: Account, settings: Settings,
                                  campaign: Any) -> None: ...

    def show_campaign_decision(self, session: Session, account: Account, settings: Settings,
                               campaign: Any) -> None: ...

    def post_campaign_progress(self, session: Session, account: Account, settings: Settings, campaign: Any, *,
                               text: str, key: str) -> None: ...

    def request_action_approval(self, session: Session, account: Account, settings: Settings, execution: Any,
                                policy: Any, preview: str) -> None: ...

    def post_digest(self, session: Session, account: Account, settings: Settings, digest: Any, *,
                    account_name: str, channel: str, idempotency_key: str) -> CallResult: ...

    def request_draft_review(self, session: Session, account: Account, settings: Settings, draft: Any) -> None:
        """A drafted article (or its new version) with its proof, for an approver."""
        ...

    def show_draft_decision(self, session: Session, account: Account, settings: Settings, draft: Any) -> None: ...


@dataclass(frozen=True)
class Ports:
    """The implementations, each built per call from the session, account and settings
    (connectors record every call in that session's outbox)."""

    messenger: Callable[[Session, Account, Settings], Messenger]
    helpdesk: Callable[[Session, Account, Settings], Helpdesk]
    chat_model: Callable[[Session, Account, Settings], ChatModel]
    #: The same model without the outbox record (``switchboard eval`` stores nothing).
    unrecorded_chat_model: Callable[[Session, Account, Settings], ChatModel]
    chat_model_configured: Callable[[Settings], bool]
    supervisor_channel: Callable[[Session, Account, Settings], SupervisorChannel]
    business_system: Callable[..., BusinessSystem]
    supervisor_flows: SupervisorFlows
    #: One-time codes for a web visitor proving a phone or email (None: not installed).
    verifier: Callable[[Session, Account, Settings], Verifier] | None = None


class PortsNotInstalled(RuntimeError):
    """The core was used before anything told it how to reach the outside world."""


_installed: Ports | None = None


def install(ports: Ports) -> None:
    global _installed
    _installed = ports


def current() -> Ports:
    if _installed is None:
        raise PortsNotInstalled("No connectors are installed: call switchboard.wiring.install() first "
                                "(create_app does it for the web app, the worker and the CLI).")
    return _installed

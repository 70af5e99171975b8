"""From a customer's message to a governed action, deterministically.

Called for each inbound message while the bot holds the conversation, before the
knowledge-base answer. Local mode recognises a few requests by their words and an
order number ("where is my order A1001", "refund order A1001"); with an LLM
configured, a message that looks like a request is offered to the model as tools.
Either way the result is only a *request* to the policy engine: the amount of a
refund comes from the order record, the customer must prove the phone on file, and
a message carrying hidden instructions starts nothing at all.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.accounts import company_name
from switchboard.core.actions import otp
from switchboard.core.actions.engine import ActionRequest, Governor, Outcome, Principal
from switchboard.core.actions.injection import Finding, detect
from switchboard.core.actions.ledger import SELF_SERVICE
from switchboard.core.actions.tools import Intent, llm_intents
from switchboard.core.bot.decisions import Decision, disclosure
from switchboard.core.bot.outbound import Inbound, send_reply
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import ActionExecution, Message

if TYPE_CHECKING:
    from switchboard.core.knowledge.records import Hit

ORDER_ID = r"(?<![\w-])([A-Z]{1,4}-?\d{3,10})(?![\w-])"
ORDER = re.compile(r"\border\b[^.?!\n]{0,20}?" + ORDER_ID + r"|" + ORDER_ID, re.IGNORECASE)
STATUS_WORDS = re.compile(r"\b(where|status|track(ing)?|arriv\w*|deliver\w*|shipp?\w*|when will|eta|late)\b", re.I)
REFUND_WORDS = re.compile(r"\b(refund|money back|reimburse\w*)\b", re.I)
RESCHEDULE = re.compile(r"\b(reschedule|move|change)\b.{0,40}\b(appointment|visit|technician|booking)\b.{0,20}?"
                        + ORDER_ID + r".{0,30}?\b(\d{4}-\d{2}-\d{2})\b(?:.{0,20}\b(morning|afternoon|evening))?",
                        re.IGNORECASE | re.DOTALL)
ADDRESS = re.compile(r"\b(?:change|update|new)\b.{0,20}\baddress\b.{0,10}?\bto\b:?\s*(?P<line1>[^,\n]{3,200}),\s*"
                     r"(?P<city>[^,\n]{1,100}?),?\s+(?P<postcode>[A-Za-z0-9 -]{2,12}),\s*(?P<country>[A-Z]{2})\b",
                     re.IGNORECASE)
#: Words that make a message worth offering to the LLM's tools.
ACTIONISH = re.compile(r"\b(refund|reschedule|address|order|appointment)\b", re.I)
#: The customer's answer to "Reply YES to …": the whole message, nothing else. ("Cancel"
#: is not a no here: it is a Twilio opt-out keyword and is handled as one.)
YES = re.compile(r"^\s*(yes|y|yes please|yes,? please|confirm|confirmed)\s*[.!]?\s*$", re.I)
NO = re.compile(r"^\s*(no|n|nope|no thanks?|no,? thank you|don'?t)\s*[.!]?\s*$", re.I)
CODE_PLACEHOLDER = "[verification code]"


def _order_id(text: str) -> str | None:
    match = ORDER.search(text)
    return (match.group(1) or match.group(2)).upper() if match else None


def match_intent(text: str) -> Intent | None:
    """The action a message asks for, with what the message itself supplies."""
    if match := RESCHEDULE.search(text):
        params = {"appointment_id": match.group(3).upper(), "date": match.group(4)}
        return Intent("reschedule", {**params, **({"slot": match.group(5).lower()} if match.group(5) else {})})
    if match := ADDRESS.search(text):
        return Intent("update_address", {k: v.strip() for k, v in match.groupdict().items()}
                      | {"country": match.group("country").upper()})
    order_id = _order_id(text)
    if order_id and REFUND_WORDS.search(text):
        return Intent("refund", {"order_id": order_id})
    if order_id and STATUS_WORDS.search(text):
        return Intent("order_status", {"order_id": order_id})
    return None


def flag_injection(session: Session, account_id: int, findings: list[Finding], *, source: str,
                   subject_type: str, subject_id: Any, conversation_id: int | None = None) -> None:
    audit(session, account_id=account_id, actor="injection-detector", action="security.prompt_injection",
          subject_type=subject_type, subject_id=subject_id, detail={
              "source": source, "conversation_id": conversation_id,
              "findings": [{"rule": f.rule, "variant": f.variant, "excerpt": f.excerpt[:160]} for f in findings]})


@lru_cache(maxsize=2048)
def _passage_findings(text: str) -> tuple[Finding, ...]:
    """A passage's findings, worked out once per process: the same few passages answer
    most questions, and their text only changes with a new index (a new string, so a
    new key). The key is the index's own string, so the cache holds no copies."""
    return tuple(detect(text))


def scan_passages(session: Session, account_id: int, conversation_id: int, hits: tuple[Hit, ...] | list[Hit]) -> int:
    """Knowledge-base passages are untrusted too: flag the ones that carry
    instructions. (They never reach the action path: tools see only the request.)"""
    flagged = 0
    for hit in hits:
        findings = _passage_findings(hit.passage.text)
        if findings:
            flagged += 1
            flag_injection(session, account_id, list(findings), source="kb_article", subject_type="kb_passage",
                           subject_id=hit.passage.id, conversation_id=conversation_id)
    return flagged


def handle(session: Session, inbound: Inbound, settings: Settings) -> bool:
    """True when the message was an action request (or a verification code) and has
    been answered here; False to let the knowledge-base answer it."""
    message, customer = inbound.message, inbound.customer
    governor = Governor(session, inbound.account, settings)
    if message.body == CODE_PLACEHOLDER and message.meta.get("verification_for"):
        return _retry_after_code(session, inbound, settings, governor)
    if message.meta.get("confirmation_for"):
        return _retry_after_yes(session, inbound, settings, governor)
    code = otp.looks_like_code(message.body)
    if code and (pending := otp.pending(session, customer)) is not None:
        message.body = CODE_PLACEHOLDER  # the code itself does not stay on the timeline
        # Which request the code unlocks, so a retry after an outage can carry on.
        message.meta = {**message.meta, "verification_for": pending.execution_id}
        outcome = governor.verify(customer, code)
        if outcome is not None:
            _reply(session, inbound, settings, [outcome])
            return True
        return False
    if _answer_to_preview(session, inbound, settings, governor):
        return True
    findings = detect(message.body)
    if findings:
        flag_injection(session, inbound.account.id, findings, source="customer_message", subject_type="message",
                       subject_id=message.id, conversation_id=inbound.conversation.id)
        return False
    intents = [match_intent(message.body)]
    principal = Principal("bot", "bot")
    if intents[0] is None and ACTIONISH.search(message.body):
        intents, model = llm_intents(session, inbound, settings, governor)
        principal = Principal("llm", f"llm:{model}")
    outcomes = [governor.request(ActionRequest(
        intent.action, intent.params, principal, f"selfservice:{message.id}:{i}", customer_id=customer.id,
        conversation_id=inbound.conversation.id, ticket_id=inbound.conversation.zendesk_ticket_id))
        for i, intent in enumerate(intents) if intent is not None]
    if not outcomes:
        return False
    _reply(session, inbound, settings, outcomes)
    return True


def _answer_to_preview(session: Session, inbound: Inbound, settings: Settings, governor: Governor) -> bool:
    """YES runs the previewed change(s); NO drops them; any other message drops them
    too (so a YES much later cannot start something the customer has moved on from)
    and is then answered as usual. A YES with no preview waiting, soon after a request
    of this conversation, is about that request: told where it stands, not handed to a
    person as a message the bot did not understand."""
    waiting = governor.awaiting_customer(inbound.customer)
    if not waiting:
        recent = _recent_request(session, inbound, governor) if YES.match(inbound.message.body) else None
        if recent is None:
            return False
        _reply(session, inbound, settings, [Outcome(recent, governor.describe(recent), repeated=True)])
        return True
    customer = Principal("customer", f"customer:{inbound.customer.id}")
    body = inbound.message.body
    if YES.match(body):
        # Which requests this YES agreed to, kept on the message (committed with the
        # first step of the run), so a retry after a crash carries on with them.
        inbound.message.meta = {**inbound.message.meta, "confirmation_for": [e.id for e in waiting]}
        _reply(session, inbound, settings, [governor.confirm(e, customer) for e in waiting])
        return True
    outcomes = [governor.decline(e, customer) for e in waiting]
    if NO.match(body):
        _reply(session, inbound, settings, outcomes[-1:])
        return True
    return False


def _recent_request(session: Session, inbound: Inbound, governor: Governor) -> ActionExecution | None:
    """This conversation's latest self-service request of the customer's, if it was
    made within the life of a preview (a YES later than that is about something else)."""
    since = datetime.now(UTC) - timedelta(minutes=governor.policy.confirmations.expires_after_minutes)
    return session.scalar(select(ActionExecution).where(
        ActionExecution.account_id == inbound.account.id, ActionExecution.customer_id == inbound.customer.id,
        ActionExecution.conversation_id == inbound.conversation.id, ActionExecution.role.in_(SELF_SERVICE),
        ActionExecution.created_at >= since).order_by(ActionExecution.id.desc()).limit(1))


def _retry_after_code(session: Session, inbound: Inbound, settings: Settings, governor: Governor) -> bool:
    """The code was accepted, then the company's system failed and the event is being
    retried: carry on with the request the code unlocked (the code itself is gone)."""
    execution = session.get(ActionExecution, inbound.message.meta["verification_for"])
    if execution is None or execution.account_id != inbound.account.id \
            or execution.customer_id != inbound.customer.id:
        return False
    _reply(session, inbound, settings, [governor.resume(execution, actor="bot")])
    return True


def _retry_after_yes(session: Session, inbound: Inbound, settings: Settings, governor: Governor) -> bool:
    """The customer's YES was taken, then the run was cut short (a worker lost, the
    company's system down) and the event is being retried: carry on with the requests
    it agreed to (the outbox keys make a call that landed a no-op)."""
    customer = Principal("customer", f"customer:{inbound.customer.id}")
    outcomes = []
    for execution_id in inbound.message.meta["confirmation_for"]:
        execution = session.get(ActionExecution, execution_id)
        if execution is None or execution.account_id != inbound.account.id \
                or execution.customer_id != inbound.customer.id:
            continue
        outcomes.append(governor.confirm(execution, customer) if execution.status == "awaiting_confirmation"
                        else governor.resume(execution, actor=customer.actor, confirmed=True))
    if not outcomes:
        return False
    _reply(session, inbound, settings, outcomes)
    return True


def _reply(session: Session, inbound: Inbound, settings: Settings, outcomes: list[Outcome]) -> Message:
    text = " ".join(outcome.message for outcome in outcomes)
    # One indexed probe, not the whole conversation loaded to look for a bot reply.
    first = session.scalar(select(Message.id).where(
        Message.conversation_id == inbound.conversation.id, Message.author == "bot",
        Message.id != inbound.message.id).limit(1)) is None
    if first:
        text = disclosure(company_name(inbound.account, settings)) + "\n\n" + text
    return send_reply(session, inbound, Decision("action", text, reason=outcomes[-1].status), settings)

"""The text each segment gets: a template with placeholders, personalised per customer
when it is sent, always carrying the AI disclosure and the opt-out wording.

The local path is templates only (deterministic, offline). With an LLM configured the
template may be polished by the model; the result is kept only if it still has exactly
the same placeholders, and the compliance wording is added after the model, never
left to it.
"""
from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.outreach.audience import Member
from switchboard.core.outreach.options import options_for
from switchboard.core.pii.redaction import redact
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.core.texts.i18n import CATALOG_LANGUAGES, ENGLISH, N_, SOURCE_LANGUAGE, Texts, texts_for
from switchboard.core.texts.translation import Translator

log = logging.getLogger(__name__)

OPT_OUT = N_("outreach_opt_out", "Reply STOP to opt out.")
DISCLOSURE = N_("outreach_disclosure", "Automated message from {company}.")
DEFAULT_TEMPLATES = {
    "api": "Hi {first_name}, {detail}",
    "schedule": "Hi {first_name}, {detail}",
    "zendesk": "Hi {first_name}, we know about a problem that may affect you: {detail}. "
               "We are working on it and will keep you posted.",
}
LLM_PROMPT = (
    "Rewrite this customer text message to be clear, warm and short (at most 300 characters). "
    "Keep every placeholder in curly braces exactly as written, add none, and do not add facts. "
    "Answer with the rewritten message only.\n\nMessage:\n{text}"
)


@dataclass(frozen=True)
class Draft:
    text: str
    engine: str  # template, llm


def with_compliance(text: str, company: str, texts: Texts = ENGLISH) -> str:
    """Append the disclosure and opt-out wording (in ``texts``' language) unless the text
    already says them."""
    text = text.strip()
    disclosure = texts(DISCLOSURE, company=company)
    opt_out = texts(OPT_OUT)
    if "automated message" not in text.lower() and disclosure.lower() not in text.lower():
        text = f"{text} {disclosure}"
    if "reply stop" not in text.lower() and opt_out.lower() not in text.lower():
        text = f"{text} {opt_out}"
    return text


def segment_language(key: str) -> str:
    """A segment keyed by a catalog language (``segment_by: locale``) is written in it;
    any other segment in English."""
    return key if key in CATALOG_LANGUAGES else SOURCE_LANGUAGE


def placeholders(text: str) -> set[str]:
    return {name for _l, name, _s, _c in string.Formatter().parse(text) if name}


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def variables(member: Member, detail: str, company: str) -> dict[str, str]:
    name = (member.name or "").strip()
    values = {str(k): str(v) for k, v in member.attributes.items() if v is not None}
    values.update(first_name=name.split()[0] if name else "there", name=name or "there", detail=detail,
                  company=company, tier=member.tier)
    return values


def render(text: str, member: Member, detail: str, company: str) -> str:
    """The text one customer receives; a placeholder with no value renders empty."""
    rendered = string.Formatter().vformat(text, (), _Vars(variables(member, detail, company)))
    return " ".join(rendered.split())


def draft_for(session: Session, account: Account, settings: Settings, *, template: str, key: str,
              campaign_id: int) -> Draft:
    """The segment's draft: the template, improved by the LLM when one is configured."""
    company = options_for(account, settings).company
    language = segment_language(key)
    texts = texts_for(session, account.id, language)
    if not ports.current().chat_model_configured(settings):
        return Draft(with_compliance(template, company, texts), "template")

    try:
        result = ports.current().chat_model(session, account, settings).chat(
            model=settings.model_fast, max_tokens=200,
            messages=[{"role": "user", "content": LLM_PROMPT.format(text=redact(template).text)}],
            idempotency_key=f"outreach-draft:{campaign_id}:{key}")
    except Exception as exc:  # an unavailable model must not block outreach: the template is fine
        log.warning("outreach draft for campaign %s fell back to the template: %s", campaign_id, exc)
        return Draft(with_compliance(template, company, texts), "template")
    improved = (result.text or "").strip()
    if not improved or placeholders(improved) != placeholders(template) or len(improved) > 600:
        return Draft(with_compliance(template, company, texts), "template")
    if language != SOURCE_LANGUAGE:
        improved = _translated(session, account, settings, improved, language) or improved
    return Draft(with_compliance(improved, company, texts), "llm")


def _translated(session: Session, account: Account, settings: Settings, text: str, language: str) -> str | None:
    """The draft in the segment's language, or None (the English draft is kept, and the
    approver sees it) when the model fails or loses a placeholder."""
    try:
        translated = Translator(ports.current().chat_model(session, account, settings), settings).translate(
            text, source=SOURCE_LANGUAGE, target=language).text
    except Exception as exc:  # as above: outreach never waits on the model
        log.warning("outreach draft not translated into %s: %s", language, exc)
        return None
    if not translated or placeholders(translated) != placeholders(text) or len(translated) > 600:
        return None
    return translated


def content_variables(spec_variables: dict[str, Any], member: Member, detail: str, company: str) -> dict[str, str]:
    """A WhatsApp template's variables for one customer (Twilio wants non-empty strings)."""
    return {key: render(str(text), member, detail, company) or "-" for key, text in spec_variables.items()}

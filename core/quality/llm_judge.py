"""Criteria the rubric marks ``judge: llm``, judged by the configured OpenAI-compatible
model (vendors/openai/llm.py, through ``ports``) with a versioned prompt
(``switchboard/prompts/qa_judge_v1.txt``). A model's verdict is used only when every
sentence it rests on is a real sentence of the conversation, in the message it names:
a verdict that quotes what nobody wrote, or nothing, is discarded and the local rule's
verdict kept, so the model can sharpen a score but never invent its evidence. With no
model configured, or when it fails, the local engine's verdicts stand.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.answers.drafting import json_reply, load_prompt
from switchboard.core.ports import VendorError, VendorUnavailable
from switchboard.core.quality.rubric import Rubric
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, Message

PROMPT_VERSION = "qa_judge_v1"
MAX_TOKENS = 800
#: The conversation the model reads: its latest messages, each bounded.
JUDGED_MESSAGES = 60
MESSAGE_CHARS = 1200
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_VERDICTS = ("met", "missed", "n/a")


@dataclass
class Outcome:
    """What the model said: verdicts used (criterion -> verdict, evidence) and discarded (criterion -> why)."""

    used: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)
    discarded: dict[str, str] = field(default_factory=dict)
    model: str | None = None

    def audit_detail(self) -> dict[str, Any]:
        return {"prompt": PROMPT_VERSION, "model": self.model, "used": sorted(self.used),
                "discarded": dict(sorted(self.discarded.items()))}


def _norm(text: str) -> str:
    return " ".join(text.split()).strip().lower()


def sentences_of(message: Message) -> set[str]:
    """The message's sentences, as the local engine splits them, normalised for comparison."""
    return {_norm(s) for s in _SENTENCE.findall(message.body) if _norm(s)}


def _evidence(raw: Any, messages: dict[int, Message]) -> list[dict[str, Any]] | str:
    """The quoted sentences as evidence, or why they cannot be used."""
    if not isinstance(raw, list) or not raw:
        return "no sentence given"
    evidence = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("quote"), str):
            return "a sentence without its quote"
        said = item.get("message_id")
        message = messages.get(said) if isinstance(said, int) and not isinstance(said, bool) else None
        quote = _norm(item["quote"])
        if message is None or not quote:
            return "a sentence from no message of the conversation"
        if not any(quote == s or (len(quote) > 20 and quote in s) for s in sentences_of(message)):
            return f"a quote that is not a sentence of message {message.id}"
        evidence.append({"message_id": message.id, "author": message.author, "quote": item["quote"].strip()[:300],
                         "judge": "llm"})
    return evidence


def parse_verdicts(text: str, wanted: Sequence[str], messages: Sequence[Message]) -> Outcome:
    """The model's answer checked criterion by criterion against the conversation."""
    outcome = Outcome()
    try:
        data = json_reply(text)
        verdicts = data["verdicts"] if isinstance(data, dict) else None
    except (ValueError, KeyError):
        verdicts = None
    if not isinstance(verdicts, list):
        outcome.discarded = {name: "the answer was not the JSON asked for" for name in wanted}
        return outcome
    by_id = {m.id: m for m in messages}
    for item in verdicts:
        name = str(item.get("criterion")) if isinstance(item, dict) else ""
        if name not in wanted or name in outcome.used or name in outcome.discarded:
            continue
        verdict = item.get("verdict")
        if verdict not in _VERDICTS:
            outcome.discarded[name] = f"verdict {verdict!r} is not met, missed or n/a"
            continue
        evidence = [] if verdict == "n/a" else _evidence(item.get("sentences"), by_id)
        if isinstance(evidence, str):
            outcome.discarded[name] = evidence
        else:
            outcome.used[name] = (verdict, evidence)
    for name in wanted:
        if name not in outcome.used:
            outcome.discarded.setdefault(name, "no verdict given")
    return outcome


def _transcript(messages: Sequence[Message]) -> str:
    return "\n".join(f"[{m.id}] {m.author}: {m.body[:MESSAGE_CHARS]}" for m in messages[-JUDGED_MESSAGES:])


def judge_with_model(session: Session, account: Account, settings: Settings, rubric: Rubric,
                     messages: Sequence[Message], criteria: Sequence[str]) -> Outcome | None:
    """The model's checked verdicts on ``criteria`` (those the rubric gives to the LLM);
    None when no model is configured, none is wanted, or the call failed."""
    wanted = [name for name in criteria if name in rubric.llm_judged]
    if not wanted or not messages or not ports.current().chat_model_configured(settings):
        return None
    listed = "\n".join(f"- {name}: {rubric.descriptions.get(name) or name}" for name in wanted)
    system = load_prompt(PROMPT_VERSION).substitute(prompt_version=PROMPT_VERSION, criteria=listed)
    try:
        reply = ports.current().chat_model(session, account, settings).chat(
            model=settings.model_fast, max_tokens=MAX_TOKENS, temperature=0,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": _transcript(messages)}],
            idempotency_key=f"qa-judge:{messages[-1].conversation_id}:{messages[-1].id}:{','.join(wanted)}")
    except (VendorError, VendorUnavailable):
        return None
    outcome = parse_verdicts(reply.text or "", wanted, messages[-JUDGED_MESSAGES:])
    outcome.model = settings.model_fast
    return outcome

"""A knowledge draft written by the configured LLM, kept only when every sentence is
grounded in what the agents replied or an existing article says (issue 38: "a draft
never invents a fact that no agent reply or article states").

The local engine drafts extractively (:mod:`.drafts`): the customer's question as the
title, the agents' sentences as the body. With an OpenAI-compatible model configured,
the model rewrites that into an article under the versioned prompt
``switchboard/prompts/kb_draft_v1.txt``, from the same agents' sentences and the closest
existing articles. Its answer goes through the gate answers go through
(:func:`switchboard.core.answers.grounding.check_grounded`): every body sentence must be
supported by the agents' replies or one of those articles (the title by them or by the
customers' own questions), and neither may hold personal data. One sentence that is
not, an answer that is not the JSON asked for, or a failed call: the extractive draft
is kept, and why is recorded with the version (``kb drafts show``).

The same holds for a draft a later ticket merges into (rewritten from every ticket's
replies) and for an edit of an existing article (prompt ``kb_edit_v1``: the article
revised with what the agents add or correct, its title kept). An edit's model article
is also refused when it still states a sentence the agents corrected (the article's
"within 14 days" where they answer "within 30 days"): grounded in the old article, but
exactly what the edit is for.

Nothing personal is sent: the agents' sentences are those the extractive draft keeps
(a sentence holding personal data or a vault token is dropped whole), and the
customers' questions are sent without vault tokens or placeholders.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.answers.drafting import json_reply, load_prompt
from switchboard.core.answers.grounding import check_grounded
from switchboard.core.knowledge.records import Article, Passage
from switchboard.core.knowledge_loop import edits as kb_edits
from switchboard.core.pii.redaction import PLACEHOLDERS, redact
from switchboard.core.pii.vault import TOKEN as VAULT_TOKEN
from switchboard.core.ports import VendorError, VendorUnavailable
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account

PROMPT_VERSION = "kb_draft_v1"
EDIT_PROMPT_VERSION = "kb_edit_v1"
MAX_TOKENS = 1200
#: What the model reads: bounded so a long thread or article cannot crowd out the rest.
MAX_QUESTIONS = 10
MAX_SENTENCES = 80
ARTICLE_CHARS = 3000
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS.values()))


@dataclass(frozen=True)
class Written:
    """The title and body to draft, and how they were written (recorded with the version):
    ``engine`` local or llm, the prompt and model when one was asked, and ``kept_local``,
    why the model's article was not used."""

    title: str
    body: str
    how: dict[str, Any] = field(default_factory=dict)


def personal_data(text: str, *, region: str | None) -> list[str]:
    """The kinds of personal data ``text`` holds (a vault token or placeholder counts):
    none may reach an article, every customer reads it."""
    found = sorted({f.kind for f in redact(text, default_region=region).findings})
    if VAULT_TOKEN.search(text) or _PLACEHOLDER.search(text):
        found.append("a vault token or placeholder")
    return found


def write(session: Session, account: Account, settings: Settings, *, questions: Sequence[str],
          sentences: Sequence[str], articles: Sequence[Article], local: Written, key: str) -> Written:
    """The model's article when one is configured and it is grounded, else ``local`` (the
    extractive draft), with how it was written. ``sentences`` are the agents' sentences
    as the extractive draft keeps them; ``articles`` the closest existing ones."""
    return _ask(session, account, settings, PROMPT_VERSION, questions=questions, sentences=sentences,
                articles=articles, local=local, key=key)


def write_edit(session: Session, account: Account, settings: Settings, *, article: Article,
               questions: Sequence[str], sentences: Sequence[str], corrected: Sequence[str], local: Written,
               key: str) -> Written:
    """``article`` revised by the model with the agents' sentences, its title kept, when a
    model is configured and the revision is grounded and no longer states any of
    ``corrected`` (the article's sentences the agents' answer contradicts); else
    ``local`` (the extractive revision)."""
    return _ask(session, account, settings, EDIT_PROMPT_VERSION, questions=questions, sentences=sentences,
                articles=[article], local=local, key=key, keep_title=article.title, corrected=corrected)


def _ask(session: Session, account: Account, settings: Settings, prompt: str, *, questions: Sequence[str],
         sentences: Sequence[str], articles: Sequence[Article], local: Written, key: str,
         keep_title: str | None = None, corrected: Sequence[str] = ()) -> Written:
    if not ports.current().chat_model_configured(settings):
        return local
    model = settings.model_strong
    asked = {"engine": "llm", "prompt": prompt, "model": model}
    asking = [q for q in (" ".join(_PLACEHOLDER.sub(" ", VAULT_TOKEN.sub(" ", q)).split()) for q in questions)
              if q and not personal_data(q, region=settings.country)][:MAX_QUESTIONS]
    system = load_prompt(prompt).substitute(prompt_version=prompt)
    try:
        reply = ports.current().chat_model(session, account, settings).chat(
            model=model, max_tokens=MAX_TOKENS, temperature=0, idempotency_key=key,
            messages=[{"role": "system", "content": system},
                      {"role": "user", "content": _material(asking, sentences, articles)}])
    except (VendorError, VendorUnavailable) as exc:
        return _kept(local, asked, f"the model call failed: {exc}")
    parsed = _parsed(reply.text or "", title=keep_title)
    if isinstance(parsed, str):
        return _kept(local, asked, parsed)
    title, body = parsed
    refused = refusal(title, body, sentences=sentences, articles=articles, questions=asking,
                      region=settings.country) or _still_stated(body, corrected)
    if refused is not None:
        return _kept(local, asked, refused)
    return Written(title, body, asked)


def _still_stated(body: str, corrected: Sequence[str]) -> str | None:
    """Why an edit cannot be used: it still says a sentence the agents corrected (the
    same words with the old numbers), or None."""
    for old in corrected:
        old_numbers = kb_edits.numbers(old)
        for sentence in kb_edits.sentences(body):
            if kb_edits.overlap(sentence, old) >= kb_edits.SAME and old_numbers <= kb_edits.numbers(sentence):
                return f"it still states what the agents corrected: {sentence!r}"
    return None


def refusal(title: str, body: str, *, sentences: Sequence[str], articles: Sequence[Article],
            questions: Sequence[str], region: str | None) -> str | None:
    """Why the model's article cannot be used (None: it can): a sentence no agent reply or
    article supports, a title that is not what customers asked, or personal data."""
    for part, text in (("title", title), ("body", body)):
        kinds = personal_data(text, region=region)
        if kinds:
            return f"the {part} holds personal data ({', '.join(kinds)})"
    passages = [Passage("agents#0", "agents", "", "\n".join(sentences))]
    passages += [Passage(f"{a.id}#0", a.id, a.title, f"{a.title}\n{a.body}", a.url, a.locale) for a in articles]
    for part, text, support in (("body", body, passages),
                                ("title", title, [*passages, Passage("asked#0", "asked", "", "\n".join(questions))])):
        checked = check_grounded(text, support)
        if not checked.ok:
            sentence, why = checked.reasons[0]
            return f"a {part} sentence no agent reply or article supports: {sentence!r} ({why})"
    return None


def _kept(local: Written, asked: dict[str, Any], why: str) -> Written:
    return Written(local.title, local.body, {**asked, "engine": "local", "kept_local": why[:500]})


def _parsed(text: str, *, title: str | None = None) -> tuple[str, str] | str:
    """The title and body the model answered, tidied; or why its answer cannot be read.
    With ``title`` given (an edit keeps its article's), only the body is read."""
    try:
        data = json_reply(text)
    except ValueError:
        return "the model's answer was not the JSON asked for"
    if not isinstance(data, dict) or not isinstance(data.get("body"), str) or (
            title is None and not isinstance(data.get("title"), str)):
        return "the model's answer had no title and body" if title is None else "the model's answer had no body"
    title = " ".join((title if title is not None else data["title"]).split())
    body = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", data["body"].strip()) if p.strip())
    if not title or not body:
        return "the model's answer had an empty title or body"
    return title, body


def _material(questions: Sequence[str], sentences: Sequence[str], articles: Sequence[Article]) -> str:
    """What the model writes from, each part labelled."""
    parts = ["Customers asked:", *(f"- {q}" for q in questions), "", "The agents replied:",
             *(f"- {s}" for s in sentences[:MAX_SENTENCES])]
    for number, article in enumerate(articles, 1):
        parts += ["", f"Existing article {number}: {article.title}", article.body[:ARTICLE_CHARS]]
    return "\n".join(parts)

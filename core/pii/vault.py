"""Reversible redaction: the personal data redaction removes, kept encrypted.

Redaction (core/pii/redaction.py) decides *where* personal data is; this module keeps
*what* it was, encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`),
and puts a typed token in its place: ``[PHONE_1]``. Only the token travels on — into
the timeline, the prompts, the logs and the Zendesk notes — so the model never sees
the original, while an agent allowed to can reveal it (audited) and a governed action
can use it without showing it.

Keys come from SWITCHBOARD_VAULT_KEYS (comma-separated, newest first: MultiFernet
encrypts with the first and decrypts with any, which is how a key is rotated). A
single-host install without keys gets one generated in the data directory, as the
dashboard's session secret is.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import accounts
from switchboard.core.accounts.keys import KEY_FILE as KEY_FILE  # the keys moved there; named here as before
from switchboard.core.accounts.keys import Vault as Vault
from switchboard.core.accounts.keys import VaultKeyError as VaultKeyError
from switchboard.core.accounts.keys import vault_for as vault_for
from switchboard.core.pii.redaction import Redacted
from switchboard.core.settings import Settings, vault_reveal_rules
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, VaultEntry
from switchboard.core.store.rows import insert_or_fetch

log = logging.getLogger(__name__)

#: A token as it appears in stored text: the kind in capitals and its number.
TOKEN = re.compile(r"\[(CARD|IBAN|EMAIL|PHONE|GOV_ID)_([0-9]{1,6})\]")


# --- tokens ---------------------------------------------------------------------------


def _same_value(kind: str, value: str) -> str:
    """What makes two spellings one value: "+44 20 7946 0958" and "+442079460958" are
    one phone, "Dana@Example.com" and "dana@example.com" one email."""
    if kind == "email":
        return value.strip().lower()
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def tokenize(session: Session, vault: Vault, *, account_id: int, customer_id: int, conversation_id: int,
             original: str, redacted: Redacted) -> str:
    """``original`` with each finding of ``redacted`` replaced by its token; new values
    are sealed into the vault (in the caller's transaction)."""
    if not redacted.findings:
        return redacted.text
    known = _known(session, vault, conversation_id)
    parts: list[str] = []
    position = 0
    for finding in redacted.findings:
        parts.append(original[position:finding.start])
        value = original[finding.start:finding.end]
        parts.append(_token_for(session, vault, known, account_id=account_id, customer_id=customer_id,
                                conversation_id=conversation_id, kind=finding.kind, value=value))
        position = finding.end
    parts.append(original[position:])
    return "".join(parts)


def _known(session: Session, vault: Vault, conversation_id: int) -> dict[tuple[str, str], str]:
    entries = session.scalars(select(VaultEntry).where(VaultEntry.conversation_id == conversation_id)).all()
    return {(e.kind, _same_value(e.kind, vault.open(e.sealed))): e.token for e in entries}


def _token_for(session: Session, vault: Vault, known: dict[tuple[str, str], str], *, account_id: int,
               customer_id: int, conversation_id: int, kind: str, value: str) -> str:
    key = (kind, _same_value(kind, value))
    for _ in range(5):  # a concurrent message of the same conversation may take the number first
        if key in known:
            return known[key]
        number = 1 + max((int(t[len(kind) + 2:-1]) for (k, _), t in known.items() if k == kind), default=0)
        token = f"[{kind.upper()}_{number}]"
        entry, created = insert_or_fetch(
            session, VaultEntry(account_id=account_id, customer_id=customer_id, conversation_id=conversation_id,
                                kind=kind, token=token, sealed=vault.seal(value)),
            partial(_entry, session, conversation_id, token))
        if created:
            known[key] = token
            return token
        known.update(_known(session, vault, conversation_id))
    raise RuntimeError(f"could not number a {kind} of conversation {conversation_id}; the event will be retried")


def _entry(session: Session, conversation_id: int, token: str) -> VaultEntry | None:
    return session.scalar(select(VaultEntry).where(VaultEntry.conversation_id == conversation_id,
                                                   VaultEntry.token == token))


def tokens_in(text: str) -> list[str]:
    """The vault tokens ``text`` mentions, in order, each once."""
    return list(dict.fromkeys(match.group() for match in TOKEN.finditer(text)))


def entries_of(session: Session, account_id: int, conversation_id: int) -> Sequence[VaultEntry]:
    return session.scalars(select(VaultEntry).where(VaultEntry.account_id == account_id,
                                                    VaultEntry.conversation_id == conversation_id)
                           .order_by(VaultEntry.id)).all()


def resolve(session: Session, vault: Vault, *, account_id: int, conversation_id: int, text: str) -> str:
    """``text`` with the conversation's tokens replaced by their values: for a governed
    action to use (a callback number) without the value being shown or stored. Never
    for a message to the customer: :func:`echoable` decides what one may carry."""
    values = {e.token: e for e in entries_of(session, account_id, conversation_id)}
    return TOKEN.sub(lambda m: vault.open(values[m.group()].sealed) if m.group() in values else m.group(), text)


#: The kinds a message to the customer may carry as their value: the contact details
#: they gave us to be reached on ("we will call you at [PHONE_1]"). A card, IBAN or
#: national id is never opened into a message, whoever wrote its token: an SMS or a
#: WhatsApp message is no place for one (PCI DSS 4.2.2 for card numbers), and a model
#: talked into writing "[CARD_1]" by the text it reads must get nothing out of it.
ECHOED_KINDS = frozenset({"phone", "email"})


def echoable(session: Session, *, account_id: int, conversation_id: int, text: str,
             drawn_from: Iterable[str] = ()) -> list[str]:
    """The tokens of ``text``, a message about to go to the customer, that may reach them
    as their value: tokens of this conversation's vault (only what the customer wrote
    in this conversation is vaulted under it), of a kind in ECHOED_KINDS, and named by
    none of ``drawn_from``, the article text the message was built from. A token in an
    article was put there by whoever wrote the article, not by the customer: it stays
    a token, as does anything an agent writes (agents' replies are never opened)."""
    mentioned = tokens_in(text)
    if not mentioned:
        return []
    planted = {token for source in drawn_from for token in tokens_in(source)}
    kinds = {e.token: e.kind for e in entries_of(session, account_id, conversation_id)}
    return [t for t in mentioned if kinds.get(t) in ECHOED_KINDS and t not in planted]


def opened(session: Session, vault: Vault, *, account_id: int, conversation_id: int, text: str,
           tokens: Iterable[str]) -> str:
    """``text`` with ``tokens`` (those :func:`echoable` allowed, recorded with the message)
    replaced by their values, for the one request that delivers it; any other token,
    and one erased since, stays as written."""
    wanted = set(tokens)
    if not wanted:
        return text
    values = {e.token: e for e in entries_of(session, account_id, conversation_id) if e.token in wanted}
    return TOKEN.sub(lambda m: vault.open(values[m.group()].sealed) if m.group() in values else m.group(), text)


def unknown_tokens(session: Session, *, account_id: int, conversation_id: int | None, text: str) -> list[str]:
    """The tokens ``text`` mentions that this conversation's vault does not hold (made
    up, from another conversation, or erased since): a request naming one is refused,
    so a value can never be borrowed from another customer's conversation."""
    mentioned = tokens_in(text)
    if not mentioned:
        return []
    known = {e.token for e in entries_of(session, account_id, conversation_id)} if conversation_id else set()
    return [token for token in mentioned if token not in known]


def rotate_all(session: Session, vault: Vault) -> int:
    """Seal every value again with the newest key; returns how many were rotated."""
    count = 0
    for entry in session.scalars(select(VaultEntry).execution_options(yield_per=500)):
        entry.sealed = vault.rotate(entry.sealed)
        count += 1
    return count


# --- reveal ---------------------------------------------------------------------------


class RevealRefused(PermissionError):
    """The agent may not see this kind of value (account settings), is not identified, or
    is identified only by what their own browser says where the rule names agents."""


class UnknownToken(LookupError):
    """The conversation has no such token (never vaulted, or erased or expired since)."""


def reveal_rules(account: Account, settings: Settings) -> dict[str, frozenset[str] | None]:
    """Who may reveal which kind for ``account``: SWITCHBOARD_VAULT_REVEAL for the default
    account, its ``vault_reveal`` setting for the others."""
    raw = accounts.setting(account, "vault_reveal", settings, str, inherit=True) or settings.vault_reveal
    return vault_reveal_rules(raw, name=accounts.secret_variable(account, "vault_reveal"))


def may_reveal(rules: dict[str, frozenset[str] | None], kind: str, agent_id: str | None, *,
               verified: bool) -> bool:
    """``verified``: Zendesk's signed token named the agent. A rule naming agents
    ("card:381") is only as strong as the id it is checked against, and the app's
    X-Zendesk-User-Id header is set by the agent's own browser: any agent could claim
    to be 381. So such a rule needs the signed token; a rule for every identified agent
    ("phone") does not, since whoever they claim to be may see it."""
    if agent_id is None or kind not in rules:
        return False
    allowed = rules[kind]
    return allowed is None or (verified and agent_id in allowed)


def reveal(session: Session, vault: Vault, account: Account, settings: Settings, *, conversation_id: int,
           token: str, agent_id: str | None, agent_verified: bool, actor: str,
           agent_detail: dict[str, object] | None) -> str:
    """The value behind ``token``, for an agent allowed to see its kind; every attempt,
    shown or refused, is audited (the token and kind, never the value). The caller
    commits, refusals included."""
    entry = session.scalar(select(VaultEntry).where(VaultEntry.account_id == account.id,
                                                    VaultEntry.conversation_id == conversation_id,
                                                    VaultEntry.token == token))
    if entry is None:
        raise UnknownToken(f"{token} is not in this conversation's vault (erased, expired, or never vaulted)")
    detail: dict[str, object] = {"token": token, "kind": entry.kind, "conversation_id": conversation_id}
    if agent_detail:
        detail["agent"] = agent_detail
    rules = reveal_rules(account, settings)
    if not may_reveal(rules, entry.kind, agent_id, verified=agent_verified):
        audit(session, account_id=account.id, actor=actor, action="vault.reveal_refused",
              subject_type="conversation", subject_id=conversation_id, detail=detail)
        raise RevealRefused(_refusal(rules, entry.kind, agent_id, agent_verified))
    value = vault.open(entry.sealed)
    audit(session, account_id=account.id, actor=actor, action="vault.reveal", subject_type="conversation",
          subject_id=conversation_id, detail=detail)
    return value


def _refusal(rules: dict[str, frozenset[str] | None], kind: str, agent_id: str | None, verified: bool) -> str:
    """Why, and what an administrator can change."""
    named = rules.get(kind)
    if agent_id is not None and named is not None and agent_id in named and not verified:
        return (f"{kind} values may be revealed only by the Zendesk users the vault_reveal setting names, and this "
                f"request says it is user {agent_id} only in the X-Zendesk-User-Id header, which the agent's own "
                "browser sets: reveal it from a request carrying Zendesk's signed token (the app's signed URLs, "
                "verified with SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY or the account's zendesk_app_public_key), or "
                f"allow '{kind}' to every agent")
    who = "an agent the app does not identify" if agent_id is None else f"Zendesk user {agent_id}"
    return (f"{who} may not reveal {kind} values; an administrator can allow it in the account's vault_reveal "
            f"setting (SWITCHBOARD_VAULT_REVEAL), e.g. '{kind}' or '{kind}:<zendesk user id>' (a rule naming "
            "users needs Zendesk's signed token)")

"""Which account a request belongs to, and that account's secrets.

The default account mirrors the environment variables; its secrets are read from the
settings on every use and never copied into the database. Further accounts (a
deployment serving several companies) keep theirs in ``Account.secrets``, sealed with
the vault's keys (``vault:`` and a Fernet token): whoever reads the table, a backup or
a replica without the keys does not get a vendor's token. Their plain settings
(ACCOUNT_SETTINGS: channels, hours, origins) are stored as they are.
"""
from __future__ import annotations

import hashlib
import secrets as token_source
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from switchboard.core.accounts.keys import Vault, vault_for
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, ApiKey
from switchboard.core.store.rows import insert_or_fetch

DEFAULT_SLUG = "default"
#: What customers are told they talk to while the default account has no company name:
#: never "Default account", which is our placeholder, not a company.
NEUTRAL_COMPANY = "Customer support"
KEY_PREFIX = "sb_"
T = TypeVar("T")

#: Names of per-account secrets, and the environment variable behind each for the
#: default account.
SECRET_VARIABLES = {
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "zendesk_webhook_secret": "ZENDESK_WEBHOOK_SECRET",
    "zendesk_api_token": "ZENDESK_API_TOKEN",
    "slack_bot_token": "SLACK_BOT_TOKEN",
}
#: Further per-account values kept beside the secrets, under the name of the setting the
#: default account reads from the environment variable instead.
ACCOUNT_SETTINGS = {
    "zendesk_email": "ZENDESK_EMAIL",
    "zendesk_app_public_key": "SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY",
    "slack_digest_channel": "SWITCHBOARD_SLACK_DIGEST_CHANNEL",
    "slack_approval_channel": "SWITCHBOARD_SLACK_APPROVAL_CHANNEL",
    "outreach_approvers": "SWITCHBOARD_OUTREACH_APPROVERS",
    "outreach_quiet_hours": "SWITCHBOARD_OUTREACH_QUIET_HOURS",
    "outreach_rate": "SWITCHBOARD_OUTREACH_RATE",
    "voice_support_number": "SWITCHBOARD_VOICE_SUPPORT_NUMBER",
    "voice_support_queue": "SWITCHBOARD_VOICE_QUEUE",
    "voice_hours": "SWITCHBOARD_VOICE_HOURS",
    "voice_timezone": "SWITCHBOARD_VOICE_TIMEZONE",
    "voice_language": "SWITCHBOARD_VOICE_LANGUAGE",
    "voice_name": "SWITCHBOARD_VOICE_NAME",
    "vault_reveal": "SWITCHBOARD_VAULT_REVEAL",
    "retention_days": "SWITCHBOARD_RETENTION_DAYS",
    "webchat_origins": "SWITCHBOARD_WEBCHAT_ORIGINS",
    "webchat_name": "SWITCHBOARD_WEBCHAT_NAME",
    "webchat_colour": "SWITCHBOARD_WEBCHAT_COLOUR",
    "webchat_greeting": "SWITCHBOARD_WEBCHAT_GREETING",
    "twilio_verify_service_sid": "TWILIO_VERIFY_SERVICE_SID",
    "kb_approvers": "SWITCHBOARD_KB_APPROVERS",
    "help_center_section_id": "SWITCHBOARD_HELP_CENTER_SECTION_ID",
    "qa_rubric_file": "SWITCHBOARD_QA_RUBRIC_FILE",
    "guardrails_file": "SWITCHBOARD_GUARDRAILS_FILE",
    "dispositions_file": "SWITCHBOARD_DISPOSITIONS_FILE",
    "agent_handle_minutes": "SWITCHBOARD_AGENT_HANDLE_MINUTES",
}


def settable_names(action_secrets: Iterable[str] = ()) -> dict[str, str]:
    """Everything a further account keeps in ``Account.secrets``: the name it is stored
    under, and the environment variable the default account reads instead. The secrets
    of the systems in actions.yaml (SHOP_API_TOKEN) are stored in lower case, which is
    where vendors/http_action.py looks for them."""
    return {**SECRET_VARIABLES, **ACCOUNT_SETTINGS, **{variable.lower(): variable for variable in action_secrets}}


def ensure_default_account(session: Session, settings: Settings) -> Account:
    """Create or refresh the default account from the environment's public identifiers.

    Every process runs this as it starts, so on a fresh database several gunicorn
    workers race to create the row: the loser takes the winner's row rather than
    failing to boot."""
    def find() -> Account | None:
        return session.scalar(select(Account).where(Account.slug == DEFAULT_SLUG))

    found = find()
    account = found if found is not None else insert_or_fetch(
        session, Account(slug=DEFAULT_SLUG, name="Default account", secrets={}), find)[0]
    account.zendesk_subdomain = settings.zendesk_subdomain
    account.twilio_account_sid = settings.twilio_account_sid
    account.twilio_phone_number = settings.twilio_phone_number
    account.twilio_whatsapp_number = whatsapp_address(settings.twilio_whatsapp_number)
    session.commit()
    return account


def whatsapp_address(number: str | None) -> str | None:
    """How Twilio names a WhatsApp sender in a webhook's ``To`` (``whatsapp:+E.164``),
    which is what inbound deliveries are matched against."""
    if number and not number.startswith("whatsapp:"):
        return f"whatsapp:{number}"
    return number


#: How a sealed value starts in ``Account.secrets`` (a Fernet token follows).
SEALED = "vault:"


def is_secret(name: str) -> bool:
    """Whether ``name`` is kept sealed: every name but the plain ACCOUNT_SETTINGS (the
    vendors' secrets, and the secrets of the systems in actions.yaml)."""
    return name not in ACCOUNT_SETTINGS


def seal_setting(vault: Vault, name: str, value: str) -> str:
    """What ``Account.secrets`` stores for ``name``: a secret sealed, a setting as it is."""
    return SEALED + vault.seal(value).decode("ascii") if is_secret(name) and value else value


def stored_secret(account: Account, name: str, settings: Settings) -> str | None:
    """A further account's stored ``name``, opened. A value without the ``vault:`` mark
    is one written before secrets were sealed (migration 0019 seals them; a process
    still running the old code may write one meanwhile) and is read as it is."""
    raw = (account.secrets or {}).get(name)
    if not raw:
        return None
    if isinstance(raw, str) and raw.startswith(SEALED):
        return vault_for(settings).open(raw[len(SEALED):].encode("ascii")) or None
    return str(raw)


def set_setting(account: Account, name: str, value: str, settings: Settings) -> None:
    """Store ``name`` for a further account: sealed when it is a secret."""
    account.secrets = {**(account.secrets or {}), name: seal_setting(vault_for(settings), name, value)}


def reseal_secrets(account: Account, vault: Vault) -> int:
    """Seal the account's secrets again with the newest key (and any still in plain text
    for the first time); returns how many were written."""
    stored = dict(account.secrets or {})
    changed = 0
    for name, raw in stored.items():
        if not (is_secret(name) and isinstance(raw, str) and raw):
            continue
        if raw.startswith(SEALED):
            stored[name] = SEALED + vault.rotate(raw[len(SEALED):].encode("ascii")).decode("ascii")
        else:
            stored[name] = seal_setting(vault, name, raw)
        changed += 1
    if changed:
        account.secrets = stored
    return changed


def secret(account: Account, name: str, settings: Settings) -> str | None:
    """The account's secret or setting ``name`` (of SECRET_VARIABLES or ACCOUNT_SETTINGS):
    the environment's for the default account, its own for the others; None when unset."""
    if account.slug == DEFAULT_SLUG:
        return getattr(settings, name)
    return stored_secret(account, name, settings)


def setting(account: Account, name: str, settings: Settings, read: Callable[[str], T], *,
            inherit: bool = False) -> T | None:
    """The account's setting ``name`` (of ACCOUNT_SETTINGS), as ``read`` makes it of its text.

    The one place the rule is written: the default account reads the environment (the
    Settings field of that name, already read and checked at start-up); a further account
    its own stored value (`switchboard accounts set-secret`). A further account without
    one gets the environment's when ``inherit`` (a deployment-wide default, e.g. the
    retention period) and None when not (its own line, never the default's: a support
    number, a widget's origins)."""
    if account.slug == DEFAULT_SLUG:
        return cast("T | None", getattr(settings, name))
    raw = stored_secret(account, name, settings)
    if raw is None or not raw.strip():
        return cast("T | None", getattr(settings, name)) if inherit else None
    return read(raw.strip())


def secret_variable(account: Account, name: str) -> str:
    """What a person must set to provide ``name`` for this account (for error messages)."""
    if account.slug == DEFAULT_SLUG:
        return {**SECRET_VARIABLES, **ACCOUNT_SETTINGS}[name]
    kind = "secret" if name in SECRET_VARIABLES else "setting"
    return f"the {name} {kind} of account {account.slug!r} (switchboard accounts set-secret)"


def accounts_for_twilio(session: Session, account_sid: str, to: str) -> Sequence[Account]:
    """Accounts that may own a Twilio delivery: matched by the number called first,
    then by Account SID (a subaccount's numbers may not be listed)."""
    by_number = session.scalars(
        select(Account).where(
            or_(Account.twilio_phone_number == to, Account.twilio_whatsapp_number == to)
        )
    ).all()
    if by_number:
        return by_number
    return session.scalars(select(Account).where(Account.twilio_account_sid == account_sid)).all()


def all_accounts(session: Session) -> Sequence[Account]:
    return session.scalars(select(Account).order_by(Account.id)).all()


def by_slug(session: Session, slug: str) -> Account | None:
    return session.scalar(select(Account).where(Account.slug == slug))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, account: Account, name: str = "default") -> str:
    """Make a key for ``account`` and return it; only its hash is kept. Nothing of the
    secret part is stored or shown anywhere else: a key is named by its id and name
    (``key_label``)."""
    key = KEY_PREFIX + token_source.token_urlsafe(32)
    session.add(ApiKey(account_id=account.id, name=name, prefix=KEY_PREFIX, key_hash=_hash(key)))
    session.commit()
    return key


def api_key_row(session: Session, key: str) -> ApiKey | None:
    """The live key ``key`` is, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key), ApiKey.revoked_at.is_(None)))


def account_for_api_key(session: Session, key: str) -> Account | None:
    row = api_key_row(session, key)
    return session.get(Account, row.account_id) if row else None


def key_label(row: ApiKey) -> str:
    """Who acted, for audit trails and Slack: ``api:key:3:outreach-bot``, the key's id
    and name. Never characters of the key itself."""
    return f"api:key:{row.id}:{row.name}"[:200]


def revoke_api_keys(session: Session, account: Account) -> int:
    rows = session.scalars(
        select(ApiKey).where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = datetime.now(UTC)
    session.commit()
    return len(rows)


def company_name(account: Account, settings: Settings) -> str | None:
    """The company customers are told they are talking to: SWITCHBOARD_COMPANY_NAME for the
    default account (None while it is unset), the account's own name for the others."""
    if account.slug == DEFAULT_SLUG:
        return settings.company_name or None
    return account.name

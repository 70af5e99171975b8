"""Settings read from the environment once, validated at start-up.

Every variable is checked when the service starts, not when it is first used, so a
typo in a URL fails the deploy with a message naming the variable instead of failing
the first customer message hours later.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from cryptography.fernet import Fernet

from switchboard.core.business_hours import BadHours, parse
from switchboard.core.dispatch import LINGER_SECONDS, MAX_BATCH
from switchboard.core.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
#: The kinds of personal data redaction finds (core/pii/redaction.py) and the vault keeps.
VAULT_KINDS = ("card", "iban", "email", "phone", "gov_id")
#: Who may reveal a vaulted value unless configured: any identified agent a callback
#: number or an email; nobody a card, IBAN or national id.
DEFAULT_VAULT_REVEAL = "phone,email"
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    public_url: str | None
    sandbox: bool
    data_dir: Path
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_phone_number: str | None = None
    twilio_whatsapp_number: str | None = None
    #: Twilio Verify's service (VA…): one-time codes for web visitors proving a phone or email.
    twilio_verify_service_sid: str | None = None
    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: str | None = None
    zendesk_webhook_secret: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    #: Slack's Web API root; another for GovSlack (https://slack-gov.com/api/) or a stand-in.
    slack_api_url: str | None = None
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    model_fast: str = "gpt-4o-mini"
    model_strong: str = "gpt-4o"
    sweep_after_seconds: int = 60
    sweep_interval_seconds: int = 30
    #: The most accepted events one queue message carries, and how long (ms) a web
    #: process waits for others to join the first (core/dispatch.py).
    dispatch_batch: int = MAX_BATCH
    dispatch_linger_ms: int = round(LINGER_SECONDS * 1000)
    queue_name: str = "switchboard"
    company_name: str | None = None
    #: Where the company's customers mostly are (ISO 3166-1 alpha-2): how phone numbers
    #: written in national form are read when the sender's own region says nothing.
    country: str | None = None
    whatsapp_reply_template_sid: str | None = None
    routing_file: Path | None = None
    policy_file: Path | None = None
    embeddings: str | None = "e5"
    style_file: Path | None = None
    #: What no reply may say (core/quality/policy.py); the shipped default when None.
    guardrails_file: Path | None = None
    #: How conversations are scored when they end (core/quality/rubric.py).
    qa_rubric_file: Path | None = None
    #: The wrap-up written to Zendesk when a conversation ends: the disposition codes (a
    #: file), the ticket field that takes the code, and whether a conversation the bot
    #: resolved alone is logged as a solved ticket.
    dispositions_file: Path | None = None
    zendesk_disposition_field_id: int | None = None
    zendesk_log_bot_conversations: bool = True
    #: The lines an agent must say on a transferred call (core/calls/script.py); None: the shipped one.
    call_script_file: Path | None = None
    zendesk_app_public_key: str | None = None
    slack_digest_channel: str | None = None
    actions_file: Path | None = None
    action_policy_file: Path | None = None
    # Outreach (issue 6): where approvals go, who may decide, when and how fast to send.
    slack_approval_channel: str | None = None
    outreach_approvers: tuple[str, ...] = ()
    outreach_quiet_hours: str | None = "21:00-08:00"
    outreach_rate: float = 10.0
    outreach_approval_hours: int = 24
    outreach_lease_seconds: int = 120
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    # Shared by every host (issue 14): the session-cookie key and the /metrics token.
    secret_key: str | None = None
    metrics_token: str | None = None
    # Voice (issue 21): where a caller is put through, when someone answers, how the bot sounds.
    voice_support_number: str | None = None
    voice_support_queue: str | None = None
    voice_hours: str | None = None
    voice_timezone: str = "UTC"
    voice_language: str = "en-US"
    voice_name: str | None = None
    # Privacy (issue 20): the vault's keys (newest first), who may reveal which kind, how long data is kept.
    vault_keys: tuple[str, ...] = ()
    vault_reveal: str = DEFAULT_VAULT_REVEAL
    retention_days: int | None = None
    # Web chat (issue 21): the sites allowed to embed the widget, and how it looks.
    webchat_origins: tuple[str, ...] = ()
    webchat_name: str | None = None
    webchat_colour: str = "#1f73b7"
    webchat_greeting: str | None = None
    #: Load the models and knowledge indexes once in the Celery main process, before it
    #: forks its pool, so the children share those pages instead of each loading a copy.
    worker_preload: bool = True
    #: SWITCHBOARD_TRUSTED_PROXIES: how many reverse proxies stand in front of the web
    #: processes (0, the default: none). With N, the client's address and scheme are read
    #: from the X-Forwarded-For and X-Forwarded-Proto the N nearest proxies added
    #: (werkzeug's ProxyFix), and only those: behind a proxy on the same host every request
    #: would otherwise come from 127.0.0.1, so the pages for "this machine only" (the
    #: playground, the key file's path on the sign-in page) would be public and the web
    #: chat's per-IP limits one limit for everybody. Without a proxy keep 0: forwarded
    #: headers a client sends are then ignored, so none can pass as another address.
    trusted_proxies: int = 0
    #: SWITCHBOARD_PLAYGROUND: serve /playground (to this machine only, and only while
    #: Twilio is sandboxed, so it never texts anyone). Unset: only in sandbox mode, where
    #: no vendor is live (SWITCHBOARD_SANDBOX=1, or no credentials at all, as for `switchboard
    #: serve` on a laptop). 1: also when Zendesk or Slack are live (its made-up customers then
    #: reach your real agents); 0: never.
    playground: bool | None = None
    # The improvement loop (issue 38): who approves drafted articles (default: the outreach
    # approvers), and where an approved one goes in the Zendesk Help Center.
    kb_approvers: tuple[str, ...] = ()
    help_center_section_id: str | None = None
    help_center_locale: str = "en-us"
    help_center_draft: bool = True
    help_center_permission_group_id: str | None = None
    #: An agent's minutes per conversation handed over: what the knowledge loop's
    #: measures count a handover avoided as (agent hours saved per published draft).
    agent_handle_minutes: float = 6.0

    @property
    def twilio_status_callback(self) -> str | None:
        """Where Twilio reports a sent message's delivery status: known only with a public
        URL (the web chat's messenger has no statuses and ignores it)."""
        return f"{self.public_url}/webhooks/twilio/status" if self.public_url else None

    @property
    def embedded(self) -> bool:
        """No Redis: tasks run in this process, so a newcomer needs no servers."""
        return self.redis_url is None

    def public(self) -> dict[str, object]:
        """The settings with every secret masked, for `switchboard config` and logs."""
        secret_words = ("token", "secret", "key")
        shown: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value and any(word in f.name for word in secret_words):
                value = "***"
            shown[f.name] = str(value) if isinstance(value, Path) else value
        return shown


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value: set it to 1 or 0.")


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = _optional(env, name)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(
            f"{name}={value!r} is not a valid URL: expected one starting with "
            f"{' or '.join(s + '://' for s in schemes)}."
        )
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small: use {minimum} or more.")
    return value


#: More proxies than anyone chains in front of a web app: a larger number is a typo.
MAX_TRUSTED_PROXIES = 5


def _trusted_proxies(env: Mapping[str, str]) -> int:
    value = _int(env, "SWITCHBOARD_TRUSTED_PROXIES", 0, minimum=0)
    if value > MAX_TRUSTED_PROXIES:
        raise ConfigError(f"SWITCHBOARD_TRUSTED_PROXIES={value}: set it to the number of reverse proxies in front "
                          f"of Switchboard (usually 1), at most {MAX_TRUSTED_PROXIES}; 0 when there is none.")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _optional(env, name)
    if value is not None and value not in allowed:
        raise ConfigError(f"{name}={value!r}: use one of {', '.join(allowed)}, or leave it unset.")
    return value


def _pem(env: Mapping[str, str], name: str) -> str | None:
    """A PEM public key given inline or as a file path (Zendesk app → signed URLs)."""
    value = _optional(env, name)
    if value is None:
        return None
    text = value if "BEGIN PUBLIC KEY" in value else (_file(env, name) or Path()).read_text()
    if "BEGIN PUBLIC KEY" not in text:
        raise ConfigError(f"{name} is not a PEM public key (-----BEGIN PUBLIC KEY-----) nor a file holding one.")
    return text


def _content_sid(env: Mapping[str, str], name: str) -> str | None:
    value = _optional(env, name)
    if value and not (value.startswith("HX") and len(value) == 34):
        raise ConfigError(f"{name}={value!r} is not a Content SID (34 characters starting with HX, "
                          "from Twilio Console → Content Template Builder).")
    return value


_VERIFY_SERVICE_SID = re.compile(r"VA[0-9a-fA-F]{32}")


def verify_service_sid(raw: str | None, where: str = "TWILIO_VERIFY_SERVICE_SID") -> str | None:
    """A Twilio Verify Service SID ("VA" and 32 hex digits), or None when unset."""
    value = (raw or "").strip() or None
    if value and not _VERIFY_SERVICE_SID.fullmatch(value):
        raise ConfigError(f"{where}={value!r} is not a Verify Service SID (VA and 32 hex digits, from Twilio Console "
                          "→ Verify → Services).")
    return value


def _file(env: Mapping[str, str], name: str) -> Path | None:
    value = _optional(env, name)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}={value!r}: no such file.")
    return path


def _pair(env: Mapping[str, str], first: str, second: str) -> None:
    """Credentials that only work together must be set together."""
    if bool(_optional(env, first)) != bool(_optional(env, second)):
        missing = second if _optional(env, first) else first
        present = first if missing == second else second
        raise ConfigError(f"{present} is set but {missing} is not: set both, or neither.")


class _OutreachSettings(TypedDict):
    slack_approval_channel: str | None
    outreach_approvers: tuple[str, ...]
    outreach_quiet_hours: str | None
    outreach_rate: float
    outreach_approval_hours: int
    outreach_lease_seconds: int
    slack_client_id: str | None
    slack_client_secret: str | None


def outreach_approvers(raw: str | None, where: str = "SWITCHBOARD_OUTREACH_APPROVERS") -> tuple[str, ...]:
    """Slack user ids, comma-separated; ``where`` names the setting in the error."""
    approvers = tuple(v.strip() for v in (raw or "").split(",") if v.strip())
    for approver in approvers:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", approver):
            raise ConfigError(f"{where}: {approver!r} is not a Slack user id (U… or W…, "
                              "from the member's profile → Copy member ID).")
    return approvers


def outreach_quiet_hours(raw: str | None, where: str = "SWITCHBOARD_OUTREACH_QUIET_HOURS") -> str | None:
    """``HH:MM-HH:MM``, or ``off`` (None); unset is the default 21:00-08:00."""
    if raw is None:
        return "21:00-08:00"
    if raw.lower() == "off":
        return None
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", raw):
        raise ConfigError(f"{where}={raw!r}: use HH:MM-HH:MM (e.g. 21:00-08:00), or off.")
    return raw


def outreach_rate(raw: str | None, where: str = "SWITCHBOARD_OUTREACH_RATE") -> float:
    """Messages per second, above 0 and at most 1000; unset is 10."""
    return _above_zero(raw or "10", where, 1000, noun="messages per second",
                       use="a rate above 0 and at most 1000 per second")


def _above_zero(raw: str, where: str, high: float, *, noun: str, use: str) -> float:
    """A number above 0 and at most ``high``; each refusal says what to write."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{where}={raw!r} is not a number of {noun}.") from None
    if not 0 < value <= high:
        raise ConfigError(f"{where}={raw!r}: use {use}.")
    return value


#: An agent's handle time when none is set: a short chat or messaging ticket's.
DEFAULT_HANDLE_MINUTES = 6.0


def handle_minutes(raw: str | None, where: str = "SWITCHBOARD_AGENT_HANDLE_MINUTES") -> float:
    """An agent's minutes per handed-over conversation, above 0 and at most 480; unset is 6."""
    if raw is None or not raw.strip():
        return DEFAULT_HANDLE_MINUTES
    return _above_zero(raw, where, 480, noun="minutes (e.g. 6 or 7.5)",
                       use="minutes above 0 and at most 480 (a working day)")


def _outreach(env: Mapping[str, str]) -> _OutreachSettings:
    """Outreach settings (issue 6); each bad value names its variable."""
    approvers = outreach_approvers(env.get("SWITCHBOARD_OUTREACH_APPROVERS"))
    quiet = outreach_quiet_hours(_optional(env, "SWITCHBOARD_OUTREACH_QUIET_HOURS"))
    rate = outreach_rate(_optional(env, "SWITCHBOARD_OUTREACH_RATE"))
    _pair(env, "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
    return {
        "slack_approval_channel": _optional(env, "SWITCHBOARD_SLACK_APPROVAL_CHANNEL"),
        "outreach_approvers": approvers,
        "outreach_quiet_hours": quiet,
        "outreach_rate": rate,
        "outreach_approval_hours": _int(env, "SWITCHBOARD_OUTREACH_APPROVAL_HOURS", 24, minimum=1),
        "outreach_lease_seconds": _int(env, "SWITCHBOARD_OUTREACH_LEASE_SECONDS", 120, minimum=1),
        "slack_client_id": _optional(env, "SLACK_CLIENT_ID"),
        "slack_client_secret": _optional(env, "SLACK_CLIENT_SECRET"),
    }


def _country(env: Mapping[str, str]) -> str | None:
    value = _optional(env, "SWITCHBOARD_COUNTRY")
    if value is None:
        return None
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        hint = " (the United Kingdom is GB)" if value.upper() == "UK" else ""
        raise ConfigError(f"SWITCHBOARD_COUNTRY={value!r} is not a country code{hint}: use ISO 3166-1 alpha-2, "
                          "e.g. US, GB or DE.")
    return value.upper()


def _secret_key(env: Mapping[str, str]) -> str | None:
    value = _optional(env, "SWITCHBOARD_SECRET_KEY")
    if value is not None and len(value) < 32:
        raise ConfigError("SWITCHBOARD_SECRET_KEY is shorter than 32 characters: use a long random value, e.g. "
                          "`python -c 'import secrets; print(secrets.token_hex(32))'`, the same on every host.")
    return value


class _VoiceSettings(TypedDict):
    voice_support_number: str | None
    voice_support_queue: str | None
    voice_hours: str | None
    voice_timezone: str
    voice_language: str
    voice_name: str | None


def _voice(env: Mapping[str, str]) -> _VoiceSettings:
    """Voice settings (issue 21); each bad value names its variable."""
    number = _optional(env, "SWITCHBOARD_VOICE_SUPPORT_NUMBER")
    if number is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        raise ConfigError(f"SWITCHBOARD_VOICE_SUPPORT_NUMBER={number!r} is not an E.164 phone number "
                          "(+ and the country code, e.g. +442079460958).")
    hours = _optional(env, "SWITCHBOARD_VOICE_HOURS")
    if hours is not None:
        try:
            parse(hours)
        except BadHours as exc:
            raise ConfigError(f"SWITCHBOARD_VOICE_HOURS: {exc}.") from None
    zone = _optional(env, "SWITCHBOARD_VOICE_TIMEZONE") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SWITCHBOARD_VOICE_TIMEZONE={zone!r} is not a time zone: use an IANA name, "
                          "e.g. Europe/London or America/New_York.") from None
    language = _optional(env, "SWITCHBOARD_VOICE_LANGUAGE") or "en-US"
    if not re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}", language):
        raise ConfigError(f"SWITCHBOARD_VOICE_LANGUAGE={language!r} is not a language tag Twilio's speech "
                          "recognition takes: use language-REGION, e.g. en-US, en-GB or es-ES.")
    return {
        "voice_support_number": number,
        "voice_support_queue": _optional(env, "SWITCHBOARD_VOICE_QUEUE"),
        "voice_hours": hours,
        "voice_timezone": zone,
        "voice_language": language,
        "voice_name": _optional(env, "SWITCHBOARD_VOICE_NAME"),
    }
def vault_reveal_rules(raw: str, name: str = "SWITCHBOARD_VAULT_REVEAL") -> dict[str, frozenset[str] | None]:
    """``phone,email,card:381|902`` -> {kind: None (any identified agent) or the Zendesk
    user ids allowed}. A kind not named may be revealed by nobody; ``none`` names none."""
    rules: dict[str, frozenset[str] | None] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part or part.lower() == "none":
            continue
        kind, _, who = part.partition(":")
        kind = kind.strip().lower()
        if kind not in VAULT_KINDS:
            raise ConfigError(f"{name}: {kind!r} is not a kind of personal data; use {', '.join(VAULT_KINDS)}, "
                              "e.g. 'phone,email,card:381|902' (card only for Zendesk users 381 and 902).")
        ids = frozenset(i.strip() for i in who.split("|") if i.strip()) if who else None
        if ids is not None and not all(i.isascii() and i.isdigit() for i in ids):
            raise ConfigError(f"{name}: {part!r}: after the colon list Zendesk user ids separated by |, "
                              "e.g. card:381|902.")
        rules[kind] = ids
    return rules


def _vault_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """Fernet keys, newest first: the first encrypts, every one decrypts (rotation)."""
    keys = tuple(k.strip() for k in (env.get("SWITCHBOARD_VAULT_KEYS") or "").split(",") if k.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(f"SWITCHBOARD_VAULT_KEYS: key {position} is not a Fernet key (32 url-safe base64 "
                              "bytes); make one with `python -c 'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())'`.") from None
    return keys


def _vault_reveal(env: Mapping[str, str]) -> str:
    raw = env.get("SWITCHBOARD_VAULT_REVEAL")
    value = DEFAULT_VAULT_REVEAL if raw is None else raw.strip()
    vault_reveal_rules(value)
    return value


def _retention_days(env: Mapping[str, str]) -> int | None:
    raw = _optional(env, "SWITCHBOARD_RETENTION_DAYS")
    return None if raw is None or raw.lower() == "off" else _int(env, "SWITCHBOARD_RETENTION_DAYS", 0, minimum=1)


#: The widget's colour when none is set.
DEFAULT_WEBCHAT_COLOUR = "#1f73b7"


def webchat_origins(raw: str | None, where: str = "SWITCHBOARD_WEBCHAT_ORIGINS") -> tuple[str, ...]:
    """The sites allowed to embed the chat widget: origins (scheme://host[:port], no
    path), separated by spaces or commas."""
    origins = []
    for origin in (o.strip() for o in re.split(r"[\s,]+", raw or "") if o.strip()):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise ConfigError(f"{where}: {origin!r} is not an origin; list the sites that embed the widget as "
                              "scheme://host[:port] without a path, e.g. https://www.example.com "
                              "https://shop.example.com")
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return tuple(dict.fromkeys(origins))


def webchat_colour(raw: str | None, where: str = "SWITCHBOARD_WEBCHAT_COLOUR") -> str:
    """``#RRGGBB``; unset is the default blue."""
    if raw is None or not raw.strip():
        return DEFAULT_WEBCHAT_COLOUR
    value = raw.strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ConfigError(f"{where}={value!r} is not a colour: use #RRGGBB, e.g. #1f73b7.")
    return value.lower()


def data_dir_from(env: Mapping[str, str]) -> Path:
    """SWITCHBOARD_DATA_DIR, or the working directory: also read by the gunicorn settings,
    which keep their per-run files there before any app is loaded."""
    return Path(env.get("SWITCHBOARD_DATA_DIR") or Path.cwd()).resolve()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build and validate the settings; raises ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    data_dir = data_dir_from(env)
    database_url = _url(
        env,
        "SWITCHBOARD_DATABASE_URL",
        ("sqlite", "postgresql", "postgresql+psycopg", "postgres"),
    ) or f"sqlite:///{data_dir / 'switchboard.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    _pair(env, "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    _pair(env, "ZENDESK_EMAIL", "ZENDESK_API_TOKEN")
    sid = _optional(env, "TWILIO_ACCOUNT_SID")
    if sid and not (sid.startswith("AC") and len(sid) == 34):
        raise ConfigError(
            f"TWILIO_ACCOUNT_SID={sid!r} does not look like an Account SID "
            "(34 characters starting with AC, from the Twilio Console)."
        )
    subdomain = _optional(env, "ZENDESK_SUBDOMAIN")
    if subdomain and ("." in subdomain or "/" in subdomain):
        raise ConfigError(
            f"ZENDESK_SUBDOMAIN={subdomain!r} should be only the subdomain, "
            "e.g. 'acme' for acme.zendesk.com."
        )
    return Settings(
        database_url=database_url,
        redis_url=_url(env, "SWITCHBOARD_REDIS_URL", ("redis", "rediss", "unix")),
        public_url=(_url(env, "SWITCHBOARD_PUBLIC_URL", ("http", "https")) or "").rstrip("/")
        or None,
        sandbox=_flag(env, "SWITCHBOARD_SANDBOX", default=False),
        data_dir=data_dir,
        twilio_account_sid=sid,
        twilio_auth_token=_optional(env, "TWILIO_AUTH_TOKEN"),
        twilio_phone_number=_optional(env, "TWILIO_PHONE_NUMBER"),
        twilio_whatsapp_number=_optional(env, "TWILIO_WHATSAPP_NUMBER"),
        twilio_verify_service_sid=verify_service_sid(env.get("TWILIO_VERIFY_SERVICE_SID")),
        zendesk_subdomain=subdomain,
        zendesk_email=_optional(env, "ZENDESK_EMAIL"),
        zendesk_api_token=_optional(env, "ZENDESK_API_TOKEN"),
        zendesk_webhook_secret=_optional(env, "ZENDESK_WEBHOOK_SECRET"),
        slack_bot_token=_optional(env, "SLACK_BOT_TOKEN"),
        slack_signing_secret=_optional(env, "SLACK_SIGNING_SECRET"),
        slack_api_url=_url(env, "SLACK_API_URL", ("http", "https")),
        openai_api_key=_optional(env, "OPENAI_API_KEY"),
        openai_base_url=_url(env, "OPENAI_BASE_URL", ("http", "https")),
        model_fast=_optional(env, "SWITCHBOARD_MODEL_FAST") or "gpt-4o-mini",
        model_strong=_optional(env, "SWITCHBOARD_MODEL_STRONG") or "gpt-4o",
        sweep_after_seconds=_int(env, "SWITCHBOARD_SWEEP_AFTER_SECONDS", 60, minimum=1),
        sweep_interval_seconds=_int(env, "SWITCHBOARD_SWEEP_INTERVAL_SECONDS", 30, minimum=1),
        dispatch_batch=_int(env, "SWITCHBOARD_DISPATCH_BATCH", MAX_BATCH, minimum=1),
        dispatch_linger_ms=_int(env, "SWITCHBOARD_DISPATCH_LINGER_MS", round(LINGER_SECONDS * 1000), minimum=0),
        queue_name=_optional(env, "SWITCHBOARD_QUEUE") or "switchboard",
        company_name=_optional(env, "SWITCHBOARD_COMPANY_NAME"),
        country=_country(env),
        whatsapp_reply_template_sid=_content_sid(env, "SWITCHBOARD_WHATSAPP_TEMPLATE_SID"),
        routing_file=_file(env, "SWITCHBOARD_ROUTING_FILE"),
        policy_file=_file(env, "SWITCHBOARD_POLICY_FILE"),
        embeddings=_choice(env, "SWITCHBOARD_EMBEDDINGS", ("e5", "wordllama", "minilm", "none")) or "e5",
        style_file=_file(env, "SWITCHBOARD_STYLE_FILE"),
        guardrails_file=_file(env, "SWITCHBOARD_GUARDRAILS_FILE"),
        qa_rubric_file=_file(env, "SWITCHBOARD_QA_RUBRIC_FILE"),
        dispositions_file=_file(env, "SWITCHBOARD_DISPOSITIONS_FILE"),
        zendesk_disposition_field_id=_int(env, "SWITCHBOARD_ZENDESK_DISPOSITION_FIELD_ID", 0, minimum=0) or None,
        zendesk_log_bot_conversations=_flag(env, "SWITCHBOARD_ZENDESK_LOG_BOT_CONVERSATIONS", default=True),
        call_script_file=_file(env, "SWITCHBOARD_CALL_SCRIPT_FILE"),
        zendesk_app_public_key=_pem(env, "SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY"),
        slack_digest_channel=_optional(env, "SWITCHBOARD_SLACK_DIGEST_CHANNEL"),
        actions_file=_file(env, "SWITCHBOARD_ACTIONS_FILE"),
        action_policy_file=_file(env, "SWITCHBOARD_ACTION_POLICY_FILE"),
        secret_key=_secret_key(env),
        metrics_token=_optional(env, "SWITCHBOARD_METRICS_TOKEN"),
        vault_keys=_vault_keys(env),
        vault_reveal=_vault_reveal(env),
        retention_days=_retention_days(env),
        webchat_origins=webchat_origins(env.get("SWITCHBOARD_WEBCHAT_ORIGINS")),
        webchat_name=_optional(env, "SWITCHBOARD_WEBCHAT_NAME"),
        webchat_colour=webchat_colour(_optional(env, "SWITCHBOARD_WEBCHAT_COLOUR")),
        webchat_greeting=_optional(env, "SWITCHBOARD_WEBCHAT_GREETING"),
        worker_preload=_flag(env, "SWITCHBOARD_WORKER_PRELOAD", default=True),
        trusted_proxies=_trusted_proxies(env),
        playground=None if not env.get("SWITCHBOARD_PLAYGROUND", "").strip()
        else _flag(env, "SWITCHBOARD_PLAYGROUND", default=False),
        **_outreach(env),
        **_voice(env),
        kb_approvers=outreach_approvers(env.get("SWITCHBOARD_KB_APPROVERS"), "SWITCHBOARD_KB_APPROVERS"),
        help_center_section_id=_optional(env, "SWITCHBOARD_HELP_CENTER_SECTION_ID"),
        help_center_locale=_optional(env, "SWITCHBOARD_HELP_CENTER_LOCALE") or "en-us",
        help_center_draft=_flag(env, "SWITCHBOARD_HELP_CENTER_DRAFT", default=True),
        help_center_permission_group_id=_optional(env, "SWITCHBOARD_HELP_CENTER_PERMISSION_GROUP_ID"),
        agent_handle_minutes=handle_minutes(env.get("SWITCHBOARD_AGENT_HANDLE_MINUTES")),
    )

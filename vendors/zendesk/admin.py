"""The Zendesk side of the handoff, declared in ``manifests/zendesk`` and applied
through the API.

The webhook (and any triggers) live in files so a reviewer sees exactly what an
account gets, and so every account gets the same thing. Applying them is idempotent:
each object is found by its name (webhooks) or title (triggers), compared with its
declaration, and written only when it differs. A second run makes no write at all,
which is what makes it safe to run on every deploy, and safe to re-run after a rate
limit or a failure half-way.

Nothing here sleeps or retries: provisioning is an operator's command, so an error
stops it with a message that says what to fix, and re-running picks up where it
stopped.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from switchboard.core.errors import SwitchboardError
from switchboard.core.resources import manifests_dir
from switchboard.core.settings import Settings
from switchboard.vendors.outbound import retry_after_seconds

#: The repository's manifests. An installed wheel does not carry them: pass
#: ``manifests_dir`` there.
MANIFESTS_DIR = manifests_dir() / "zendesk"
WEBHOOK_FILE = "webhook.json"
TRIGGERS_DIR = "triggers"
#: Every trigger title carries this, so provision can tell its own triggers from the
#: account's and report the ones a manifest no longer declares.
TRIGGER_TAG = "[Switchboard]"
PUBLIC_URL = "{{PUBLIC_URL}}"
WEBHOOK_ID = "{{WEBHOOK_ID}}"
#: Our placeholders are upper case; Zendesk's own ({{ticket.id}}) never are, so a
#: leftover upper-case one is a typo in a manifest, not something for Zendesk.
OUR_PLACEHOLDER = re.compile(r"\{\{[A-Z][A-Z0-9_]*\}\}")
#: The subscription that makes a webhook usable from triggers. Zendesk keeps the two
#: kinds apart: a webhook subscribed to events cannot be used by a trigger, and a
#: webhook's kind cannot be changed once created.
TRIGGER_CONNECTED = "conditional_ticket_events"
PAGE_SIZE = 100
TIMEOUT_SECONDS = 20.0
#: Zendesk sends Retry-After with every 429; this is for a proxy that drops it.
DEFAULT_RETRY_AFTER = 60.0

Action = Literal["created", "updated", "unchanged"]


class ProvisionError(SwitchboardError):
    """Provisioning stopped; the message says what to fix before running it again."""


class ManifestError(ProvisionError):
    """A manifest file is missing, unreadable or inconsistent; nothing was sent."""


class ZendeskCredentialsRejected(ProvisionError):
    """Zendesk answered 401 or 403: the email/token pair is wrong or not an admin's."""

    def __init__(self, status: int, subdomain: str, said: str) -> None:
        self.status = status
        why = ("it does not know this email and token" if status == 401
               else "this user may not manage webhooks and triggers (an admin is needed)")
        super().__init__(
            f"Zendesk {subdomain}.zendesk.com refused the credentials (HTTP {status}: {why}). "
            "Check ZENDESK_EMAIL (an admin's sign-in email) and ZENDESK_API_TOKEN (an API token from "
            "Admin Center → Apps and integrations → APIs, with token access enabled)."
            + (f" Zendesk said: {said}" if said else "")
        )


class ZendeskRateLimited(ProvisionError):
    """Zendesk answered 429. Finished steps are kept, so running again after
    ``retry_after`` seconds only does what is left."""

    def __init__(self, retry_after: float, doing: str) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Zendesk's rate limit was reached while {doing}: wait {retry_after:.0f} s and run the "
            "provisioning again (what is already done will be reported unchanged)."
        )


class ZendeskRequestFailed(ProvisionError):
    """Zendesk refused a request; the message names the manifest behind it and
    quotes Zendesk's own description of the problem."""

    def __init__(self, status: int, doing: str, manifest: str, said: str) -> None:
        self.status = status
        self.manifest = manifest
        self.description = said
        super().__init__(
            f"Zendesk answered HTTP {status} while {doing} (from {manifest}): "
            f"{said or 'no description given'}. Fix {manifest} or the account, then run again."
        )


class ZendeskUnreachable(ProvisionError):
    """No HTTP answer at all: a wrong subdomain, DNS or network trouble."""


class AmbiguousMatch(ProvisionError):
    """Zendesk names need not be unique; with two candidates provision would have
    to guess which one to overwrite, so it refuses instead."""


class WebhookConnectionConflict(ProvisionError):
    """The existing webhook is event-subscribed and the manifest wants a
    trigger-connected one, or the reverse; Zendesk cannot convert between them."""


@dataclass(frozen=True)
class ProvisionedItem:
    kind: Literal["webhook", "trigger"]
    name: str
    action: Action
    id: str


@dataclass(frozen=True)
class ProvisionReport:
    items: tuple[ProvisionedItem, ...]
    signing_secret: str
    #: "[Switchboard]" triggers in Zendesk that no manifest declares any more: left
    #: alone (they may be someone's edit), but worth deleting.
    stale_triggers: tuple[str, ...] = ()

    @property
    def webhook_id(self) -> str:
        return next(item.id for item in self.items if item.kind == "webhook")

    @property
    def changed(self) -> bool:
        return any(item.action != "unchanged" for item in self.items)

    def lines(self) -> list[str]:
        """What the CLI prints: one line per object, then what the operator must do."""
        shown = [f"{item.kind:8} {item.action:9} {item.name} (id {item.id})" for item in self.items]
        shown += [f"trigger  stale     {title}: no manifest declares it; delete it in Zendesk if unused"
                  for title in self.stale_triggers]
        shown.append(f"ZENDESK_WEBHOOK_SECRET={self.signing_secret}")
        shown.append("Set that in Switchboard's environment (or `switchboard accounts set-secret <account> "
                     "zendesk_webhook_secret`) and restart, or Zendesk's deliveries are refused.")
        return shown


@dataclass(frozen=True)
class Manifest:
    path: Path
    body: dict[str, Any]

    @property
    def label(self) -> str:
        """How errors name the file, so the operator knows which one to fix."""
        return str(self.path)


@dataclass(frozen=True)
class Manifests:
    webhook: Manifest
    triggers: tuple[Manifest, ...] = ()


# --- manifests ---------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist: pass the folder holding {WEBHOOK_FILE} "
                            "and triggers/ (the repository's manifests/zendesk).") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}.") from None
    if not isinstance(body, dict):
        raise ManifestError(f"{path} must hold one JSON object, not {type(body).__name__}.")
    body.pop("$comment", None)  # documentation for readers, not for Zendesk
    return body


def _require(manifest: Manifest, keys: tuple[str, ...]) -> None:
    missing = [key for key in keys if key not in manifest.body]
    if missing:
        raise ManifestError(f"{manifest.path} lacks {', '.join(missing)}: Zendesk requires them.")


def load_manifests(manifests_dir: Path | None = None) -> Manifests:
    """Read and check the declarations before any request, so a mistake in a file
    never leaves an account half-provisioned."""
    root = Path(manifests_dir) if manifests_dir is not None else MANIFESTS_DIR
    webhook = Manifest(root / WEBHOOK_FILE, _read(root / WEBHOOK_FILE))
    _require(webhook, ("name", "endpoint", "http_method", "request_format", "status"))
    triggers = tuple(Manifest(path, _read(path)) for path in sorted((root / TRIGGERS_DIR).glob("*.json")))
    titles: dict[str, Path] = {}
    for trigger in triggers:
        _check_trigger(trigger)
        title = trigger.body["title"]
        if title in titles:
            raise ManifestError(f"{trigger.path} and {titles[title]} both declare {title!r}: "
                                "titles identify triggers, so they must differ.")
        titles[title] = trigger.path
    subscriptions = webhook.body.get("subscriptions") or []
    if triggers and subscriptions != [TRIGGER_CONNECTED]:
        raise ManifestError(
            f"{webhook.path} subscribes to {subscriptions} but triggers/ declares triggers: Zendesk "
            f"lets only a webhook with subscriptions [{TRIGGER_CONNECTED!r}] be used by triggers. "
            "Either remove the trigger files or make the webhook trigger-connected."
        )
    for manifest in (webhook, *triggers):
        unknown = set(OUR_PLACEHOLDER.findall(json.dumps(manifest.body))) - {PUBLIC_URL, WEBHOOK_ID}
        if unknown:
            raise ManifestError(f"{manifest.path} uses {', '.join(sorted(unknown))}: only "
                                f"{PUBLIC_URL} and {WEBHOOK_ID} are filled in by provision.")
    return Manifests(webhook, triggers)


def _check_trigger(trigger: Manifest) -> None:
    _require(trigger, ("title", "conditions", "actions"))
    title, conditions, actions = (trigger.body[key] for key in ("title", "conditions", "actions"))
    if not isinstance(title, str) or TRIGGER_TAG not in title:
        raise ManifestError(f"{trigger.path}: the title {title!r} must contain {TRIGGER_TAG!r}, "
                            "which is how provision finds its own triggers again.")
    if not (isinstance(conditions, dict) and isinstance(actions, list)
            and all(isinstance(action, dict) for action in actions)):
        raise ManifestError(f"{trigger.path}: conditions must be an object with \"all\" and \"any\" lists, "
                            "and actions a list of {\"field\": …, \"value\": …} objects.")
    for action in actions:
        value = action.get("value")
        if action.get("field") == "notification_webhook" and not (
                isinstance(value, list) and len(value) == 2 and value[0] == WEBHOOK_ID):
            raise ManifestError(
                f"{trigger.path}: a notification_webhook action's value must be [{WEBHOOK_ID!r}, "
                "<JSON body>]; webhook ids differ per account, so provision fills it in."
            )


def _fill(value: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for token, replacement in replacements.items():
            value = value.replace(token, replacement)
        return value
    if isinstance(value, list):
        return [_fill(item, replacements) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, replacements) for key, item in value.items()}
    return value


def render_webhook(manifest: Manifest, public_url: str) -> dict[str, Any]:
    return _fill(manifest.body, {PUBLIC_URL: public_url})


def render_trigger(manifest: Manifest, public_url: str, webhook_id: str) -> dict[str, Any]:
    """The trigger as Zendesk takes it: ids filled in, and a JSON body written as an
    object in the manifest (readable, checked by the JSON parser) sent as the string
    Zendesk stores."""
    body = _fill(manifest.body, {PUBLIC_URL: public_url, WEBHOOK_ID: webhook_id})
    for action in body["actions"]:
        if action.get("field") == "notification_webhook" and not isinstance(action["value"][1], str):
            action["value"] = [action["value"][0], json.dumps(action["value"][1], indent=2, ensure_ascii=False)]
    return body


def _public_url(raw: str) -> str:
    url = (raw or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProvisionError(f"public URL {raw!r} is not an absolute http(s) URL: set SWITCHBOARD_PUBLIC_URL "
                             "to the origin Zendesk can reach, e.g. https://support.example.com.")
    return url


# --- comparing what Zendesk has with what is declared -----------------------------


def _scalar(value: Any) -> Any:
    """Zendesk keeps condition values as strings (a manifest may say true or 5 where
    Zendesk says "true" or "5"), and stores a webhook body as a string it may space
    differently: compared raw, such a trigger would be rewritten on every run."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        # A JSON body compares by meaning, so Zendesk re-spacing it is not a change.
        return parsed if isinstance(parsed, dict | list) else value
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    return value


def _conditions(value: Any) -> dict[str, list[Any]]:
    value = value or {}
    return {group: [{key: _scalar(item) for key, item in condition.items()}
                    for condition in value.get(group) or []] for group in ("all", "any")}


def _actions(value: Any) -> list[dict[str, Any]]:
    return [{key: _scalar(item) for key, item in action.items()} for action in value or []]


def _same(key: str, declared: Any, current: Any) -> bool:
    if key == "subscriptions":
        return sorted(declared or []) == sorted(current or [])
    if key == "conditions":
        return _conditions(declared) == _conditions(current)
    if key == "actions":
        return _actions(declared) == _actions(current)
    return _scalar(declared) == _scalar(current)


def differs(declared: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Only declared keys count: Zendesk adds its own (id, url, position, ...)."""
    return any(not _same(key, value, current.get(key)) for key, value in declared.items())


# --- HTTP ----------------------------------------------------------------------------


def _said(response: requests.Response) -> str:
    """Zendesk's explanation, from any of the error shapes its APIs use."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    parts: list[str] = []
    for item in body.get("errors") or []:  # the webhooks API: [{code, title, detail}]
        if isinstance(item, dict):
            parts.append(": ".join(str(item[k]) for k in ("title", "detail") if item.get(k)))
    error = body.get("error")
    if isinstance(error, dict):
        parts.append(": ".join(str(error[k]) for k in ("title", "message") if error.get(k)))
    elif error:
        parts.append(str(error))
    if body.get("description"):
        parts.append(str(body["description"]))
    details = body.get("details")
    if isinstance(details, dict):  # RecordInvalid: {field: [{description}]}
        for field_name, problems in details.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, dict) else problem
                parts.append(f"{field_name}: {text}")
    return "; ".join(part for part in parts if part) or response.text.strip()[:300]


class ZendeskAdmin:
    """A thin client for the admin endpoints provision needs, with errors that name
    the manifest a request came from."""

    def __init__(self, subdomain: str, email: str, api_token: str,
                 session: requests.Session | None = None) -> None:
        self.subdomain = subdomain
        self.base = f"https://{subdomain}.zendesk.com"
        self.http = session or requests.Session()
        self.auth = (f"{email}/token", api_token)

    def request(self, method: str, url: str, *, doing: str, manifest: str,
                params: Mapping[str, Any] | None = None, body: Any = None) -> dict[str, Any]:
        if url.startswith("/"):
            url = self.base + url
        elif not url.startswith(self.base + "/"):
            # Never send the admin token to another host, whatever a pagination link says.
            raise ProvisionError(f"Zendesk pointed to {url} while {doing}, outside {self.base}: refusing "
                                 "to send the API token there. Check ZENDESK_SUBDOMAIN.")
        try:
            response = self.http.request(method, url, params=params, json=body, auth=self.auth,
                                         timeout=TIMEOUT_SECONDS, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise ZendeskUnreachable(
                f"could not reach {self.base} while {doing} ({type(exc).__name__}): check "
                "ZENDESK_SUBDOMAIN (only the subdomain, e.g. 'acme' for acme.zendesk.com) and the network."
            ) from exc
        if response.status_code in (401, 403):
            raise ZendeskCredentialsRejected(response.status_code, self.subdomain, _said(response))
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"), DEFAULT_RETRY_AFTER)
            raise ZendeskRateLimited(wait, doing)
        if response.status_code >= 400:
            raise ZendeskRequestFailed(response.status_code, doing, manifest, _said(response))
        if response.status_code == 204 or not response.content:
            return {}  # Update Webhook answers 204 with no body
        try:
            answer = response.json()
        except ValueError:
            raise ZendeskRequestFailed(response.status_code, doing, manifest,
                                       f"the answer is not JSON: {response.text[:200]!r}") from None
        return answer if isinstance(answer, dict) else {}

    def pages(self, path: str, key: str, *, doing: str, manifest: str,
              params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following cursor pagination (links.next
        while meta.has_more) or, from endpoints that only offer it, next_page."""
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "page[size]": PAGE_SIZE}
        seen: set[str] = set()
        while url is not None:
            answer = self.request("GET", url, params=query, doing=doing, manifest=manifest)
            yield from (item for item in answer.get(key) or [] if isinstance(item, dict))
            links, meta = answer.get("links") or {}, answer.get("meta") or {}
            following = links.get("next") if meta.get("has_more") else answer.get("next_page")
            url, query = (following, None) if following and following not in seen else (None, None)
            if following:
                seen.add(following)


# --- provisioning --------------------------------------------------------------------


def _one(found: list[dict[str, Any]], what: str, where: str) -> dict[str, Any] | None:
    if len(found) > 1:
        ids = ", ".join(str(item.get("id")) for item in found)
        raise AmbiguousMatch(f"Zendesk has {len(found)} {what} (ids {ids}): delete the extra ones in "
                             f"{where} so provision knows which one is Switchboard's, then run again.")
    return found[0] if found else None


def _created_id(answer: dict[str, Any], key: str, doing: str, manifest: Manifest) -> str:
    created = answer.get(key)
    if not isinstance(created, dict) or not created.get("id"):
        raise ZendeskRequestFailed(201, doing, manifest.label, f"the answer carries no {key} id")
    return str(created["id"])


def _connection(subscriptions: Any) -> str:
    return "trigger-connected" if TRIGGER_CONNECTED in (subscriptions or []) else "event-subscribed"


def _apply_webhook(zendesk: ZendeskAdmin, manifest: Manifest, public_url: str) -> ProvisionedItem:
    declared = render_webhook(manifest, public_url)
    name = declared["name"]
    where = "Admin Center → Apps and integrations → Actions and webhooks → Webhooks"
    candidates = zendesk.pages("/api/v2/webhooks", "webhooks", doing=f"looking for the webhook {name!r}",
                               manifest=manifest.label, params={"filter[name_contains]": name})
    current = _one([hook for hook in candidates if hook.get("name") == name], f"webhooks named {name!r}", where)
    if current is None:
        doing = f"creating the webhook {name!r}"
        created = zendesk.request("POST", "/api/v2/webhooks", body={"webhook": declared},
                                  doing=doing, manifest=manifest.label)
        return ProvisionedItem("webhook", name, "created", _created_id(created, "webhook", doing, manifest))
    hook_id = str(current["id"])
    if not differs(declared, current):
        return ProvisionedItem("webhook", name, "unchanged", hook_id)
    if _connection(current.get("subscriptions")) != _connection(declared.get("subscriptions")):
        raise WebhookConnectionConflict(
            f"the webhook {name!r} (id {hook_id}) in Zendesk is {_connection(current.get('subscriptions'))} but "
            f"{manifest.label} declares it {_connection(declared.get('subscriptions'))}, and Zendesk cannot "
            f"change that on an existing webhook. Delete it ({where}), run provision again, and set "
            "ZENDESK_WEBHOOK_SECRET to the new webhook's secret."
        )
    zendesk.request("PUT", f"/api/v2/webhooks/{hook_id}", body={"webhook": declared},
                    doing=f"updating the webhook {name!r}", manifest=manifest.label)
    return ProvisionedItem("webhook", name, "updated", hook_id)


def _signing_secret(zendesk: ZendeskAdmin, webhook: ProvisionedItem, manifest: Manifest) -> str:
    answer = zendesk.request("GET", f"/api/v2/webhooks/{webhook.id}/signing_secret",
                             doing=f"reading the signing secret of {webhook.name!r}", manifest=manifest.label)
    secret = (answer.get("signing_secret") or {}).get("secret")
    if not secret:
        raise ZendeskRequestFailed(200, f"reading the signing secret of {webhook.name!r}", manifest.label,
                                   "the answer carries no signing_secret.secret")
    return str(secret)


def _apply_triggers(zendesk: ZendeskAdmin, manifests: Manifests, public_url: str,
                    webhook_id: str) -> tuple[list[ProvisionedItem], tuple[str, ...]]:
    label = manifests.triggers[0].label if manifests.triggers else f"{TRIGGERS_DIR}/"
    ours: dict[str, list[dict[str, Any]]] = {}
    for trigger in zendesk.pages("/api/v2/triggers", "triggers", doing="listing triggers", manifest=label):
        title = trigger.get("title") or ""
        if TRIGGER_TAG in title:
            ours.setdefault(title, []).append(trigger)
    items: list[ProvisionedItem] = []
    for manifest in manifests.triggers:
        declared = render_trigger(manifest, public_url, webhook_id)
        title = declared["title"]
        current = _one(ours.pop(title, []), f"triggers titled {title!r}",
                       "Admin Center → Objects and rules → Business rules → Triggers")
        if current is None:
            doing = f"creating the trigger {title!r}"
            created = zendesk.request("POST", "/api/v2/triggers", body={"trigger": declared},
                                      doing=doing, manifest=manifest.label)
            trigger_id = _created_id(created, "trigger", doing, manifest)
            items.append(ProvisionedItem("trigger", title, "created", trigger_id))
        elif differs(declared, current):
            # PUT replaces conditions and actions together, so send the whole declaration.
            zendesk.request("PUT", f"/api/v2/triggers/{current['id']}", body={"trigger": declared},
                            doing=f"updating the trigger {title!r}", manifest=manifest.label)
            items.append(ProvisionedItem("trigger", title, "updated", str(current["id"])))
        else:
            items.append(ProvisionedItem("trigger", title, "unchanged", str(current["id"])))
    return items, tuple(sorted(ours))


def provision(
    *,
    subdomain: str,
    email: str,
    api_token: str,
    public_url: str,
    manifests_dir: Path | None = None,
    session: requests.Session | None = None,
) -> ProvisionReport:
    """Make the account's webhook and triggers match the manifests; returns what was
    done and the webhook's signing secret (for ZENDESK_WEBHOOK_SECRET).

    ``manifests_dir`` is the folder holding ``webhook.json`` and ``triggers/``
    (default: the repository's ``manifests/zendesk``). The webhook comes first
    because triggers need its id.
    """
    manifests = load_manifests(manifests_dir)
    url = _public_url(public_url)
    zendesk = ZendeskAdmin(subdomain, email, api_token, session)
    webhook = _apply_webhook(zendesk, manifests.webhook, url)
    triggers, stale = _apply_triggers(zendesk, manifests, url, webhook.id)
    secret = _signing_secret(zendesk, webhook, manifests.webhook)
    return ProvisionReport((webhook, *triggers), secret, stale)


def provision_from_settings(settings: Settings, *, manifests_dir: Path | None = None,
                            session: requests.Session | None = None) -> ProvisionReport:
    """``provision`` with the default account's variables: what ``switchboard zendesk
    provision`` calls. Raises ProvisionError naming every variable still unset."""
    needed = {"ZENDESK_SUBDOMAIN": settings.zendesk_subdomain, "ZENDESK_EMAIL": settings.zendesk_email,
              "ZENDESK_API_TOKEN": settings.zendesk_api_token, "SWITCHBOARD_PUBLIC_URL": settings.public_url}
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise ProvisionError(f"set {', '.join(missing)} first: provisioning needs the Zendesk account, an "
                             "admin's email and API token, and the public URL Zendesk will call.")
    return provision(subdomain=str(settings.zendesk_subdomain), email=str(settings.zendesk_email),
                     api_token=str(settings.zendesk_api_token), public_url=str(settings.public_url),
                     manifests_dir=manifests_dir, session=session)

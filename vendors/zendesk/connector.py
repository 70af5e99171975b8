"""Tickets, internal notes and end users in Zendesk, through zenpy.

The outbox payload is the JSON body zenpy puts on the wire (``{"ticket": {...}}``),
produced by zenpy's own serialisation of its objects, so the sandbox shows the exact
request. The live call rebuilds the zenpy objects from that payload: a retried task
sends what was recorded, not what the code would build today.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy.orm import Session
from zenpy import Zenpy
from zenpy.lib.api_objects import BaseObject, Comment, Ticket, User
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded
from zenpy.lib.util import dict_clean, json_encode_for_zendesk

from switchboard.core.accounts import secret, secret_variable
from switchboard.core.knowledge.html_edit import HtmlEditError, revised_html
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    CallResult,
    Connector,
    VendorError,
    VendorOutcomeUnknown,
    VendorRateLimited,
    VendorUnavailable,
    may_have_reached_vendor,
    retry_after_seconds,
)

#: Zendesk sends Retry-After with every 429; this is only for a proxy that strips it.
DEFAULT_RETRY_AFTER = 10.0
TIMEOUT_SECONDS = 20.0
#: Articles a page when listing the Help Center (cursor pagination allows up to 100).
HELP_CENTER_PAGE_SIZE = 100
#: Sandbox ids start here so they look like real ones and never collide with tiny
#: test fixtures' ids.
SANDBOX_ID_BASE = 100_000
#: The outbox operations of an article created in a Help Center section, and of an
#: existing article's title and body changed (its translation in one locale).
HELP_CENTER_ARTICLE = "help_center.articles.create"
HELP_CENTER_TRANSLATION = "help_center.translations.update"


class ZendeskConnector(Connector):
    vendor = "zendesk"

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        super().__init__(session, account, settings)
        self._retry_after: str | None = None
        self._pending_key: str | None = None

    @classmethod
    def configured(cls, account: Account, settings: Settings) -> bool:
        """A classmethod so the registry can tell sandboxed vendors without a session."""
        return bool(account.zendesk_subdomain and _email(account, settings)
                    and secret(account, "zendesk_api_token", settings))

    def has_credentials(self) -> bool:
        return self.configured(self.account, self.settings)

    def create_ticket(
        self,
        *,
        requester: dict[str, Any],
        subject: str,
        comment_body: str,
        public: bool = False,
        tags: Sequence[str] = (),
        priority: str | None = None,
        group_id: int | None = None,
        custom_fields: Sequence[dict[str, Any]] = (),
        idempotency_key: str | None = None,
        external_id: str | None = None,
    ) -> CallResult:
        """Open a ticket; the response carries ``ticket_id``.

        ``requester`` is ``{"name", "email"}`` (Zendesk finds or creates that user) or
        ``{"id": ...}`` for a user already known, e.g. from ``find_or_create_user``.
        A ticket created under an ``idempotency_key`` carries an ``external_id`` (by
        default derived from the key and account): a worker taking over an attempt that
        died mid-call finds the ticket by it instead of creating a second one.
        """
        if external_id is None and idempotency_key is not None:
            external_id = ticket_external_id(self.account, idempotency_key)
        ticket = Ticket(
            subject=subject,
            comment=Comment(body=comment_body, public=public),
            tags=list(tags) or None,
            priority=priority,
            group_id=group_id,
            custom_fields=[dict(field) for field in custom_fields] or None,
            external_id=external_id,
            **_requester(requester),
        )
        return self.call("tickets.create", {"ticket": _wire(ticket)}, idempotency_key=idempotency_key)

    def add_comment(
        self,
        ticket_id: int,
        *,
        body: str,
        public: bool,
        tags: Sequence[str] = (),
        priority: str | None = None,
        author_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> CallResult:
        """Add a comment; ``public=False`` makes it an internal note agents alone see.
        ``priority`` changes the ticket's in the same update (None leaves it).

        Tags are *added* (``additional_tags``): setting ``tags`` would wipe the ones
        agents and triggers put there. ``author_id`` attributes the comment to another
        user: a customer's follow-up SMS is posted as the requester's own comment, so
        it reads as theirs and is never mistaken for an agent reply to deliver.
        """
        comment = Comment(body=body, public=public, author_id=author_id) if author_id else Comment(
            body=body, public=public)
        ticket = Ticket(id=ticket_id, comment=comment, additional_tags=list(tags) or None, priority=priority)
        return self.call("tickets.update", {"ticket": _wire(ticket)}, idempotency_key=idempotency_key)

    def update_ticket(
        self,
        ticket_id: int,
        *,
        tags: Sequence[str] = (),
        priority: str | None = None,
        custom_fields: Sequence[dict[str, Any]] = (),
        idempotency_key: str | None = None,
    ) -> CallResult:
        """Write enrichment back (tags added, priority, fields) without a comment."""
        ticket = Ticket(id=ticket_id, additional_tags=list(tags) or None, priority=priority,
                        custom_fields=[dict(field) for field in custom_fields] or None)
        return self.call("tickets.update", {"ticket": _wire(ticket)}, idempotency_key=idempotency_key)

    def find_or_create_user(
        self,
        *,
        name: str,
        email: str | None = None,
        phone: str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> CallResult:
        """The Zendesk user for a customer; the response carries ``user_id``.

        Zendesk matches existing users by email or ``external_id`` only, never by phone:
        for a phone-only customer pass a stable ``external_id`` (e.g. our customer id),
        or each call creates another user.
        """
        if not (email or phone or external_id):
            raise ValueError("find_or_create_user needs email, phone or external_id to identify the user.")
        user = User(name=name, email=email, phone=phone, external_id=external_id)
        return self.call("users.create_or_update", {"user": _wire(user)}, idempotency_key=idempotency_key)

    def add_user_email(self, user_id: int, *, email: str, idempotency_key: str | None = None) -> CallResult:
        """Give an existing user (a ticket's requester) an email identity, marked verified
        (we proved it with a one-time code), so Zendesk's own notifications reach it:
        ``POST /api/v2/users/{user_id}/identities``."""
        return self.call("users.identities.create",
                         {"user_id": int(user_id), "identity": {"type": "email", "value": email, "verified": True}},
                         idempotency_key=idempotency_key)

    def find_user(self, *, phone: str | None = None, email: str | None = None) -> int | None:
        """An existing Zendesk user with this phone or email, or None. A read, so it is
        not recorded in the outbox; in sandbox mode there is nobody to find."""
        if self.sandboxed:
            return None
        for query in ([f"email:{email}"] if email else []) + ([f"phone:{phone}"] if phone else []):
            try:
                found = list(self.client.users.search(query=query))
            except RatelimitBudgetExceeded as exc:
                wait = retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER)
                raise VendorRateLimited(self.vendor, wait) from exc
            except (APIException, requests.RequestException) as exc:
                raise VendorUnavailable(f"Zendesk user search failed: {exc}") from exc
            if found:
                return int(found[0].id)
        return None

    def help_center_pages(self, start_time: int) -> Iterator[dict[str, Any]]:
        """The Help Center's incremental article export from ``start_time`` (a Unix
        time), page by page: each page has ``articles``, ``end_time`` and ``next_page``.
        A read, so it is not recorded in the outbox; it needs the API credentials even
        in sandbox mode (there is no stand-in for the company's articles)."""
        url = (f"https://{self.account.zendesk_subdomain}.zendesk.com/api/v2/help_center/incremental/"
               f"articles.json?start_time={start_time}")
        yield from self._help_center_walk(url, "help_center.articles",
                                          lambda page: None if page.get("end_of_stream") else page.get("next_page"))

    def help_center_article_ids(self) -> set[str]:
        """``GET /api/v2/help_center/articles.json`` with cursor pagination (``page[size]``,
        ``meta.has_more``, ``links.next``): the ids of the articles the Help Center holds
        now. Archived articles are not listed, and the incremental export leaves them out
        without a word, so this is how a sync learns an article was archived. A read, not
        recorded in the outbox."""
        url = (f"https://{self.account.zendesk_subdomain}.zendesk.com/api/v2/help_center/"
               f"articles.json?page[size]={HELP_CENTER_PAGE_SIZE}")
        pages = self._help_center_walk(
            url, "help_center.articles.list",
            lambda page: page.get("links", {}).get("next") if page.get("meta", {}).get("has_more") else None)
        return {str(article["id"]) for page in pages for article in page.get("articles", [])}

    def _help_center_walk(self, url: str, operation: str,
                          next_url: Callable[[dict[str, Any]], str | None]) -> Iterator[dict[str, Any]]:
        """The Help Center's pages from ``url`` on, each page naming the next
        (``next_url``); a page seen before ends the walk rather than looping."""
        if not self.has_credentials():
            raise VendorError(
                "Syncing the Help Center needs Zendesk's API credentials: set ZENDESK_SUBDOMAIN, ZENDESK_EMAIL "
                f"and {secret_variable(self.account, 'zendesk_api_token')}.")
        auth = (f"{_email(self.account, self.settings)}/token",
                secret(self.account, "zendesk_api_token", self.settings) or "")
        seen: set[str] = set()
        following: str | None = url
        while following and following not in seen:
            seen.add(following)
            try:
                response = self.http.get(following, auth=auth, timeout=TIMEOUT_SECONDS)
            except requests.RequestException as exc:
                raise VendorUnavailable(f"Zendesk's Help Center could not be reached: {exc}") from exc
            if response.status_code >= 400:
                raise self._translate(response, response.text[:300], operation)
            page: dict[str, Any] = response.json()
            yield page
            following = next_url(page)

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        fake_id = SANDBOX_ID_BASE + call.id
        if call.operation == "tickets.create":
            return {"ticket_id": fake_id, "status": "new"}
        if call.operation == "tickets.update":
            return {"ticket_id": call.payload["ticket"]["id"], "audit_id": fake_id}
        if call.operation == "users.identities.create":
            return {"user_id": call.payload["user_id"], "identity_id": fake_id, "primary": True}
        if call.operation == HELP_CENTER_ARTICLE:
            return {"article_id": fake_id, "draft": call.payload["article"].get("draft")}
        if call.operation == HELP_CENTER_TRANSLATION:
            return {"article_id": call.payload["article_id"], "locale": call.payload["locale"],
                    "translation_id": fake_id}
        return {"user_id": fake_id}

    @cached_property
    def http(self) -> requests.Session:
        """Our own session so a response hook can see Retry-After (zenpy's exception
        does not carry it), mounted with zenpy's adapter settings as zenpy documents
        for callers that bring a session."""
        http = requests.Session()
        http.mount("https://", HTTPAdapter(**Zenpy.http_adapter_kwargs()))
        http.hooks["response"].append(self._remember_retry_after)
        return http

    @cached_property
    def client(self) -> Zenpy:
        """Built on first live use only: the sandbox never needs credentials."""
        return Zenpy(
            subdomain=self.account.zendesk_subdomain,
            email=_email(self.account, self.settings),
            token=secret(self.account, "zendesk_api_token", self.settings),
            session=self.http,
            timeout=TIMEOUT_SECONDS,
            # Zero seconds of budget: zenpy raises RatelimitBudgetExceeded at the first
            # 429 instead of sleeping through Retry-After inside the worker.
            ratelimit_budget=0,
            disable_cache=True,
        )

    def _remember_retry_after(self, response: requests.Response, **_: Any) -> None:
        self._retry_after = response.headers.get("Retry-After")

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        zendesk = self.client
        try:
            if operation == "tickets.create":
                ticket = _ticket_from(payload["ticket"])
                with self._idempotency_header(self._pending_key):
                    created = zendesk.tickets.create(ticket)
                # zenpy returns a TicketAudit when Zendesk sends the audit (it does on
                # create), a bare Ticket otherwise.
                created_ticket = getattr(created, "ticket", created)
                return {"ticket_id": created_ticket.id, "status": created_ticket.status}
            if operation == "tickets.update":
                audit = zendesk.tickets.update(_ticket_from(payload["ticket"]))
                return {"ticket_id": audit.ticket.id, "audit_id": audit.audit.id}
            if operation == "users.identities.create":
                return self._add_identity(payload)
            if operation == HELP_CENTER_ARTICLE:
                return self._create_article(payload)
            if operation == HELP_CENTER_TRANSLATION:
                return self._update_translation(payload)
            if operation == "users.create_or_update":
                user = zendesk.users.create_or_update(User(**payload["user"]))
                return {"user_id": user.id}
        except RatelimitBudgetExceeded as exc:
            raise VendorRateLimited(self.vendor, retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER)) from exc
        except APIException as exc:
            raise self._translate(exc.response, _zendesk_message(exc), operation) from exc
        except requests.HTTPError as exc:
            raise self._translate(exc.response, str(exc), operation) from exc
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError) as exc:
            if operation == "tickets.create" and may_have_reached_vendor(exc):
                # Only creation can be checked afterwards (by external_id, see reconcile);
                # for the others waiting out the lease would change nothing.
                raise VendorOutcomeUnknown(
                    f"Zendesk did not answer the ticket creation ({exc}) and may have created it; once the "
                    "attempt's lease runs out Zendesk is asked for the ticket before it is created again.") from exc
            raise VendorUnavailable(f"Zendesk could not be reached ({exc}); the call will be retried.") from exc
        raise ValueError(f"ZendeskConnector cannot perform {operation!r}.")

    def reconcile(self, operation: str, payload: dict[str, Any], attempted_at: datetime) -> dict[str, Any] | None:
        """The ticket an interrupted creation may have made, found by its external_id.

        The external_id is ours alone (``ticket_external_id``), so any ticket carrying
        it is this call's, whenever it was created; the oldest wins if a pre-lease retry
        ever made two. A payload recorded without one cannot be checked: it is created
        again, with the Idempotency-Key Zendesk honours for a while as the only guard.
        """
        external_id = payload.get("ticket", {}).get("external_id") if operation == "tickets.create" else None
        if not external_id:
            return None
        try:
            found = list(self.client.tickets(external_id=external_id))
        except RatelimitBudgetExceeded as exc:
            raise VendorRateLimited(self.vendor, retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER)) from exc
        except APIException as exc:
            raise self._lookup_error(exc.response, _zendesk_message(exc)) from exc
        except requests.RequestException as exc:
            raise VendorUnavailable(
                f"Zendesk could not be reached ({exc}) to check whether an interrupted ticket creation went "
                "through; it will be checked again later rather than created twice.") from exc
        if not found:
            return None
        ticket = min(found, key=lambda each: int(each.id))
        return {"ticket_id": ticket.id, "status": ticket.status}

    def _add_identity(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = (f"https://{self.account.zendesk_subdomain}.zendesk.com/api/v2/users/{int(payload['user_id'])}/"
               "identities.json")
        auth = (f"{_email(self.account, self.settings)}/token",
                secret(self.account, "zendesk_api_token", self.settings) or "")
        response = self.http.post(url, json={"identity": payload["identity"]}, auth=auth, timeout=TIMEOUT_SECONDS)
        if response.status_code >= 400:
            raise self._translate(response, response.text[:300], "users.identities.create")
        identity = response.json().get("identity") or {}
        return {"user_id": identity.get("user_id", payload["user_id"]), "identity_id": identity.get("id"),
                "primary": identity.get("primary")}

    def _create_article(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/v2/help_center/sections/{id}/articles.json``: an approved draft
        (core/knowledge_loop/drafts.py) into the Help Center, sent once under its outbox key."""
        article = self._help_center("POST", f"sections/{int(payload['section_id'])}/articles.json",
                                    {"article": payload["article"]}, HELP_CENTER_ARTICLE).get("article") or {}
        return {"article_id": article.get("id"), "draft": article.get("draft"), "url": article.get("html_url")}

    def _update_translation(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v2/help_center/articles/{id}/translations/{locale}.json``: an approved
        edit's title and body (the article endpoint itself only changes metadata).

        The body is the article's HTML as Zendesk holds it now (``GET`` the same
        translation) with the edit's ``before`` → ``after`` text change applied to it
        (core/knowledge/html_edit.py): the links, images and layout the text never held
        stay. Payloads queued before edits carried their text carry a whole
        ``translation`` and are put as they are."""
        path = f"articles/{int(payload['article_id'])}/translations/{payload['locale']}.json"
        body = payload.get("translation")
        if body is None:
            current = self._help_center("GET", path, None, HELP_CENTER_TRANSLATION).get("translation") or {}
            edit = payload["edit"]
            try:
                html = revised_html(str(current.get("body") or ""), edit["before"], edit["after"])
            except HtmlEditError as exc:
                raise VendorError(f"Zendesk Help Center article {payload['article_id']} ({payload['locale']}): "
                                  f"{exc}") from exc
            body = {"title": payload["title"], "body": html}
        translation = self._help_center("PUT", path, {"translation": body},
                                        HELP_CENTER_TRANSLATION).get("translation") or {}
        return {"article_id": translation.get("source_id", payload["article_id"]), "locale": translation.get("locale"),
                "translation_id": translation.get("id")}

    def _help_center(self, method: str, path: str, body: dict[str, Any] | None, operation: str) -> dict[str, Any]:
        """One Help Center API call with the API token; Zendesk's refusal raised as ours."""
        url = f"https://{self.account.zendesk_subdomain}.zendesk.com/api/v2/help_center/{path}"
        auth = (f"{_email(self.account, self.settings)}/token",
                secret(self.account, "zendesk_api_token", self.settings) or "")
        response = self.http.request(method, url, json=body, auth=auth, timeout=TIMEOUT_SECONDS)
        if response.status_code >= 400:
            raise self._translate(response, response.text[:300], operation)
        answer: dict[str, Any] = response.json()
        return answer

    def _lookup_error(self, response: requests.Response | None, message: str) -> Exception:
        """A failed lookup by external_id: never a reason to create the ticket blindly."""
        status = response.status_code if response is not None else 0
        if status == 429:
            header = response.headers.get("Retry-After") if response is not None else None
            return VendorRateLimited(self.vendor, retry_after_seconds(header, DEFAULT_RETRY_AFTER))
        if status in (401, 403):
            return VendorError(
                f"Zendesk refused to list tickets (HTTP {status}), which is needed to tell whether an interrupted "
                "ticket creation went through: check the API token "
                f"({secret_variable(self.account, 'zendesk_api_token')}) "
                f"and that its agent may see all tickets. The ticket is not created again until this check "
                f"succeeds. Zendesk: {message}")
        if 400 <= status < 500:
            return VendorError(f"Zendesk refused to list tickets by external_id (HTTP {status}): {message}")
        return VendorUnavailable(
            f"Zendesk failed (HTTP {status}: {message}) while we checked whether an interrupted ticket creation "
            "went through; it will be checked again later rather than created twice.")

    def call(self, operation: str, payload: dict[str, Any], *, idempotency_key: str | None = None) -> CallResult:
        """Base behaviour, plus remembering the key for perform(): Zendesk de-duplicates
        ticket creation on an Idempotency-Key header, which closes the gap the outbox
        cannot (a crash after Zendesk created the ticket, before the outbox said so)."""
        self._pending_key = idempotency_key
        try:
            return super().call(operation, payload, idempotency_key=idempotency_key)
        finally:
            self._pending_key = None

    @contextmanager
    def _idempotency_header(self, key: str | None) -> Iterator[None]:
        if key is None:
            yield
            return
        self.http.headers["Idempotency-Key"] = key
        try:
            yield
        finally:
            del self.http.headers["Idempotency-Key"]

    def _translate(self, response: requests.Response | None, message: str, operation: str) -> Exception:
        status = response.status_code if response is not None else 0
        if status == 429:
            header = response.headers.get("Retry-After") if response is not None else None
            return VendorRateLimited(self.vendor, retry_after_seconds(header, DEFAULT_RETRY_AFTER))
        if status >= 500 or status == 0:
            return VendorUnavailable(f"Zendesk failed with HTTP {status} ({message}); the call will be retried.")
        if status in (401, 403):
            return VendorError(
                f"Zendesk refused the credentials (HTTP {status}): check the API token "
                f"({secret_variable(self.account, 'zendesk_api_token')}), the agent email and that "
                f"token access is enabled in Admin Center. Zendesk: {message}"
            )
        return VendorError(f"Zendesk refused {operation} (HTTP {status}): {message}")


def ticket_external_id(account: Account, idempotency_key: str) -> str:
    """A ticket's external_id from the call's idempotency key (unique per account), e.g.
    ``switchboard:handoff:42:1``: stable across retries, and no one else's."""
    return f"switchboard:{idempotency_key}:{account.id}"


def _email(account: Account, settings: Settings) -> str | None:
    """The agent email API tokens belong to. Account has no column for it, so further
    accounts keep it in their secrets under ``zendesk_email``."""
    return secret(account, "zendesk_email", settings)


def _requester(requester: dict[str, Any]) -> dict[str, Any]:
    if requester.get("id") is not None:
        return {"requester_id": requester["id"]}
    fields = {key: value for key, value in requester.items() if value is not None}
    if not fields.get("name"):
        raise ValueError("requester needs a name (and an email or phone), or an id.")
    return {"requester": User(**fields)}


def _ticket_from(fields: dict[str, Any]) -> Ticket:
    """The inverse of ``_wire`` for tickets: nested objects become zenpy objects again
    (zenpy's requester setter needs a User, not a dict)."""
    fields = dict(fields)
    if "requester" in fields:
        fields["requester"] = User(**fields["requester"])
    if "comment" in fields:
        fields["comment"] = Comment(**fields["comment"])
    return Ticket(**fields)


def _wire(obj: BaseObject) -> dict[str, Any]:
    """The JSON zenpy sends for ``obj``: its own encoder and cleaner, as in
    ``BaseApi._serialize`` (modified attributes only, ``id: null`` dropped)."""
    encoded: dict[str, Any] = json.loads(json.dumps(obj, default=json_encode_for_zendesk),
                                         object_pairs_hook=dict_clean)
    return encoded


def _zendesk_message(exc: APIException) -> str:
    """Zendesk's own words: ``description`` plus field ``details`` when it sent JSON."""
    try:
        body = json.loads(str(exc))
    except ValueError:
        return str(exc)
    if not isinstance(body, dict):
        return str(exc)
    parts = [str(body.get("description") or body.get("error") or "")]
    if body.get("details"):
        parts.append(json.dumps(body["details"]))
    return " ".join(part for part in parts if part) or str(exc)


"""action_policy.yaml: who may run each action, within which limits, with whose approval.

The policy is a pure function of verified facts: the order record from the company's
system, the customer's tier, their earlier refunds. Nothing a customer, an article or
a model wrote reaches these checks; their text is only ever a *request*.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from switchboard.core.actions.errors import ActionConfigError
from switchboard.core.actions.registry import REGISTRY
from switchboard.core.resources import data_file

DEFAULT_FILE = data_file("action_policy.yaml")
ROLES = ("bot", "llm", "agent", "supervisor")
SELF_SERVICE_ROLES = ("bot", "llm")
TIERS = ("guest", "bronze", "silver", "gold")


@dataclass(frozen=True)
class Limits:
    max_total: float | None
    max_count: int | None
    period_days: int


@dataclass(frozen=True)
class ActionRule:
    name: str
    allowed: tuple[str, ...]
    requires_verification: bool
    agent_confirmation: bool
    approval_always: bool
    approval_above: float | None
    limits: Limits | None
    windows_days: dict[str, int | None] | None


@dataclass(frozen=True)
class Verification:
    code_digits: int
    expires_after_minutes: int
    max_attempts: int
    valid_for_minutes: int
    max_codes_per_hour: int  # re-requests beyond this are refused, so a code cannot be farmed or used to spam


@dataclass(frozen=True)
class Approvals:
    slack_channel: str | None
    approvers: tuple[str, ...]
    expires_after_minutes: int

    def approvers_or(self, fallback: tuple[str, ...]) -> tuple[str, ...]:
        """The policy's approvers, else ``fallback`` (SWITCHBOARD_OUTREACH_APPROVERS)."""
        return self.approvers or tuple(fallback)

    def may_decide(self, slack_user: str, fallback: tuple[str, ...] = ()) -> bool:
        """Only a listed approver decides: an empty list lets nobody approve, never
        everybody (a channel's membership is not an approval group)."""
        return slack_user in self.approvers_or(fallback)


@dataclass(frozen=True)
class Confirmations:
    expires_after_minutes: int  # how long a "Reply YES to …" preview stays valid


@dataclass(frozen=True)
class History:
    """The customer's earlier executions of the same action within the limit period."""

    total: float
    count: int


@dataclass(frozen=True)
class ActionPolicy:
    actions: dict[str, ActionRule]
    aliases: dict[str, str]
    verification: Verification
    approvals: Approvals
    source: str
    confirmations: Confirmations = Confirmations(10)

    def rule(self, action: str) -> ActionRule | None:
        return self.actions.get(action)

    def tier(self, customer_tier: str | None) -> str:
        tier = (customer_tier or "guest").lower()
        tier = self.aliases.get(tier, tier)
        return tier if tier in TIERS else "guest"

    def needs_verification(self, rule: ActionRule, role: str) -> bool:
        return rule.requires_verification and role in SELF_SERVICE_ROLES

    @staticmethod
    def needs_customer_confirmation(role: str, *, read_only: bool) -> bool:
        """A self-service change runs only after the customer replies YES to its
        preview, which shows what the change is from verified data (the amount from the
        order record). The model may *suggest* a refund, never start one; and the bot's
        match of the customer's words is not their agreement either: a pattern reads "I
        don't want a refund for order A1001" as a refund request, and "refund order
        A1001" says nothing of the amount. A one-time code proves who writes, not what
        they agree to. A read-only lookup changes nothing and needs no yes. Fixed in
        code, not in the policy file, so no configuration can skip it."""
        return role in SELF_SERVICE_ROLES and not read_only

    def needs_approval(self, rule: ActionRule, role: str, amount: float | None) -> bool:
        if role == "supervisor":
            return False
        if rule.approval_always:
            return True
        return rule.approval_above is not None and amount is not None and amount > rule.approval_above

    def eligibility(self, rule: ActionRule, *, tier: str, since: datetime | None, now: datetime,
                    amount: float | None, history: History | None) -> list[str]:
        """Reasons the action may not run (empty: it may). Each reason is a code the
        customer message and the audit log both use."""
        reasons: list[str] = []
        if rule.windows_days is not None:
            window = rule.windows_days.get(tier)
            if window is not None:
                if since is None:
                    reasons.append("no_purchase_date")
                elif (now - since).days > window:
                    reasons.append("outside_window")
        if rule.limits is not None and history is not None:
            limits = rule.limits
            if limits.max_total is not None and history.total + (amount or 0.0) > limits.max_total + 1e-9:
                reasons.append("over_limit")
            if limits.max_count is not None and history.count + 1 > limits.max_count:
                reasons.append("count_limit")
        return reasons


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _LimitsSchema(_Strict):
    max_total = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    max_count = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    period_days = fields.Integer(required=True, validate=validate.Range(min=1, max=3660))


class _ApprovalSchema(_Strict):
    above_amount = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    always = fields.Boolean(load_default=False)


class _RuleSchema(_Strict):
    allowed = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                          validate=validate.Length(min=1, error="lists nobody; remove the action to disable it"))
    requires_verification = fields.Boolean(load_default=True)
    agent_confirmation = fields.Boolean(load_default=False)
    supervisor_approval = fields.Nested(_ApprovalSchema, load_default=None)
    limits = fields.Nested(_LimitsSchema, load_default=None)
    windows_days = fields.Dict(keys=fields.String(validate=validate.OneOf(TIERS)),
                               values=fields.Integer(allow_none=True, validate=validate.Range(min=0)),
                               load_default=None)


class _VerificationSchema(_Strict):
    code_digits = fields.Integer(load_default=6, validate=validate.Range(min=4, max=10))
    expires_after_minutes = fields.Integer(load_default=10, validate=validate.Range(min=1, max=60))
    max_attempts = fields.Integer(load_default=3, validate=validate.Range(min=1, max=10))
    valid_for_minutes = fields.Integer(load_default=30, validate=validate.Range(min=0, max=1440))
    max_codes_per_hour = fields.Integer(load_default=3, validate=validate.Range(min=1, max=20))


class _ConfirmationsSchema(_Strict):
    expires_after_minutes = fields.Integer(load_default=10, validate=validate.Range(min=1, max=1440))


class _ApprovalsSchema(_Strict):
    slack_channel = fields.String(load_default=None, allow_none=True)
    approvers = fields.List(fields.String(validate=validate.Regexp(r"^[UW][A-Z0-9]+$", error=(
        "is not a Slack user id (like U012AB3CD; find it in the user's profile → Copy member ID)"))),
        load_default=list)
    expires_after_minutes = fields.Integer(load_default=60, validate=validate.Range(min=1, max=10080))


class _TiersSchema(_Strict):
    aliases = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(TIERS)),
                          load_default=dict)


class _PolicySchema(_Strict):
    tiers = fields.Nested(_TiersSchema, load_default=lambda: {"aliases": {}})
    verification = fields.Nested(_VerificationSchema, load_default=lambda: _VerificationSchema().load({}))
    approvals = fields.Nested(_ApprovalsSchema, load_default=lambda: _ApprovalsSchema().load({}))
    confirmations = fields.Nested(_ConfirmationsSchema, load_default=lambda: _ConfirmationsSchema().load({}))
    actions = fields.Dict(keys=fields.String(validate=lambda name: _known_action(name)),
                          values=fields.Nested(_RuleSchema), required=True)


def _known_action(name: str) -> None:
    if name not in REGISTRY:
        raise ValidationError(f"{name!r} is not an action Switchboard knows; use one of {', '.join(sorted(REGISTRY))}")


def parse_policy(data: Any, source: str, *, text: str | None = None) -> ActionPolicy:
    if not isinstance(data, dict):
        raise ActionConfigError(source, "must be a mapping with an actions: section")
    try:
        loaded = _PolicySchema().load(data)
    except ValidationError as exc:
        raise ActionConfigError(source, exc.messages, text=text) from None
    actions = {}
    for name, r in loaded["actions"].items():
        approval = r["supervisor_approval"] or {}
        limits = Limits(**r["limits"]) if r["limits"] else None
        actions[name] = ActionRule(name, tuple(r["allowed"]), r["requires_verification"], r["agent_confirmation"],
                                   bool(approval.get("always")), approval.get("above_amount"), limits,
                                   r["windows_days"])
    return ActionPolicy(actions, {k.lower(): v for k, v in loaded["tiers"]["aliases"].items()},
                        Verification(**loaded["verification"]),
                        Approvals(loaded["approvals"]["slack_channel"], tuple(loaded["approvals"]["approvers"]),
                                  loaded["approvals"]["expires_after_minutes"]), source,
                        Confirmations(**loaded["confirmations"]))


@functools.cache
def load_action_policy(path: Path | None = None) -> ActionPolicy:
    """The policy in ``path`` (SWITCHBOARD_ACTION_POLICY_FILE), or the shipped default."""
    path = DEFAULT_FILE if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ActionConfigError(str(path), f"cannot be read ({exc.strerror}); check the path") from None
    except yaml.YAMLError as exc:
        raise ActionConfigError(str(path), f"is not valid YAML ({exc})") from None
    return parse_policy(data, str(path), text=text)

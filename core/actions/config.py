"""actions.yaml: the company's own systems, reached through configurable HTTP actions.

Validated when loaded, so a typo in a method or a template fails at start-up with the
field named, not when the first customer asks for a refund.
"""
from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from switchboard.core.actions.errors import ActionConfigError
from switchboard.core.resources import data_file

DEFAULT_FILE = data_file("actions.yaml")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Auth:
    header: str
    value: str  # "Bearer {secret}"
    secret: str  # environment variable (default account) / account secret (lower case)


@dataclass(frozen=True)
class System:
    name: str
    base_url: str
    auth: Auth | None
    timeout_seconds: float
    sandbox: bool | None  # None: follow SWITCHBOARD_SANDBOX
    #: The system applies a write once per Idempotency-Key (as payment APIs do), so a
    #: write whose answer was lost may be sent again under the same key.
    idempotent: bool = False


@dataclass(frozen=True)
class Operation:
    name: str
    system: str
    method: str
    path: str
    body: Any = None
    response: dict[str, str] = field(default_factory=dict)
    sandbox_response: Any = None
    #: A 404 is an answer ("no such order") only for a lookup; on a write it means the
    #: thing to change does not exist, and the action failed.
    not_found_is_answer: bool = False


@dataclass(frozen=True)
class ActionsConfig:
    systems: dict[str, System]
    operations: dict[str, Operation]
    source: str
    #: The shapes of the company's identifiers ("order", "tracking", "ticket" → a
    #: regular expression), so what a customer gives is named for the agent.
    references: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def operation(self, name: str) -> Operation:
        try:
            return self.operations[name]
        except KeyError:
            raise ActionConfigError(self.source, f"operations.{name}: is missing; add it (see the shipped "
                                                 "switchboard/data/actions.yaml for its shape)") from None


def _template_ok(value: str) -> None:
    try:
        list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValidationError(f"is not a valid template ({exc}); write placeholders as {{name}}") from None


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _AuthSchema(_Strict):
    header = fields.String(required=True)
    value = fields.String(load_default="{secret}", validate=_template_ok)
    secret = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]*$",
                                                                   error="must be a variable name like SHOP_API_TOKEN"))


class _SystemSchema(_Strict):
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    auth = fields.Nested(_AuthSchema, load_default=None)
    timeout_seconds = fields.Float(load_default=10.0, validate=validate.Range(min=0.1, max=60))
    sandbox = fields.Boolean(load_default=None, allow_none=True)
    idempotent = fields.Boolean(load_default=False)


class _OperationSchema(_Strict):
    system = fields.String(required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    path = fields.String(required=True, validate=_template_ok)
    body = fields.Raw(load_default=None)
    response = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    sandbox_response = fields.Raw(load_default=None)
    not_found_is_answer = fields.Boolean(load_default=None, allow_none=True)


def _pattern_ok(value: str) -> None:
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValidationError(f"is not a regular expression ({exc})") from None
    if compiled.search(""):
        raise ValidationError("matches an empty text: it would find a reference everywhere")


class _FileSchema(_Strict):
    references = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z_]{0,30}$", error=(
        "must be a short lower-case name like order or tracking"))), values=fields.String(validate=_pattern_ok),
        load_default=dict)
    systems = fields.Dict(keys=fields.String(), values=fields.Nested(_SystemSchema), load_default=dict)
    operations = fields.Dict(keys=fields.String(), values=fields.Nested(_OperationSchema), load_default=dict)

    @validates_schema
    def _systems_exist(self, data: dict[str, Any], **_: Any) -> None:
        for name, operation in data["operations"].items():
            if operation["system"] not in data["systems"]:
                raise ValidationError({"operations": {name: {"system": [
                    f"{operation['system']!r} is not one of the systems ({', '.join(sorted(data['systems']))})"]}}})


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ActionConfigError(str(path), f"cannot be read ({exc.strerror}); check the path") from None
    except yaml.YAMLError as exc:
        raise ActionConfigError(str(path), f"is not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ActionConfigError(str(path), "must be a mapping with systems: and operations:")
    return data


def parse(data: dict[str, Any], source: str, *, text: str | None = None) -> ActionsConfig:
    try:
        loaded = _FileSchema().load(data)
    except ValidationError as exc:
        raise ActionConfigError(source, exc.messages, text=text) from None
    systems = {name: System(name, s["base_url"].rstrip("/"), Auth(**s["auth"]) if s["auth"] else None,
                            s["timeout_seconds"], s["sandbox"], s["idempotent"])
               for name, s in loaded["systems"].items()}
    operations = {name: _operation(name, o) for name, o in loaded["operations"].items()}
    references = {name: re.compile(pattern) for name, pattern in loaded["references"].items()}
    return ActionsConfig(systems, operations, source, references)


def _operation(name: str, loaded: dict[str, Any]) -> Operation:
    """Unset ``not_found_is_answer`` follows the method: a GET may find nothing."""
    answer = loaded.pop("not_found_is_answer")
    return Operation(name, **loaded, not_found_is_answer=loaded["method"] == "GET" if answer is None else answer)


@functools.cache
def load_actions_config(override: Path | None = None) -> ActionsConfig:
    """The shipped actions.yaml, with an override file's systems and operations
    replacing the shipped ones by name."""
    data = _read(DEFAULT_FILE)
    source, text = str(DEFAULT_FILE), DEFAULT_FILE.read_text(encoding="utf-8-sig")
    if override is not None:
        extra = _read(Path(override))
        unknown = set(extra) - {"systems", "operations", "references"}
        if unknown:
            raise ActionConfigError(str(override), f"{', '.join(sorted(unknown))}: unknown section; use systems, "
                                                   "operations and references")
        for section in ("systems", "operations", "references"):
            data[section] = {**(data.get(section) or {}), **(extra.get(section) or {})}
        source, text = str(override), Path(override).read_text(encoding="utf-8-sig")
    return parse(data, source, text=text)

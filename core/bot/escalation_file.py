"""Reading the escalation policy file (``switchboard/data/escalation_policy.yaml`` or an
admin's own): its schema, and every problem found with its line and field.

Apart from the rules themselves (:mod:`.escalation`) because the people who edit the
file need the loader to talk back (an unknown key, a missing trigger, a threshold out
of range, a duplicate key PyYAML would keep silently), and that takes as much code as
the rules do.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from switchboard.core.bot.escalation import (
    POLICY_FORMAT,
    TOPIC_LABELS,
    TRIGGER_NAMES,
    CountRule,
    EscalationPolicy,
    FallingSentimentRule,
    LowConfidenceRule,
    NegativeSentimentRule,
    OutOfScopeRule,
    RepeatContactRule,
    Rule,
    TextMatcher,
    TopicRule,
    VipRule,
)
from switchboard.core.errors import SwitchboardError

# -- errors ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    line: int | None  # None: the whole file (it cannot be read at all)
    field: str
    message: str


class PolicyError(SwitchboardError, ValueError):
    """The policy file cannot be used. Lists every problem found, each with its line
    and field, because the file is fixed by hand and one round trip per typo wastes
    the admin's afternoon."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: (p.line or 0, p.field)))
        super().__init__("\n".join(
            f"{source}{f' line {p.line}' if p.line else ''}: {p.field + ': ' if p.field else ''}{p.message}"
            for p in self.problems
        ))



def _messages(expected: str) -> dict[str, Any]:
    must = f"must be {expected}"
    return {"required": f"is missing: add it ({expected})", "null": f"is empty: {must}",
            "invalid": must, "special": must, "too_large": must, "type": must}


def _number(expected: str, low: float | None = None, high: float | None = None, *, integer: bool = False,
            low_inclusive: bool = True, required: bool = True) -> fields.Field:
    options: dict[str, Any] = {
        ("required" if required else "load_default"): True if required else None,
        "validate": validate.Range(low, high, min_inclusive=low_inclusive, error=f"must be {expected}"),
        "error_messages": _messages(expected),
    }
    return fields.Integer(strict=True, **options) if integer else fields.Float(**options)


def _not_blank(item: str) -> validate.Validator:
    """A blank phrase would match between any two words, so everywhere."""
    return validate.Regexp(r"\s*\S", error=f"must be {item}, not blank")


def _texts(expected: str, item: str, check: Any = None) -> fields.List:
    validators = [_not_blank(item)] + ([check] if check else [])
    return fields.List(fields.String(validate=validators, error_messages=_messages(item)),
                       load_default=list, error_messages=_messages(expected))


def _enabled() -> fields.Boolean:
    return fields.Boolean(load_default=True, truthy={True}, falsy={False}, error_messages=_messages("true or false"))


def _section(schema: type[Schema], expected: str) -> fields.Nested:
    return fields.Nested(schema, required=True, error_messages=_messages(expected))


def _regex(value: str) -> None:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise ValidationError(f"is not a valid regular expression ({exc}); fix it, or list plain words "
                              "under phrases instead") from None
    if pattern.search(""):
        raise ValidationError("matches an empty message, so it would fire on every message; make it "
                              "require at least one word")


class _Section(Schema):
    """Unknown keys are errors whose message lists the keys allowed there, since the
    usual cause is a typo."""

    class Meta:
        unknown = RAISE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages = {
            **self.error_messages,
            "unknown": "unknown key; the keys allowed here are " + ", ".join(self.declared_fields),
            "type": "must be a mapping of keys to values",
        }


_CONFIDENCE = "a number between 0 and 1"


class _TopicSchema(_Section):
    enabled = _enabled()
    intents = _texts("a list of intent names", "an intent name")
    min_confidence = _number(_CONFIDENCE, 0, 1, required=False)
    phrases = _texts("a list of words or phrases", "a word or phrase")
    patterns = _texts("a list of regular expressions", "a regular expression", _regex)

    @validates_schema
    def _coherent(self, data: dict[str, Any], **_: Any) -> None:
        if data["intents"] and data["min_confidence"] is None:
            raise ValidationError(f"is missing: add it ({_CONFIDENCE}); it is needed because intents are listed",
                                  field_name="min_confidence")
        if data["enabled"] and not self._can_fire(data):
            raise ValidationError("lists no intents, phrases or patterns, so it can never fire; "
                                  "add some, or set enabled: false")

    def _can_fire(self, data: dict[str, Any]) -> bool:
        return bool(data["intents"] or data["phrases"] or data["patterns"])


class _ExplicitRequestSchema(_TopicSchema):
    alone = _texts("a list of words or phrases", "a word or phrase")
    asks = _texts("a list of words or phrases", "a word or phrase")
    people = _texts("a list of words or phrases", "a word or phrase")

    @validates_schema
    def _pairs(self, data: dict[str, Any], **_: Any) -> None:
        for have, need in (("asks", "people"), ("people", "asks")):
            if data[have] and not data[need]:
                raise ValidationError(f"is empty but {have} is not: requests are an ask followed by a person, "
                                      "so list both or neither", field_name=need)

    def _can_fire(self, data: dict[str, Any]) -> bool:
        return super()._can_fire(data) or bool(data["alone"] or data["asks"])


class _NegativeSentimentSchema(_Section):
    enabled = _enabled()
    below = _number("a number between -1 and 1", -1, 1)


class _FallingSentimentSchema(_Section):
    enabled = _enabled()
    min_messages = _number("a whole number of at least 2", 2, integer=True)
    current_below = _number("a number between -1 and 1", -1, 1)


class _AfterFailuresSchema(_Section):
    enabled = _enabled()
    after_failed_answers = _number("a whole number, 0 or more", 0, integer=True)


class _OutOfScopeSchema(_AfterFailuresSchema):
    unless_retrieval_confident = fields.Boolean(required=True, truthy={True}, falsy={False},
                                                error_messages=_messages("true or false"))


class _CountSchema(_Section):
    enabled = _enabled()
    at_least = _number("a whole number of at least 1", 1, integer=True)


class _MinutesSchema(_Section):
    enabled = _enabled()
    at_least = _number("a number of minutes greater than 0", 0, low_inclusive=False)


class _HighValueSchema(_Section):
    enabled = _enabled()
    at_least = _number("an amount greater than 0", 0, low_inclusive=False)


class _RepeatContactSchema(_CountSchema):
    within_days = _number("a whole number of days between 1 and 365", 1, 365, integer=True)


class _VipSchema(_Section):
    enabled = _enabled()
    tiers = fields.List(fields.String(validate=_not_blank("a tier name"),
                                      error_messages=_messages("a tier name")),
                        required=True, error_messages=_messages("a list of tier names"))


_TRIGGER_SCHEMAS: dict[str, type[Schema]] = {
    "explicit_request": _ExplicitRequestSchema, "negative_sentiment": _NegativeSentimentSchema,
    "falling_sentiment": _FallingSentimentSchema, "low_confidence": _AfterFailuresSchema,
    "out_of_scope": _OutOfScopeSchema, "repeated_failures": _CountSchema, "vip": _VipSchema,
    "high_value": _HighValueSchema, "legal": _TopicSchema, "fraud": _TopicSchema, "complaint": _TopicSchema,
    "cancellation": _TopicSchema, "repeat_contact": _RepeatContactSchema, "too_many_turns": _CountSchema,
    "too_long_with_bot": _MinutesSchema,
}
_MUST_LIST = "a mapping; every trigger must be listed, so to turn one off write enabled: false under it"
_TriggersSchema = type("_TriggersSchema", (_Section,), {
    name: _section(_TRIGGER_SCHEMAS[name], _MUST_LIST) for name in TRIGGER_NAMES
})


class _PolicySchema(_Section):
    version = fields.Integer(strict=True, required=True, validate=validate.Equal(
        POLICY_FORMAT, error=f"must be {POLICY_FORMAT}, the only policy format this version of Switchboard reads"),
        error_messages=_messages(f"the number {POLICY_FORMAT}"))
    handoff_eta = fields.String(
        required=True,
        validate=[_not_blank("a short phrase, e.g. a few hours"),
                  validate.Length(max=40, error="must be a short phrase of up to 40 characters, e.g. a few hours")],
        error_messages=_messages("a short phrase shown to customers, e.g. a few hours"),
    )
    other_languages = fields.String(
        load_default="answer", validate=validate.OneOf(("answer", "handoff"), error="must be answer or handoff"),
        error_messages=_messages("answer or handoff"))
    triggers = _section(_TriggersSchema, "a mapping of trigger names to their settings")


# -- building rules from validated sections -------------------------------------------

def _rule(name: str, cfg: Mapping[str, Any]) -> Rule:
    enabled = cfg["enabled"]
    if name in TOPIC_LABELS:
        matcher = TextMatcher.build(phrases=cfg["phrases"], patterns=cfg["patterns"], alone=cfg.get("alone", ()),
                                    asks=cfg.get("asks", ()), people=cfg.get("people", ()))
        return TopicRule(name, enabled, frozenset(cfg["intents"]), cfg["min_confidence"], matcher)
    if name == "negative_sentiment":
        return NegativeSentimentRule(enabled, cfg["below"])
    if name == "falling_sentiment":
        return FallingSentimentRule(enabled, cfg["min_messages"], cfg["current_below"])
    if name == "low_confidence":
        return LowConfidenceRule(enabled, cfg["after_failed_answers"])
    if name == "out_of_scope":
        return OutOfScopeRule(enabled, cfg["after_failed_answers"], cfg["unless_retrieval_confident"])
    if name == "vip":
        return VipRule(enabled, frozenset(tier.strip().lower() for tier in cfg["tiers"]))
    if name == "repeat_contact":
        return RepeatContactRule(enabled, cfg["at_least"], cfg["within_days"])
    return CountRule(name, enabled, cfg["at_least"])


# -- loading --------------------------------------------------------------------------

def default_policy_path() -> Path:
    return Path(str(resources.files("switchboard") / "data" / "escalation_policy.yaml"))


def load_policy(path: Path | None = None) -> EscalationPolicy:
    """The policy in ``path``, or the shipped default when None."""
    path = default_policy_path() if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PolicyError(str(path), [Problem(None, "", f"cannot be read ({exc.strerror}); check the path, or "
                                                     "load the shipped default by passing no path")]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(None, "", f"is not UTF-8 text ({exc.reason}); save it as UTF-8")
        raise PolicyError(str(path), [problem]) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<string>") -> EscalationPolicy:
    """A policy from YAML text; ``source`` names the file in error messages."""
    root, data = _read_yaml(text, source)
    problems = list(_duplicate_keys(root))
    if problems:  # PyYAML keeps the last duplicate silently; the admin meant one of them
        raise PolicyError(source, problems)
    try:
        loaded = _PolicySchema().load(data)
    except ValidationError as exc:
        raise PolicyError(source, [_problem(root, path, message) for path, message in _flatten(exc.messages)]) from None
    triggers = loaded["triggers"]
    order = [name for name in data["triggers"] if name in triggers]  # the file's order, not the schema's
    return EscalationPolicy(
        handoff_eta=loaded["handoff_eta"].strip(),
        repeat_window_days=triggers["repeat_contact"]["within_days"],
        rules=tuple(_rule(name, triggers[name]) for name in order),
        source=source,
        other_languages=loaded["other_languages"],
    )


def _read_yaml(text: str, source: str) -> tuple[yaml.Node, Any]:
    """The composed node tree (for line numbers) and the plain data, from one parse."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise PolicyError(source, [Problem(mark.line + 1 if mark else 1, "", (
            f"is not valid YAML ({exc.problem or exc.context}); check the indentation and quotes on this "
            "line and the one before"))]) from None
    except yaml.reader.ReaderError as exc:
        raise PolicyError(source, [Problem(text.count("\n", 0, exc.position) + 1, "", (
            f"contains a character YAML does not allow ({exc.character!r}); delete it"))]) from None
    finally:
        loader.dispose()
    if root is None:
        raise PolicyError(source, [Problem(1, "", "the file is empty; start from a copy of the shipped "
                                                  "switchboard/data/escalation_policy.yaml")])
    return root, data


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _duplicate_keys(root: yaml.Node) -> Iterator[Problem]:
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> Iterator[Problem]:
        if id(node) in seen_nodes:  # aliases point back into the tree
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                if name in first:
                    yield Problem(_line(key), _dotted((*path, name)),
                                  f"appears twice (first on line {first[name]}); keep one")
                else:
                    first[name] = _line(key)
                yield from walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield from walk(item, (*path, index))

    yield from walk(root, ())


def _flatten(messages: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """marshmallow's nested error dict as (path, message) pairs; ``_schema`` errors
    belong to the section they are under."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, str(messages)


def _problem(root: yaml.Node, path: tuple[str | int, ...], message: str) -> Problem:
    """Where in the file ``path`` is: the line of its key, or of the nearest enclosing
    key when it is missing. Value errors also show what was found there."""
    line = _line(root)
    node: yaml.Node | None = root
    for key in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(key):
                    line, child = _line(key_node), value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
            line = _line(child)
        if child is None:
            node = None
            break
        node = child
    if node is not None and message.startswith("must be "):
        message += f" (found {_describe(node)})"
    return Problem(line, _dotted(path), message)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if not node.value:
        return "nothing"
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    return repr(node.value) if quoted else node.value  # quoted in the file: show the quotes


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out

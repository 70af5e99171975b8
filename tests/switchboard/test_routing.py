"""The app's URL rules build their URLs on first use (switchboard/web/routing.Route):
every route, built through the app, gives what werkzeug's own rules give."""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import AnyConverter, Map, Rule

from switchboard.web.routing import DatabaseId, Route

#: A value for each kind of path variable the app's routes use.
SAMPLE = {"DatabaseId": 5158, "PathConverter": "folder/file.txt", "UnicodeConverter": "x-1 é"}


def sample_values(rule: Rule) -> dict[str, Any]:
    """A value for each of the rule's variables; for ``<any(a, b):x>``, its first choice."""
    converters = rule._converters  # what the rule's variables are read as
    return {name: min(converter.items) if isinstance(converter, AnyConverter) else SAMPLE[type(converter).__name__]
            for name, converter in converters.items()}


def test_every_route_builds_the_url_werkzeugs_own_rule_builds(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert rules and all(isinstance(rule, Route) for rule in rules)
    plain = Map([Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods, defaults=rule.defaults)
                 for rule in rules], converters={"int": DatabaseId})
    ours, theirs = app.url_map.bind("example.com"), plain.bind("example.com")
    for rule in rules:
        values = sample_values(rule)
        for extra in ({}, {"page": "2", "q": "a b"}):  # unknown values become the query string
            args = {**values, **extra}
            built = ours.build(rule.endpoint, args, method=sorted(rule.methods or {"GET"})[0])
            assert built == theirs.build(rule.endpoint, args, method=sorted(rule.methods or {"GET"})[0]), rule.rule
            assert built.split("?")[0].count("/") >= 1


def test_a_route_is_built_the_same_the_second_time(app: Flask) -> None:
    """The first build replaces the placeholder with werkzeug's builder; the second uses it."""
    with app.test_request_context():
        rule = next(r for r in app.url_map.iter_rules() if r._converters)
        values = sample_values(rule)
        first = app.url_map.bind("example.com").build(rule.endpoint, values)
        assert rule._build_unknown.__name__ != "build_on_first_use"
        assert app.url_map.bind("example.com").build(rule.endpoint, values) == first
        assert str(values[next(iter(rule._converters))]).split("/")[0] in first

"""How the app's URLs are read and built: database ids in paths, and URL builders made
when first used."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from switchboard.intake import db


class DatabaseId(IntegerConverter):
    """``<int:…>`` in URLs: an id beyond PostgreSQL's integer is simply not found (404)
    instead of overflowing the database driver (500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", db.MAX_ID)
        super().__init__(map, *args, **kwargs)


class Route(Rule):
    """A URL rule whose builders (what ``url_for`` runs) are compiled on first use.

    werkzeug writes and compiles two Python functions for every rule as it is added, so
    that ``url_for`` is fast: about 1 ms a rule, most of the app's start (63 routes),
    paid by every process and by every test's app. ``url_for`` is called for a handful of
    routes; the rest never need a builder. Matching requests is unchanged (its regular
    expressions are still made at once); a builder, once made, is werkzeug's own."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        slot = "_build_unknown" if append_unknown else "_build"

        def build_on_first_use(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            builder = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, slot, builder)
            return builder(*args, **kwargs)

        return build_on_first_use


class RoutedFlask(Flask):
    """Flask whose every rule, the static files' included, is a :class:`Route`."""

    url_rule_class = Route

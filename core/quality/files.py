"""The quality files people edit (the QA rubric, the guardrail policy, the disposition
taxonomy): which one an account uses, where a problem in one is (its line), and reading
it again when it changes.

Each account may have its own: the default account's come from the environment
(SWITCHBOARD_QA_RUBRIC_FILE, …), a further account's from its stored setting
(`switchboard accounts set-secret ACCOUNT qa_rubric_file --value PATH`), through the
one rule ``accounts.setting`` writes, and a further account without its own uses the
deployment's. A file is read again when its modification time or size changes, so an
edit takes effect on the next conversation without restarting the web and worker
processes; an edit that breaks the file is refused with its line and what to fix, and
until it is fixed the processes keep the last good version they read (logged), so a
typo cannot stop every conversation.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from switchboard.core.accounts import setting
from switchboard.core.errors import SwitchboardError
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account

T = TypeVar("T")
log = logging.getLogger(__name__)


class QualityFileError(SwitchboardError, ValueError):
    """A quality file cannot be used: its ``source`` (the file), the ``line`` and
    ``field`` of the problem, and what to do (``problem``), because the file is fixed by
    hand and "invalid" alone sends its editor hunting."""

    def __init__(self, problem: str, *, field: str = "", source: str = "", line: int | None = None) -> None:
        self.problem, self.field, self.source, self.line = problem, field, source, line
        where = f"{source}{f' line {line}' if line else ''}"
        super().__init__(": ".join(part for part in (where, field, problem) if part))


E = TypeVar("E", bound=QualityFileError)

#: The account settings naming a quality file, and the environment variable of each.
FILE_VARIABLES = {"qa_rubric_file": "SWITCHBOARD_QA_RUBRIC_FILE", "guardrails_file": "SWITCHBOARD_GUARDRAILS_FILE",
                  "dispositions_file": "SWITCHBOARD_DISPOSITIONS_FILE"}


def account_file(account: Account | None, settings: Settings, name: str) -> Path | None:
    """The file ``name`` (of FILE_VARIABLES) ``account`` uses; None: the shipped default.
    No account (the command line's check, the evaluation): the deployment's."""
    if account is None:
        return getattr(settings, name)
    return setting(account, name, settings, lambda raw: Path(raw).expanduser(), inherit=True)


def compose(text: str, source: str, error: type[E]) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data, or ``error`` naming the line."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise error(f"is not valid YAML ({exc.problem or exc.context}); check the indentation and quotes on this "
                    "line and the one before", source=source, line=mark.line + 1 if mark else 1) from None
    except yaml.YAMLError as exc:
        raise error(f"is not valid YAML ({exc}); save it as plain UTF-8 text", source=source) from None
    finally:
        loader.dispose()


def line_of(root: yaml.Node | None, field: str) -> int | None:
    """The line of ``field`` (dotted: ``criteria.tone.weight``, ``codes.2``), or of the
    nearest enclosing key when it is missing."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for key in [part for part in field.split(".") if part]:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next(((k, v) for k, v in node.value if str(k.value) == key), None)
            if child is not None:
                line = child[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            child = (node.value[int(key)], node.value[int(key)])
            line = child[0].start_mark.line + 1
        if child is None:
            break
        node = child[1]
    return line


def parse_located(text: str, source: str, error: type[E], parse: Callable[[Any], T]) -> T:
    """``parse`` of the file's data; a problem it raises (naming its field) comes out
    with the file and the line of that field."""
    root, data = compose(text, source, error)
    try:
        return parse(data)
    except QualityFileError as exc:
        if exc.source:
            raise
        raise type(exc)(exc.problem, field=exc.field, source=source, line=line_of(root, exc.field)) from None


_cache: dict[tuple[str, Path], tuple[tuple[int, int], Any]] = {}
_lock = threading.Lock()


def fresh(kind: str, path: Path, parse: Callable[[str, str], T], error: type[E], variable: str) -> T:
    """``parse(text, source)`` of ``path``, read again only when its modification time or
    size changed. A changed file that no longer parses raises when this process never
    read a good version of it; otherwise the good version is kept and the problem logged."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise error(f"cannot be read ({exc.strerror}); check {variable}", source=str(path)) from None
    key = (kind, path)
    with _lock:
        known = _cache.get(key)
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        value = parse(path.read_text(encoding="utf-8-sig"), str(path))
    except OSError as exc:
        raise error(f"cannot be read ({exc.strerror}); check {variable}", source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise error(f"is not UTF-8 text ({exc.reason}); save it as UTF-8", source=str(path)) from None
    except QualityFileError as exc:
        if known is None:
            raise
        log.error("%s changed and is refused, the version read before is still used: %s", path, exc)
        with _lock:
            _cache[key] = (stamp, known[1])  # logged once per change, not on every use
        return known[1]
    with _lock:
        _cache[key] = (stamp, value)
    return value

"""Imports go one way, and none goes round in a circle: the layers CONTRIBUTING's "may
import" table names, read from every import of every module, those written inside a
function included (they are the ones that hid a 14-module cycle in the core). An import
under ``if TYPE_CHECKING:`` is exempt: it never runs, and annotations may name a type
of any layer.

A module's layer comes from the longest prefix in ``LAYERS``; ``MAY_IMPORT`` says which
layers each one may use. The table in CONTRIBUTING.md is checked against it, so the two
cannot drift apart."""
from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import switchboard

ROOT = Path(__file__).resolve().parent.parent
#: Where each ``switchboard.*`` package lives (setup.py's ``package_dir``).
FOLDERS = {"switchboard": "switchboard", "switchboard.core": "core", "switchboard.intake": "intake",
           "switchboard.vendors": "vendors", "switchboard.apps": "apps"}

#: The bottom of the core, under everything: the tables, the storage plumbing (rows, unit
#: of work, inbox, outbox, artifacts, audit) and files only their owner reads
#: (``core/store/``), the settings, the error types, the package's files, the hand-off of
#: accepted events to the queue (``dispatch``: its publisher thread) and the opening-hours
#: format the settings check. Standard library, SQLAlchemy and nothing else of ours.
FLOOR = ("switchboard.core.store", "switchboard.core.settings", "switchboard.core.errors",
         "switchboard.core.resources", "switchboard.core.dispatch", "switchboard.core.business_hours")

#: Module prefix -> layer; the longest prefix wins.
LAYERS = {
    **dict.fromkeys(FLOOR, "floor"),
    "switchboard.core": "core",
    "switchboard.intake": "intake",
    "switchboard.vendors": "vendors",
    "switchboard.apps": "apps",
    "switchboard": "entry points",
}

#: Layer -> the layers its modules may import (its own always included).
MAY_IMPORT = {
    "floor": set(),
    "core": {"floor"},
    "intake": {"floor", "core"},
    "vendors": {"floor", "core", "intake"},
    "apps": {"floor", "core", "intake", "vendors"},
    "entry points": {"floor", "core", "intake", "vendors", "apps"},
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its ``__init__``)."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if "migrations" in parts and package == "switchboard":
                continue  # Alembic's scripts, run by Alembic, not imported
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found.setdefault(".".join((package, *parts)), path)
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The ids of import nodes under ``if TYPE_CHECKING:`` (they never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def _absolute(name: str, module: str, level: int, is_package: bool) -> str:
    if not level:
        return name
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path, known: Iterable[str]) -> Iterator[Import]:
    """The package's own modules that ``module`` imports, as written (``from a import b``
    names the module ``a.b`` when there is one, else ``a``)."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", module, node.level, is_package)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield Import(module, target, node.lineno)


def graph() -> dict[str, set[Import]]:
    found = modules()
    return {module: set(imports_of(module, path, found)) for module, path in found.items()}


def cycles(edges: dict[str, set[Import]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted({i.target for i in edges[start]})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted({i.target for i in edges.get(child, ())}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(component: list[str], edges: dict[str, set[Import]]) -> str:
    """The imports that hold a cycle together, so the message says where to cut."""
    inside = set(component)
    lines = sorted(str(i) for module in component for i in edges[module] if i.target in inside)
    return f"cycle of {len(component)} modules:\n    " + "\n    ".join(lines)


def layer(module: str) -> str:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def against_the_layers(edges: dict[str, set[Import]]) -> list[str]:
    return sorted(f"{i}  ({layer(i.source)} may not import {layer(i.target)})"
                  for imports in edges.values() for i in imports
                  if layer(i.target) != layer(i.source) and layer(i.target) not in MAY_IMPORT[layer(i.source)])


def test_no_module_imports_itself_back_through_others() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "\n".join(describe(component, edges) for component in found)


def test_every_import_follows_the_layer_order() -> None:
    found = against_the_layers(graph())
    assert not found, "\n".join(found)


def test_the_checks_would_see_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from switchboard.core import b\n", encoding="utf-8")
    b.write_text("from typing import TYPE_CHECKING\nfrom switchboard.core import a\n"
                 "if TYPE_CHECKING:\n    from switchboard.tasks import x\n", encoding="utf-8")
    known = {"switchboard.core", "switchboard.core.a", "switchboard.core.b", "switchboard.tasks"}
    edges = {"switchboard.core.a": set(imports_of("switchboard.core.a", a, known)),
             "switchboard.core.b": set(imports_of("switchboard.core.b", b, known))}
    assert cycles(edges) == [["switchboard.core.a", "switchboard.core.b"]]
    assert against_the_layers(edges) == []  # the TYPE_CHECKING import is exempt
    b.write_text("from switchboard.tasks import x\n", encoding="utf-8")
    edges["switchboard.core.b"] = set(imports_of("switchboard.core.b", b, known))
    assert cycles(edges) == []
    assert against_the_layers(edges) == [
        "switchboard.core.b:1 imports switchboard.tasks  (core may not import entry points)"]
    assert layer("switchboard.core.store.models") == "floor" and layer("switchboard.web.api") == "entry points"
    assert layer("switchboard.apps.dashboard") == "apps" and layer("switchboard.vendors.twilio.view") == "vendors"


def test_the_map_covers_the_whole_package() -> None:
    assert Path(switchboard.__file__).resolve().parent == ROOT / "switchboard", "run on an editable install"
    assert len(modules()) > 150


def test_contributing_states_the_same_layers() -> None:
    """CONTRIBUTING.md's layer table says, for each layer, what it may import: this test's."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("| layer | modules | may import |\n| --- | --- | --- |\n", 1)[1].split("\n\n", 1)[0]
    stated = {}
    for row in table.splitlines():
        name, _modules, allowed = (cell.strip() for cell in row.strip("|").split(" | "))
        stated[name] = set() if allowed == "nothing of ours" else {part.strip() for part in allowed.split(",")}
    assert stated == MAY_IMPORT
    assert all(f"`{folder}/`" in table for folder in ("core", "intake", "vendors", "apps"))


def packages(edges: dict[str, set[Import]]) -> set[str]:
    """The modules that have modules below them."""
    return {parent for module in edges for parent in _parents(module) if parent in edges}


def _parents(module: str) -> Iterator[str]:
    parts = module.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])


def between_children(edges: dict[str, set[Import]], package: str) -> dict[str, set[Import]]:
    """The imports between ``package``'s children (its modules and subpackages), each
    subpackage standing for every module below it."""
    def child(module: str) -> str | None:
        if not module.startswith(package + "."):
            return None
        return f"{package}.{module[len(package) + 1:].split('.')[0]}"

    found: dict[str, set[Import]] = {}
    for module, imports in edges.items():
        source = child(module)
        if source is None:
            continue
        found.setdefault(source, set())
        for i in imports:
            target = child(i.target)
            if target is not None and target != source:
                found[source].add(Import(source, target, i.line))
    return found


def test_no_subpackage_imports_itself_back_through_others() -> None:
    """One level up from the modules: the children of every package (``core``'s
    ``knowledge``, ``actions``…, the top-level folders) import one another one way too,
    so a subpackage can be read, tested and moved without the ones that use it."""
    edges = graph()
    found = []
    for package in sorted(packages(edges)):
        between = between_children(edges, package)
        found += [f"in {package}: " + describe(component, between) for component in cycles(between)]
    assert not found, "\n".join(found)


def test_the_check_would_see_subpackages_in_a_circle() -> None:
    def imports(source: str, target: str) -> set[Import]:
        return {Import(source, target, 1)}
    edges = {"switchboard.core.a.x": imports("switchboard.core.a.x", "switchboard.core.b.y"),
             "switchboard.core.b.y": set(),
             "switchboard.core.b.z": imports("switchboard.core.b.z", "switchboard.core.a.w"),
             "switchboard.core.a.w": set(), "switchboard.core": set(), "switchboard.core.a": set(),
             "switchboard.core.b": set()}
    assert cycles(edges) == []  # no module comes back to itself...
    assert cycles(between_children(edges, "switchboard.core")) == [["switchboard.core.a", "switchboard.core.b"]]
    assert "switchboard.core" in packages(edges) and "switchboard.core.a.x" not in packages(edges)

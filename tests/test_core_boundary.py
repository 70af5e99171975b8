"""The core stays free of Flask, vendor SDKs and the outer folders: it reaches Twilio,
Zendesk, the model, Slack and the company's systems only through the interfaces in
``switchboard.core.ports``, which ``create_app`` fills (``switchboard.wiring``)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import switchboard.core

CORE = Path(switchboard.core.__file__).parent
FORBIDDEN = ("flask", "werkzeug", "slack_sdk", "slack_bolt", "zenpy", "twilio", "openai",
             "switchboard.intake", "switchboard.vendors", "switchboard.apps")


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        names.append(".".join(("switchboard.core", *parts)))
    return names


def forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def test_no_core_module_names_flask_a_vendor_sdk_or_an_outer_folder_even_inside_a_function() -> None:
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.relative_to(CORE)}:{node.lineno} imports {name}" for name in names if forbidden(name)]
    assert not found, "\n".join(found)


def test_importing_every_core_module_in_a_fresh_interpreter_loads_none_of_them() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') "
        f"for f in {FORBIDDEN!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_the_check_would_see_a_violation() -> None:
    assert forbidden("switchboard.vendors.twilio.connector") and forbidden("flask") and not forbidden("flasky")

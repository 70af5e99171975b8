"""Where the files that ship with Switchboard are found, installed or not.

Data is looked up through the package (``importlib.resources``), never by walking up the
source tree: in a wheel install ``core/`` and ``switchboard/`` are siblings inside
``site-packages/switchboard``, not the checkout's layout, so ``Path(__file__).parents[N]``
points somewhere else. Setuptools installs packages as plain directories, so the
traversables below are real paths (alembic and the Zendesk app packager need those).
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _directory(package: str) -> Path:
    return Path(str(files(package)))


def data_file(name: str) -> Path:
    """A shipped default under ``switchboard/data`` (policies, routing, sample KB…)."""
    return _directory("switchboard") / "data" / name


def package_path(*parts: str) -> Path:
    """A folder or file inside the ``switchboard`` package (templates, prompts, migrations)."""
    return _directory("switchboard").joinpath(*parts)


def manifests_dir() -> Path:
    """``manifests/`` (Slack app manifest, Zendesk webhook and triggers, Twilio settings),
    shipped as the package ``switchboard.manifests``."""
    return _directory("switchboard.manifests")


def zendesk_app_dir() -> Path:
    """The Zendesk sidebar app's source (``apps/zendesk``), shipped with the package."""
    return _directory("switchboard.apps.zendesk")

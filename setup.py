"""Maps the design card's top-level folders (core/, intake/, vendors/, apps/) into
one importable namespace, ``switchboard.*``, so an install never puts a package called
``core`` into site-packages."""
from pathlib import Path

from setuptools import setup

ROOTS = {"switchboard": "switchboard", "switchboard.core": "core", "switchboard.intake": "intake",
         "switchboard.vendors": "vendors", "switchboard.apps": "apps", "switchboard.manifests": "manifests"}


def _packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            rel = init.parent.relative_to(folder).parts
            found.append(".".join((name, *rel)))
    return found


setup(packages=_packages(), package_dir=ROOTS)

"""No module of the package over MAX_LINES lines (CONTRIBUTING: one module per concept).
A module that long holds several things a reader must page through to find one; split
it by concept, as `switchboard/cli/` and `core/bot/escalation_file.py` were."""
from __future__ import annotations

from .test_import_layers import modules

MAX_LINES = 700


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    too_long = {name: lines for name, lines in lengths.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them by concept): {too_long}"
    assert len(lengths) > 100  # the walk found the package's modules

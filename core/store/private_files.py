"""Files holding a secret (the API key `serve` writes, the session secret), created
readable by their owner only from the first instant."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def create_private(path: Path, make_text: Callable[[], str]) -> bool:
    """Write ``make_text()`` to ``path`` if nothing is there, and return True; False if
    the path exists (left as it is). The file is created 0600 in one call: written and
    then chmod'ed, it would be readable under the umask (0644 as a rule) in between.
    O_EXCL also refuses a symbolic link planted at ``path``, rather than writing the
    secret wherever it points; and of two processes starting together only one writes.
    ``make_text`` is called only by the one that creates the file (an API key is made
    only if it will be kept)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(make_text())
    except BaseException:
        path.unlink(missing_ok=True)  # no empty key file for the next start to trust
        raise
    return True

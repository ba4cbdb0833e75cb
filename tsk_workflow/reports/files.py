"""Writing a report's file: whole or not at all, readable by its owner only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write(target: Path, content: bytes) -> None:
    """``content`` to ``target``, whole or not at all (a file beside it, renamed over it),
    readable by its owner only (0600, as ``mkstemp`` makes it): a report names people. A
    symbolic link at ``target`` is replaced, not followed."""
    folder = target.absolute().parent
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""Where the shipped processes, municipalities and templates live.

An installed wheel carries them in ``tsk_workflow/_data``; a source checkout (or an editable
install) has them at the top of the repository. An administrator may give the process
definitions a folder of their own: ``TSK_PROCESSES_DIR`` (docs/administrator.md).
"""

from __future__ import annotations

import os
from pathlib import Path

PROCESSES_VARIABLE = "TSK_PROCESSES_DIR"
"""The administrator's folder of process definitions, read instead of the shipped one."""

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder ``name`` (``processes``, ``municipalities`` or ``notifications``)."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def processes_dir() -> Path:
    """The folder ``TSK_PROCESSES_DIR`` names (every process the organisations run, one file
    each), else the shipped definitions."""
    chosen = os.environ.get(PROCESSES_VARIABLE)
    return Path(chosen) if chosen else data_dir("processes")


def municipalities_dir() -> Path:
    return data_dir("municipalities")


def notifications_dir() -> Path:
    return data_dir("notifications")


def names_a_file(name_or_path: str) -> bool:
    """Whether ``--org`` names a file rather than a municipality: it has a ``.yaml``/``.yml``
    suffix or a path separator, or is an existing file. A folder that happens to have a
    municipality's name (``tsk demo --out herrljunga``) does not hide the municipality."""
    candidate = Path(name_or_path)
    separators = {"/", os.sep, *([os.altsep] if os.altsep else [])}
    return (
        candidate.suffix in {".yaml", ".yml"}
        or any(sep in name_or_path for sep in separators)
        or candidate.is_file()
    )

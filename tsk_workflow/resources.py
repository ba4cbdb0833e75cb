"""Where the shipped processes, municipalities and templates live.

An installed wheel carries them in ``tsk_workflow/_data``; a source checkout (or an editable
install) has them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder ``name`` (``processes``, ``municipalities`` or ``notifications``)."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def processes_dir() -> Path:
    return data_dir("processes")


def municipalities_dir() -> Path:
    return data_dir("municipalities")


def notifications_dir() -> Path:
    return data_dir("notifications")

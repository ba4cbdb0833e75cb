"""The files tsk writes for people: reports, lägesbilder, calendars, form templates, backups.

One rule for all of them. Before anything is read or made, the target is checked
(:func:`check_target`): a symbolic link is refused (followed, it would write wherever it points,
a dangling one included), so is a folder, a file that is there without ``--force``, and a target
in a folder that is not. The file is then written whole or not at all (a file beside it, renamed
over it: :func:`replacing`), readable and writable by its owner only (0600, whatever the umask):
what tsk writes names people. The rename replaces a link made in the meantime; it never follows
one. Only the operating system's rules are kept out: a file written over gets the new file's
mode and owner, not the old one's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _

PRIVATE = 0o600
"""The mode of every file tsk writes (as ``mkstemp`` makes it)."""


def check_target(target: Path, *, force: bool) -> None:
    """Refuse to write ``target`` when :func:`check_place` does, or when a file is there
    (unless ``force``); one sentence each."""
    check_place(target)
    if target.exists() and not force:
        raise Refused(
            _("{file} is there already: give --force to write over it").format(file=target)
        )


def check_place(target: Path) -> None:
    """Refuse to write ``target`` when it is a symbolic link, a folder (``""`` and ``.``
    included), or in a folder that is not; one sentence each."""
    if target.is_symlink():
        raise Refused(
            _("{file} is a symbolic link: tsk does not write through one").format(file=target)
        )
    if target.is_dir() or not target.name:
        raise Refused(_("{file} is a folder: give the name of a file").format(file=target))
    folder = target.absolute().parent
    if not folder.is_dir():
        raise Refused(
            _("{folder} is not a folder: the file cannot be written there").format(folder=folder)
        )


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """An empty private file beside ``target`` to fill in the ``with`` block; renamed over
    ``target`` when the block ends, removed when it fails. An ``OSError`` (no permission, a
    full disk) is one ``Refused`` sentence."""
    try:
        descriptor, name = tempfile.mkstemp(dir=target.absolute().parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _cannot_write(target, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write(target: Path, content: bytes) -> None:
    """``content`` to ``target``, whole or not at all, 0600 (:func:`replacing`)."""
    with replacing(target) as temporary:
        temporary.write_bytes(content)


def _cannot_write(target: Path, exc: OSError) -> Refused:
    return Refused(_("cannot write {file}: {error}").format(file=target, error=exc.strerror or exc))

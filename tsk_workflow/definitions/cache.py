"""A per-user cache of read documents, so that a command does not parse the same YAML again.

Every command that builds an engine reads the shipped process definitions. ruamel.yaml's
round-trip loader, which keeps the line and column of every value (for problems reported as
``file:line:column``), is pure Python and takes about 0.4 s for them at every start; the
document it gave last time (data and positions) loads from this cache in a few ms. Only what
asks for it is cached (``reader.read_file(..., cached=True)``): the shipped definitions, not
organisation or answers files, which hold personal data.

- **Key:** the SHA-256 of the text, of ruamel.yaml's version and of the reader's own source
  (``reader.py``), so that an edited file, another ruamel.yaml or a change in how documents
  are read never meets an old entry. Only documents read without a problem are kept.
- **Where:** ``TSK_CACHE_DIR``, else ``$XDG_CACHE_HOME/tsk-workflow``, else
  ``~/.cache/tsk-workflow``; the folder is made private (0700). ``TSK_CACHE_DIR=off`` turns the
  cache off. Deleting the folder is always safe. A folder that is not the user's own, or that
  others may write to, is not used: an entry planted there would change the definitions (a
  routing rule, a deadline) without a trace in the files.
- **Format:** pickle, loaded by an unpickler that accepts no class but those of ``datetime``
  (``_Unpickler.find_class``, as the ``pickle`` documentation shows), so that a file put in the
  folder by someone else cannot make the loader run code; anything unexpected is a miss.
- **Failures** (a read-only home, a full disk, a damaged entry) are misses: the file is then
  read as if there were no cache.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Any

VERSION = b"tsk-documents-1"
OFF = "off"
KEEP = 500
"""Entries kept; when there are more, the least recently written are removed."""

_ALLOWED = {("datetime", name) for name in ("date", "datetime", "time", "timedelta", "timezone")}

Entry = tuple[Any, dict[tuple[str | int, ...], tuple[int, int]]]
"""A document's data and positions, as ``reader.Document`` holds them."""


def folder() -> Path | None:
    """Where entries are kept, or None when the cache is off."""
    chosen = os.environ.get("TSK_CACHE_DIR")
    if chosen == OFF:
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory (a service account without one): no cache
            return None
    return Path(base) / "tsk-workflow"


def key(text: str) -> str:
    digest = hashlib.sha256(VERSION + b"\0" + _reader_fingerprint() + b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@cache
def _reader_fingerprint() -> bytes:
    """ruamel.yaml's version and the SHA-256 of ``reader.py``: how a text becomes a document."""
    from ruamel.yaml import __version__ as ruamel_version

    source = Path(__file__).with_name("reader.py")
    try:
        code = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError:  # installed without sources: the package's version stands for them
        from importlib.metadata import version

        code = version("tsk-workflow")
    return f"{ruamel_version}:{code}".encode()


def load(text: str) -> Entry | None:
    """The entry for ``text``, or None (not there, damaged, or the cache is off)."""
    where = folder()
    if where is None:
        return None
    if not _private(where):
        return None
    try:
        raw = (where / key(text)).read_bytes()
    except OSError:
        return None
    return _loads(raw)


def _loads(raw: bytes) -> Entry | None:
    try:
        entry = _Unpickler(io.BytesIO(raw)).load()
    except Exception:  # noqa: BLE001 - any failure is a miss, see the module docstring
        return None
    return entry if _is_entry(entry) else None


def store(text: str, entry: Entry) -> None:
    """Keep ``entry`` for ``text``; a failure to write is of no consequence."""
    where = folder()
    if where is None:
        return
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(where):
            return
        raw = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        if not _loads(raw):  # a value of a class the loader refuses: it would never hit
            return
        path = where / key(text)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(raw)
        os.replace(partial, path)  # atomic: a reader sees the whole entry or none
        _prune(where)
    except OSError:
        return


def _private(where: Path) -> bool:
    """The folder is the user's own and nobody else may write to it."""
    try:
        status = where.stat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)  # not on Windows, where folders are per user anyway
    return (getuid is None or status.st_uid == getuid()) and not status.st_mode & 0o022


def _prune(where: Path) -> None:
    entries = [p for p in where.iterdir() if len(p.name) == 64]
    if len(entries) <= KEEP:
        return
    entries.sort(key=lambda p: p.stat().st_mtime)
    for old in entries[: len(entries) - KEEP]:
        old.unlink(missing_ok=True)


def _is_entry(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[1], dict)
        and all(isinstance(k, tuple) for k in value[1])
    )


class _Unpickler(pickle.Unpickler):
    """Builds containers and scalars, and of classes only ``datetime``'s."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return getattr(dt, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the document cache")

"""Process definitions kept by version: a cycle follows the version it was opened with.

A definition's text is stored in ``process_definitions`` (by its SHA-256, with its process key
and ``version``) when a cycle is first opened with it, and by ``tsk init`` for every definition
of the process folder; the cycle names it (``cycles.process_digest``). Every act on a cycle
then uses that version (``Engine.compiled_for``): the current definition, read from the
process folder, when the digest is its, else the stored text, read and checked again.

- **One text per version.** A definition whose text changed must carry a new ``version``:
  opening a cycle with a text whose process and version the database holds with another text
  is refused (``DefinitionError`` located at the file's ``version``), and so is ``tsk init``,
  which checks every definition of the folder at once. Nothing is stored or opened then.
- **Moving cycles on** (``tsk process upgrade-cycles KEY``, :func:`upgrade_cycles`): an act of
  the chair of the process's group (or the deputy) or of an admin of the organisation. Each
  open cycle of an older version moves to the current one, with a ``cycle.upgraded`` event,
  unless the current version lacks its step (or makes it final), or lacks an open task's key
  in that step: such a cycle is refused, with the reason, and stays on its version (it can be
  finished, or closed, as it is). The move changes no step, task or timer: tasks and timers
  made when the cycle entered its step stay as they are; the new version's transitions,
  conditions and forms apply from the move on, and its tasks from the next step entered.
- A cycle with no digest (opened before versions were kept, on a version whose text was no
  longer shipped) follows the current definition; moving it records its version.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from tsk_workflow import audit
from tsk_workflow.catalog import Catalog, Source
from tsk_workflow.errors import DefinitionError
from tsk_workflow.i18n import _
from tsk_workflow.store import definitions as stored
from tsk_workflow.store.database import Store

if TYPE_CHECKING:
    from tsk_workflow.store.database import Connection, Session


# ---------------------------------------------------------------- storing and reading


def stored_text(session: Session | Connection, digest: str) -> str | None:
    """The text of the stored definition with ``digest``, or None."""
    return stored.text_of(session, digest)


def store(session: Session, source: Source, now: dt.datetime) -> bool:
    """Store ``source`` unless the database holds it; True when it was stored now.

    A text of the same process and version other than the one stored is refused
    (``DefinitionError``, located at the file's ``version``): a changed definition needs a new
    version number. The caller holds the audit chain's lock (every act does), so two writers
    do not store the same text at once."""
    found = stored.of_version(session, source.key, source.version)
    if found is None:
        values = {
            "digest": source.digest,
            "process": source.key,
            "version": source.version,
            "content": source.text,
            "source": source.file[-255:],
            "stored_at": now,
        }
        stored.insert_text(session, values)
        return True
    digest, stored_at = found
    if digest != source.digest:
        newest = stored.newest_version(session, source.key) or source.version
        raise DefinitionError([_conflict(source, digest, stored_at, newest)])
    return False


def _conflict(source: Source, digest: str, stored_at: dt.datetime, newest: int) -> str:
    return source.problem(
        _(
            "'{key}' version {version} is stored in this database with another text (sha256"
            " {stored}, stored {date}), and this file has sha256 {digest}: a changed definition"
            " needs a new version number (version: {next}); open cycles keep following the"
            " version they were opened with"
        ).format(
            key=source.key,
            version=source.version,
            stored=digest[:16],
            date=f"{stored_at:%Y-%m-%d}",
            digest=source.digest[:16],
            next=newest + 1,
        )
    )


def store_catalog(store_: Store, catalog: Catalog, now: dt.datetime) -> list[str]:
    """``tsk init``: store every definition of ``catalog`` the database does not hold, in one
    transaction; every text that conflicts with a stored one is reported at once and nothing
    is stored then. Returns the keys of the definitions stored now."""
    added: list[str] = []
    problems: list[str] = []
    with store_.transaction() as session:
        audit.lock_chain(session)
        for key in sorted(catalog.sources):
            try:
                if store(session, catalog.sources[key], now):
                    added.append(key)
            except DefinitionError as exc:
                problems += exc.problems
        if problems:
            raise DefinitionError(problems)
    return added

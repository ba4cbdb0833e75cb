"""The process definitions stored by version (``process_definitions``), and the open cycles
and tasks that moving cycles to another version looks at. When a text may be stored, and when
a cycle may move, is ``tsk_workflow.engine.versions``'s to say."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import Cycle, StoredDefinition, Task

DEFINITIONS = StoredDefinition.metadata.tables[StoredDefinition.__tablename__]

_TEXT = select(DEFINITIONS.c.content).where(DEFINITIONS.c.digest == bindparam("digest"))
_OF_VERSION = select(DEFINITIONS.c.digest, DEFINITIONS.c.stored_at).where(
    DEFINITIONS.c.process == bindparam("process"), DEFINITIONS.c.version == bindparam("version")
)
_NEWEST = select(func.max(DEFINITIONS.c.version)).where(
    DEFINITIONS.c.process == bindparam("process")
)
_INSERT = insert(DEFINITIONS)


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def text_of(session: Session | Connection, digest: str) -> str | None:
    """The text of the stored definition with ``digest``, or None."""
    text = _connection(session).execute(_TEXT, {"digest": digest}).scalar()
    return None if text is None else str(text)


def of_version(
    session: Session | Connection, process: str, version: int
) -> tuple[str, dt.datetime] | None:
    """The digest of the stored text of ``process`` ``version`` and when it was stored; None
    when none is stored."""
    found = (
        _connection(session).execute(_OF_VERSION, {"process": process, "version": version}).first()
    )
    return None if found is None else (str(found[0]), found[1])


def newest_version(session: Session | Connection, process: str) -> int | None:
    """The newest version of ``process`` stored; None when none is."""
    newest = _connection(session).execute(_NEWEST, {"process": process}).scalar()
    return None if newest is None else int(newest)


def insert_text(session: Session | Connection, values: Mapping[str, Any]) -> None:
    """Store a definition's text: ``values`` of every column of ``process_definitions``."""
    _connection(session).execute(_INSERT, dict(values))


def open_cycles(session: Session, municipality: str, process: str) -> list[Cycle]:
    """The open cycles of ``process`` in ``municipality``, oldest first."""
    query = (
        select(Cycle)
        .where(
            Cycle.municipality == municipality,
            Cycle.status == "open",
            Cycle.process == process,
        )
        .order_by(Cycle.id)
    )
    return list(session.scalars(query))


def open_tasks(session: Session, cycle_id: int) -> list[tuple[int, str, str]]:
    """``(id, step, key)`` of the open tasks of cycle ``cycle_id``, in id order."""
    query = (
        select(Task.id, Task.step, Task.key)
        .where(Task.cycle_id == cycle_id, Task.status == "open")
        .order_by(Task.id)
    )
    return list(session.execute(query))

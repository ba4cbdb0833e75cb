"""What the compliance view (``tsk_workflow.engine.compliance``) reads: the answered tasks and
the attached documents of the cycles of given processes, the newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow.store.models import Cycle, Document, Task


def answered_tasks(
    session: Session, municipality: str, processes: Sequence[str], keys: Sequence[str]
) -> list[tuple[Task, Cycle]]:
    """The done tasks with answers whose key is one of ``keys``, in cycles of ``processes``,
    the last done first."""
    query = (
        select(Task, Cycle)
        .join(Cycle, Cycle.id == Task.cycle_id)
        .where(
            Cycle.municipality == municipality,
            Cycle.process.in_(list(processes)),
            Task.key.in_(list(keys)),
            Task.status == "done",
        )
        .order_by(Task.done_at.desc(), Task.id.desc())
    )
    return [(task, cycle) for task, cycle in session.execute(query)]


def documents_of(
    session: Session, municipality: str, processes: Sequence[str], kind: str
) -> list[tuple[dt.datetime, str]]:
    """When each document of ``kind`` was attached to a cycle of ``processes``, with the
    cycle's ref, the newest first (not their content)."""
    query = (
        select(Document.attached_at, Cycle.ref)
        .join(Cycle, Cycle.id == Document.cycle_id)
        .where(
            Cycle.municipality == municipality,
            Cycle.process.in_(list(processes)),
            Document.kind == kind,
        )
        .order_by(Document.attached_at.desc(), Document.id.desc())
    )
    return [(at, ref) for at, ref in session.execute(query)]

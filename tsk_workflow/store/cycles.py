"""What the engine reads about cycles, tasks, decisions and documents outside an act's own
cycle (``store.acts`` reads that): finding one by its id or ref, listing them, the checks
before a cycle is opened, and the refusals kept beside the chain.

The listings give the mapped objects, for the commands that show them (a task with its cycle
and assignees); acts never change these objects, they decide on ``store.acts``' plain rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from tsk_workflow.store.models import Cycle, Decision, Document, RefusedAct, Task, TaskAssignee

_CYCLE_BY = {
    "id": select(Cycle).where(
        Cycle.municipality == bindparam("municipality"), Cycle.id == bindparam("key")
    ),
    "ref": select(Cycle).where(
        Cycle.municipality == bindparam("municipality"), Cycle.ref == bindparam("key")
    ),
}
_COUNT = select(func.count(Cycle.id)).where(
    Cycle.municipality == bindparam("municipality"), Cycle.process == bindparam("process")
)
_SAME_OCCURRENCE = select(Cycle.ref, Cycle.id, Cycle.status).where(
    Cycle.municipality == bindparam("municipality"),
    Cycle.process == bindparam("process"),
    Cycle.period == bindparam("period"),
    Cycle.subject == bindparam("subject"),
)


def cycle(session: Session, municipality: str, by: str, key: int | str) -> Cycle | None:
    """The cycle of ``municipality`` with id ``key`` (``by`` "id") or ref ``key`` (``by`` "ref")."""
    return session.scalars(_CYCLE_BY[by], {"municipality": municipality, "key": key}).first()


def refs(session: Session, municipality: str) -> list[str]:
    return list(session.scalars(select(Cycle.ref).where(Cycle.municipality == municipality)))


def count(session: Session, municipality: str, process: str) -> int:
    """How many cycles of ``process`` the municipality has had."""
    params = {"municipality": municipality, "process": process}
    return int(session.connection().scalar(_COUNT, params) or 0)


def same_occurrence(
    session: Session, municipality: str, process: str, period: str, subject: str
) -> tuple[str, int, str] | None:
    """``(ref, id, status)`` of the cycle of ``process`` for ``period`` and ``subject``, if any."""
    params = {"municipality": municipality, "process": process, "period": period}
    found = session.connection().execute(_SAME_OCCURRENCE, {**params, "subject": subject}).first()
    return (found[0], found[1], found[2]) if found is not None else None


def cycles(
    session: Session, municipality: str, *, only_open: bool, process: str | None
) -> list[Cycle]:
    query = select(Cycle).where(Cycle.municipality == municipality)
    if only_open:
        query = query.where(Cycle.status == "open")
    if process:
        query = query.where(Cycle.process == process)
    return list(session.scalars(query.order_by(Cycle.id)))


def task(session: Session, municipality: str, task_id: int) -> Task | None:
    found = session.get(Task, task_id)
    return found if found is not None and found.municipality == municipality else None


def tasks(
    session: Session,
    municipality: str,
    *,
    person: str | None,
    overdue_at: dt.datetime | None,
    only_open: bool,
) -> list[Task]:
    """The tasks of ``municipality`` (open ones, ``only_open``), of ``person`` when given, due
    before ``overdue_at`` when given (and open), by due time."""
    # The cycle of each task is shown with it (its ref): loaded in the same query.
    query = select(Task).options(joinedload(Task.cycle)).where(Task.municipality == municipality)
    if only_open or overdue_at is not None:
        query = query.where(Task.status == "open")
    if person:
        query = query.join(TaskAssignee).where(TaskAssignee.person == person)
    if overdue_at is not None:
        query = query.where(Task.due_at < overdue_at)
    return list(session.scalars(query.order_by(Task.due_at, Task.id)))


def decision(session: Session, municipality: str, decision_id: int) -> Decision | None:
    found = session.get(Decision, decision_id)
    return found if found is not None and found.municipality == municipality else None


def decisions(session: Session, municipality: str) -> list[Decision]:
    query = select(Decision).where(Decision.municipality == municipality).order_by(Decision.id)
    return list(session.scalars(query))


def documents(session: Session, cycle_id: int) -> list[Document]:
    query = select(Document).where(Document.cycle_id == cycle_id).order_by(Document.id)
    return list(session.scalars(query))


def record_refusal(session: Session, **values: Any) -> None:
    """Keep a refused act (``refused_acts``), beside the chain."""
    session.add(RefusedAct(**values))

"""Read-only queries in SQLAlchemy Core, for commands whose start-up must stay small.

They give the same rows as the engine's ORM queries (``Engine.tasks``), without loading the
definitions, the organisation or the ORM's unit of work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, Task, TaskAssignee

TASK_COLUMNS = (
    "id",
    "cycle_id",
    "step",
    "key",
    "title",
    "role",
    "due_at",
    "status",
    "required",
    "done_by",
    "done_at",
    "note",
)


def task_dict(task: Any, cycle_ref: str, people: list[str]) -> dict[str, Any]:
    """A task as ``task list --json`` shows it, from an ORM task or a Core row alike."""
    return {
        "id": task.id,
        "cycle": task.cycle_id,
        "cycle_ref": cycle_ref,
        "step": task.step,
        "key": task.key,
        "title": task.title,
        "role": task.role,
        "assignees": sorted(people),
        "due": task.due_at.isoformat() if task.due_at is not None else None,
        "status": task.status,
        "required": task.required,
        "done_by": task.done_by,
        "done_at": task.done_at.isoformat() if task.done_at is not None else None,
        "note": task.note,
    }


def task_rows(
    store: Store, municipality: str, *, overdue: bool, only_open: bool, now: dt.datetime
) -> list[dict[str, Any]]:
    """The tasks ``Engine.tasks`` lists (without ``--mine``), in its order, as ``task_dict``s."""
    tasks = Task.metadata.tables[Task.__tablename__]
    cycles = Cycle.metadata.tables[Cycle.__tablename__]
    assignees = TaskAssignee.metadata.tables[TaskAssignee.__tablename__]
    where = [tasks.c.municipality == municipality]
    if only_open or overdue:
        where.append(tasks.c.status == "open")
    if overdue:
        where.append(tasks.c.due_at < now)
    query = (
        select(*(tasks.c[name] for name in TASK_COLUMNS), cycles.c.ref)
        .join(cycles, cycles.c.id == tasks.c.cycle_id)
        .where(*where)
        .order_by(tasks.c.due_at, tasks.c.id)
    )
    people = select(assignees.c.task_id, assignees.c.person).join(
        tasks, tasks.c.id == assignees.c.task_id
    )
    with store.reading() as session:
        rows = session.execute(query).all()
        held: dict[int, list[str]] = {}
        for task_id, person in session.execute(people.where(*where)):
            held.setdefault(task_id, []).append(person)
    return [task_dict(row, row.ref, held.get(row.id, [])) for row in rows]

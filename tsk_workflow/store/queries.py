"""Read-only queries in SQLAlchemy Core, for commands whose start-up must stay small.

They give the same rows as the engine's ORM queries (``Engine.tasks``), without loading the
definitions, the organisation or the ORM at all (``Store.reading_rows``). They name their tables
with the lightweight ``table()``/``column()`` constructs instead of importing the mapped models: mapping
every table (``store/models.py``) costs more at start-up than ``task list`` spends on its query.
``tests/test_store_queries.py`` checks these columns against the models, so they cannot drift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, column, func, select, table

from tsk_workflow.store.database import Store

# Only the columns read or filtered on, typed for what their values need on the way out
# (SQLite gives booleans as 0/1 and times as text); times are converted as ``_utc_iso`` says.
MUNICIPALITIES = table("municipalities", column("key", String), column("digest", String))
CYCLES = table("cycles", column("id", Integer), column("ref", String))
TASKS = table(
    "tasks",
    column("id", Integer),
    column("cycle_id", Integer),
    column("municipality", String),
    column("step", String),
    column("key", String),
    column("title", String),
    column("role", String),
    column("due_at", DateTime(timezone=True)),
    column("status", String),
    column("required", Boolean),
    column("done_by", String),
    column("done_at", DateTime(timezone=True)),
    column("note", String),
)
TASK_ASSIGNEES = table("task_assignees", column("task_id", Integer), column("person", String))

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


def municipality_digests(store: Store) -> dict[str, str]:
    """The municipalities loaded, each with the SHA-256 of its organisation in force."""
    query = select(MUNICIPALITIES.c.key, MUNICIPALITIES.c.digest)
    with store.reading_rows() as connection:
        return {str(key): str(digest) for key, digest in connection.execute(query)}


def task_dict(task: Any, cycle_ref: str, people: list[str]) -> dict[str, Any]:
    """A task as ``task list --json`` shows it, from an ORM task (or anything with its
    attributes)."""
    return task_json((*(getattr(task, name) for name in TASK_COLUMNS), cycle_ref), people)


def task_json(values: Sequence[Any], people: list[str]) -> dict[str, Any]:
    """A task as ``task list --json`` shows it, from the values of ``TASK_COLUMNS`` and the
    cycle's ref, in order: a Core row as it is (reading 10,000 rows' fields by name costs more
    than the query)."""
    id_, cycle_id, step, key, title, role, due_at, status, required, done_by, done_at, note, ref = (
        values
    )
    return {
        "id": id_,
        "cycle": cycle_id,
        "cycle_ref": ref,
        "step": step,
        "key": key,
        "title": title,
        "role": role,
        "assignees": sorted(people),
        "due": _utc_iso(due_at),
        "status": status,
        "required": required,
        "done_by": done_by,
        "done_at": _utc_iso(done_at),
        "note": note,
    }


def _utc_iso(moment: dt.datetime | None) -> str | None:
    """A time read from the database in ISO 8601, in UTC. ``models.UtcDateTime`` does this
    conversion for the ORM (an ORM task's times are already aware UTC); here the plain column
    type gives SQLite's naive UTC as it is, which is cheaper than a type decorator per value."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # naive UTC (SQLite): written as the aware time would be
        return moment.isoformat() + "+00:00"
    return moment.astimezone(dt.UTC).isoformat()


def _as_stored(store: Store, moment: dt.datetime) -> dt.datetime:
    """A time to compare with a column as ``models.UtcDateTime`` stores it: UTC, naive on
    SQLite."""
    moment = moment.astimezone(dt.UTC)
    return moment.replace(tzinfo=None) if store.dialect == "sqlite" else moment


def task_rows(
    store: Store, municipality: str, *, overdue: bool, only_open: bool, now: dt.datetime
) -> list[dict[str, Any]]:
    """The tasks ``Engine.tasks`` lists (without ``--mine``), in its order, as ``task_dict``s.

    One query: each task's assignees come joined into one text by the database
    (``aggregate_strings``: ``group_concat`` on SQLite, ``string_agg`` on PostgreSQL), which for
    10,000 tasks is faster than a second query grouped here. Person ids cannot hold the comma
    (``organisation.model.PersonId``).
    """
    tasks, cycles, assignees = TASKS, CYCLES, TASK_ASSIGNEES
    where = [tasks.c.municipality == municipality]
    if only_open or overdue:
        where.append(tasks.c.status == "open")
    if overdue:
        where.append(tasks.c.due_at < _as_stored(store, now))
    held = (
        select(func.aggregate_strings(assignees.c.person, ","))
        .where(assignees.c.task_id == tasks.c.id)
        .scalar_subquery()
    )
    query = (
        select(*(tasks.c[name] for name in TASK_COLUMNS), cycles.c.ref, held)
        .join(cycles, cycles.c.id == tasks.c.cycle_id)
        .where(*where)
        .order_by(tasks.c.due_at, tasks.c.id)
    )
    with store.reading_rows() as connection:
        rows = connection.execute(query).all()
    return [task_json(row[:-1], row[-1].split(",") if row[-1] else []) for row in rows]

"""The statements of an act's hot path: prebuilt Core statements with bound parameters.

An act changes a handful of rows (the cycle, a step's tasks and their assignees, timers, outbox
rows). Going through the ORM's unit of work for each of them costs several times the statements
themselves (docs/performance.md, benchmark 1), so the engine writes these rows with the
statements below on the session's connection, in the session's transaction.

The ORM objects the session holds are kept in step with what was written
(``set_committed_value``): a cycle read after an act shows its new state and version, a task
cancelled here reads as cancelled, and nothing is left dirty for the unit of work to write
again at commit. These statements do not flush the session: callers flush what they added
through the ORM (a new cycle, a document) before writing rows that refer to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Insert,
    Table,
    Update,
    and_,
    bindparam,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.base import instance_state

from tsk_workflow.errors import Conflict
from tsk_workflow.i18n import _
from tsk_workflow.store.models import Cycle, Document, OutboxMessage, Task, TaskAssignee, Timer

CYCLES = Cycle.metadata.tables[Cycle.__tablename__]
TASKS = Task.metadata.tables[Task.__tablename__]
ASSIGNEES = TaskAssignee.metadata.tables[TaskAssignee.__tablename__]
TIMERS = Timer.metadata.tables[Timer.__tablename__]
OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
DOCUMENTS = Document.metadata.tables[Document.__tablename__]

# ------------------------------------------------------------------ cycles

_CYCLE_UPDATES: dict[tuple[frozenset[str], bool], Update] = {}
_CLAIMED = "tsk_claimed_cycles"
"""Where the session keeps the cycles claimed in its current transaction."""
_WRITTEN = "tsk_written_past_orm"
"""Set when objects of the session were given values written by these statements."""


def claim_cycle(session: Session, cycle: Cycle) -> None:
    """Raise the cycle's ``version`` now, if no one else has since it was read.

    A concurrent act that read the same version then fails with ``Conflict`` instead of acting
    on what it read; on PostgreSQL the update also makes such an act wait here for this one.
    """
    _write_cycle(session, cycle, {})


def set_cycle(session: Session, cycle: Cycle, **values: Any) -> None:
    """``UPDATE cycles SET ...`` for this cycle, and the same values on the object.

    The first write to a cycle in a transaction also claims it (``claim_cycle``), in the same
    statement: an act that changes the cycle's step need not claim it first.
    """
    _write_cycle(session, cycle, values)


def _write_cycle(session: Session, cycle: Cycle, values: dict[str, Any]) -> None:
    claimed = _claimed(session)
    claim = cycle.id not in claimed
    if not values and not claim:
        return
    statement = _cycle_update(frozenset(values), claim)
    params = {f"v_{name}": value for name, value in values.items()}
    old = cycle.version
    done = session.connection().execute(statement, {"cid": cycle.id, "old": old, **params})
    if claim and done.rowcount != 1:
        raise Conflict(_("someone else changed this cycle at the same time; try again"))
    session.info[_WRITTEN] = True
    if claim:
        claimed.add(cycle.id)
        set_committed_value(cycle, "version", old + 1)
    for name, value in values.items():
        set_committed_value(cycle, name, value)


def _cycle_update(names: frozenset[str], claim: bool) -> Update:
    statement = _CYCLE_UPDATES.get((names, claim))
    if statement is None:
        statement = update(CYCLES).where(CYCLES.c.id == bindparam("cid"))
        changes: dict[str, Any] = {name: bindparam(f"v_{name}") for name in names}
        if claim:
            statement = statement.where(CYCLES.c.version == bindparam("old"))
            changes["version"] = CYCLES.c.version + 1
        statement = statement.values(changes)
        _CYCLE_UPDATES[(names, claim)] = statement
    return statement


def _claimed(session: Session) -> set[int]:
    """The ids of the cycles claimed in the session's current (top-level) transaction."""
    transaction = session.get_transaction()
    kept = session.info.get(_CLAIMED)
    if kept is None or kept[0] is not transaction:
        kept = session.info[_CLAIMED] = (transaction, set())
    claimed: set[int] = kept[1]
    return claimed


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: values these statements put on objects may be undone in the
    database, so the objects are read again when next used (the unit of work does the same
    for what it wrote itself), and cycles claimed in it are claimed again."""
    if previous.nested and session.info.pop(_WRITTEN, False):
        session.expire_all()
        session.info.pop(_CLAIMED, None)


_INSERT_CYCLE = insert(CYCLES)


def insert_cycle(session: Session, values: Mapping[str, Any]) -> Cycle:
    """A new cycle written now, returned as a ``Cycle`` of the session (as if read back)."""
    row = {**values, "version": 1}
    key = session.connection().execute(_INSERT_CYCLE, row).inserted_primary_key
    assert key is not None
    cycle = Cycle(id=key[0], **row)
    make_transient_to_detached(cycle)  # as if loaded: nothing for the unit of work to write
    session.add(cycle)
    return cycle


_CYCLE_WITH_OPEN_TASKS = (
    select(Cycle, TASKS.c.id, TASKS.c.due_at)
    .outerjoin(
        TASKS,
        and_(
            TASKS.c.cycle_id == Cycle.id,
            TASKS.c.status == "open",
            TASKS.c.step == Cycle.state,
        ),
    )
    .where(Cycle.municipality == bindparam("municipality"))
    .order_by(TASKS.c.id)
)
_CYCLE_WITH_OPEN_TASKS_BY = {
    "id": _CYCLE_WITH_OPEN_TASKS.where(Cycle.id == bindparam("key")),
    "ref": _CYCLE_WITH_OPEN_TASKS.where(Cycle.ref == bindparam("key")),
}


def cycle_with_open_tasks(
    session: Session, municipality: str, by: str, key: int | str
) -> tuple[Cycle, list[OpenTask]] | None:
    """The cycle (``by`` "id" or "ref") and the open tasks of its current step, with one query:
    what an act that moves the cycle on reads first."""
    params = {"municipality": municipality, "key": key}
    found = session.execute(_CYCLE_WITH_OPEN_TASKS_BY[by], params).all()
    if not found:
        return None
    tasks = [OpenTask(task_id, due_at) for _cycle, task_id, due_at in found if task_id is not None]
    return found[0][0], tasks


def forget_tasks(cycle: Cycle) -> None:
    """Tasks were written past the ORM: ``cycle.tasks``, if loaded, is read again when used."""
    state = instance_state(cycle)
    if "tasks" in state.dict and state.session is not None:
        state.session.expire(cycle, ["tasks"])


# ------------------------------------------------------------------ tasks

_OPEN_TASKS = (
    select(TASKS.c.id, TASKS.c.due_at)
    .where(TASKS.c.cycle_id == bindparam("cid"), TASKS.c.status == "open")
    .order_by(TASKS.c.id)
)
_OPEN_TASKS_OF_STEP = _OPEN_TASKS.where(TASKS.c.step == bindparam("step"))
_REQUIRED_STATUSES = select(TASKS.c.status).where(
    TASKS.c.cycle_id == bindparam("cid"), TASKS.c.step == bindparam("step"), TASKS.c.required
)
_CANCEL_TASKS = (
    update(TASKS).where(TASKS.c.id.in_(bindparam("ids", expanding=True))).values(status="cancelled")
)
_INSERT_TASK = insert(TASKS)
_INSERT_TASKS = insert(TASKS).returning(TASKS.c.id, sort_by_parameter_order=True)
_INSERT_ASSIGNEES = insert(ASSIGNEES)


class OpenTask(NamedTuple):
    id: int
    due_at: dt.datetime | None


def open_tasks(session: Session, cycle_id: int, step: str | None = None) -> list[OpenTask]:
    """The cycle's open tasks (of ``step``, when given), oldest first."""
    if step is None:
        rows = session.connection().execute(_OPEN_TASKS, {"cid": cycle_id})
    else:
        rows = session.connection().execute(_OPEN_TASKS_OF_STEP, {"cid": cycle_id, "step": step})
    return [OpenTask(task_id, due_at) for task_id, due_at in rows]


def required_statuses(session: Session, cycle_id: int, step: str) -> list[str]:
    """The statuses of the required tasks of ``step`` in the cycle."""
    return list(session.connection().scalars(_REQUIRED_STATUSES, {"cid": cycle_id, "step": step}))


def cancel_tasks(session: Session, tasks: Sequence[OpenTask]) -> None:
    """Cancel the tasks and their pending timers; task objects the session holds follow.

    Only a task with a due time has timers (its due, reminder and escalation timers all hang
    off it: ``engine.timing.task_timers``), so the timers of the others are not looked for.
    """
    if not tasks:
        return
    ids = [task.id for task in tasks]
    session.connection().execute(_CANCEL_TASKS, {"ids": ids})
    cancel_task_timers(session, [task.id for task in tasks if task.due_at is not None])
    session.info[_WRITTEN] = True
    for task_id in ids:
        task = session.identity_map.get(session.identity_key(Task, task_id))
        if task is not None:
            set_committed_value(task, "status", "cancelled")


def insert_tasks(
    session: Session, values: Mapping[str, Any], people_sets: Sequence[Sequence[str]]
) -> list[int]:
    """One task of ``values`` for each set of people, with those people as its assignees; the
    tasks' ids, in the order of ``people_sets``."""
    connection = session.connection()
    if (
        len(people_sets) > 1
        and connection.dialect.insert_executemany_returning_sort_by_parameter_order
    ):
        ids = list(connection.scalars(_INSERT_TASKS, [dict(values) for _people in people_sets]))
    else:  # one task, or a database that cannot return the ids of many rows at once
        ids = [_insert_task(connection, values) for _people in people_sets]
    assignees = [
        {"task_id": task_id, "person": person}
        for task_id, people in zip(ids, people_sets, strict=True)
        for person in people
    ]
    if assignees:
        connection.execute(_INSERT_ASSIGNEES, assignees)
    return ids


def _insert_task(connection: Connection, values: Mapping[str, Any]) -> int:
    key = connection.execute(_INSERT_TASK, dict(values)).inserted_primary_key
    assert key is not None
    return int(key[0])


# ------------------------------------------------------------------ inserts that leave out duplicates


def _ignoring_duplicates(table: Table, column: str) -> dict[str, Insert]:
    """``INSERT ... ON CONFLICT (column) DO NOTHING`` on each database that has it."""
    return {
        name: dialect.insert(table).on_conflict_do_nothing(index_elements=[column])
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
    }


def _not_there(
    connection: Connection, table: Table, column: str, params: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``params`` but those whose ``column`` value the table has already: for a database
    without ``ON CONFLICT``."""
    query = select(table.c[column]).where(table.c[column].in_(bindparam("values", expanding=True)))
    there = set(connection.scalars(query, {"values": [p[column] for p in params]}))
    return [p for p in params if p[column] not in there]


# ------------------------------------------------------------------ timers

_INSERT_TIMERS = _ignoring_duplicates(TIMERS, "key")
_CANCEL_TASK_TIMERS = (
    update(TIMERS)
    .where(TIMERS.c.status == "pending", TIMERS.c.task_id.in_(bindparam("ids", expanding=True)))
    .values(status="cancelled")
)
_CANCEL_CYCLE_TIMERS = (
    update(TIMERS)
    .where(TIMERS.c.status == "pending", TIMERS.c.cycle_id == bindparam("cid"))
    .values(status="cancelled")
)
_CANCEL_TRANSITION_TIMERS = _CANCEL_CYCLE_TIMERS.where(TIMERS.c.kind == "transition")


def insert_timers(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert timers; one whose key is planned already is left out (a timer is planned once)."""
    if not rows:
        return
    connection = session.connection()
    params = [dict(row) for row in rows]
    statement = _INSERT_TIMERS.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        params, statement = _not_there(connection, TIMERS, "key", params), insert(TIMERS)
    if params:
        connection.execute(statement, params)


def cancel_task_timers(session: Session, task_ids: Sequence[int]) -> None:
    if task_ids:
        session.connection().execute(_CANCEL_TASK_TIMERS, {"ids": list(task_ids)})


def cancel_cycle_timers(session: Session, cycle_id: int, *, transitions_only: bool) -> None:
    statement = _CANCEL_TRANSITION_TIMERS if transitions_only else _CANCEL_CYCLE_TIMERS
    session.connection().execute(statement, {"cid": cycle_id})


# ------------------------------------------------------------------ documents

_DOCUMENT_KINDS = select(DOCUMENTS.c.kind).where(
    DOCUMENTS.c.cycle_id == bindparam("cid"), DOCUMENTS.c.step == bindparam("step")
)


def insert_document(session: Session, document: Document) -> None:
    """Add ``document`` to the act's transaction, written now so that it has its id."""
    session.add(document)
    session.flush()


def document_kinds(session: Session, cycle_id: int, step: str) -> set[str]:
    """The kinds of document attached to the cycle in ``step``."""
    session.flush()  # a document attached earlier in this act counts
    return set(session.connection().scalars(_DOCUMENT_KINDS, {"cid": cycle_id, "step": step}))


# ------------------------------------------------------------------ outbox

_QUEUE = _ignoring_duplicates(OUTBOX, "message_id")


def queue_mail(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert outbox rows; a row whose Message-ID is queued already is left out (the same mail
    queued again by a retried act, or by a step entered twice). Returns how many were new."""
    if not rows:
        return 0
    connection = session.connection()
    params = [dict(row) for row in rows]
    statement = _QUEUE.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        params = _not_there(connection, OUTBOX, "message_id", params)
        if params:
            connection.execute(insert(OUTBOX), params)
        return len(params)
    if connection.dialect.name == "sqlite":
        # SQLite counts the rows that went in, over all the parameter sets. (PostgreSQL's
        # INSERT returns the new ids to SQLAlchemy, and no rowcount then.)
        return connection.execute(statement, params[0] if len(params) == 1 else params).rowcount
    inserted = connection.scalars(statement.returning(OUTBOX.c.message_id), params)
    return len(inserted.all())


def outbox_has(session: Session, message_id: str) -> bool:
    """Whether a mail with ``message_id`` is in the outbox (in any status)."""
    found = session.execute(select(OUTBOX.c.id).where(OUTBOX.c.message_id == message_id))
    return found.first() is not None


def insert_mail(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """``queue_mail`` for many rows at once (the scheduler's notices), without counting them:
    one executemany, no ``RETURNING``. Within ``rows`` too, each Message-ID goes in once."""
    if not rows:
        return
    connection = session.connection()
    statement = _QUEUE.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        firsts: dict[str, dict[str, Any]] = {}
        for row in rows:
            firsts.setdefault(row["message_id"], dict(row))
        params = _not_there(connection, OUTBOX, "message_id", list(firsts.values()))
        if params:
            connection.execute(insert(OUTBOX), params)
        return
    connection.execute(statement, list(rows))

"""All the SQL of the engine's acts: reading the cycle an act works on, and writing what it
decided (and what a scheduler pass decided of its timers).

An act (``tsk_workflow.engine.act``) reads its cycle as plain data, :class:`CycleState` with
its tasks as :class:`TaskState`, decides in memory, and collects what it decided in
:class:`Effects`: cycles opened and changed, tasks and their assignees, timers, outbox rows,
documents and decisions. :func:`apply` writes them set-based, in the act's transaction: this
is the only place an act's rows are written, and nothing the act holds is an ORM object, so
nothing has to be kept in step with what was written.

New rows get their ids before they are written (:func:`reserve_ids`), so that an act can name
them while deciding (timer keys, Message-IDs, audit events).

Each cycle an act changes is claimed once, when the effects are applied: ``UPDATE cycles SET
version = version + 1 WHERE id = :id AND version = :read``, with the version the act read. It
is the one optimistic lock on cycles: a concurrent act that read the same version finds no row
and fails with ``Conflict`` instead of acting on what it read (a task completed twice, a task
completed by one act and cancelled by another's close). On PostgreSQL the update also makes
it wait for the other act's transaction; SQLite's writers wait at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, Insert, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from tsk_workflow.errors import Conflict
from tsk_workflow.i18n import _
from tsk_workflow.store import timers
from tsk_workflow.store.models import (
    Cycle,
    Decision,
    Document,
    Task,
    TaskAssignee,
    Timer,
)
from tsk_workflow.store.outbox import ignoring_duplicates, insert_mail, not_there
from tsk_workflow.store.timers import TimerOutcome

CYCLES = Cycle.metadata.tables[Cycle.__tablename__]
TASKS = Task.metadata.tables[Task.__tablename__]
ASSIGNEES = TaskAssignee.metadata.tables[TaskAssignee.__tablename__]
TIMERS = Timer.metadata.tables[Timer.__tablename__]
DOCUMENTS = Document.metadata.tables[Document.__tablename__]
DECISIONS = Decision.metadata.tables[Decision.__tablename__]

# ------------------------------------------------------------------ what an act reads


@dataclass(slots=True)
class TaskState:
    """A task as an act sees it (the columns of ``tasks``, and its assignees)."""

    id: int
    cycle_id: int
    municipality: str
    step: str
    key: str
    role: str
    title: str
    required: bool
    status: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    done_at: dt.datetime | None = None
    done_by: str | None = None
    note: str | None = None
    answers: dict[str, Any] | None = None
    assignee_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CycleState:
    """A cycle as an act sees it: the columns of ``cycles``, and all its tasks, oldest first.

    ``version`` is the version the act read, raised by one once the act has claimed the cycle
    (``Effects.claim``): what a timed transition's key is made from, as it was before."""

    id: int
    ref: str
    municipality: str
    process: str
    process_version: int
    process_digest: str | None
    period: str
    subject: str
    title: str
    state: str
    status: str
    group_key: str
    opened_at: dt.datetime
    opened_by: str
    step_entered_at: dt.datetime
    closed_at: dt.datetime | None
    closed_by: str | None
    close_note: str | None
    forced: bool
    late: bool
    parent_id: int | None
    version: int
    tasks: list[TaskState] = field(default_factory=list)

    def open_tasks(self, step: str | None = None) -> list[TaskState]:
        """The open tasks (of ``step``, when given), oldest first."""
        return [t for t in self.tasks if t.status == "open" and (step is None or t.step == step)]


CYCLE_COLUMNS = tuple(f.name for f in fields(CycleState) if f.name != "tasks")
TASK_COLUMNS = tuple(f.name for f in fields(TaskState) if f.name != "assignee_ids")

_CYCLE_WITH_TASKS = (
    select(
        CYCLES,
        *(TASKS.c[name].label(f"t_{name}") for name in TASK_COLUMNS),
        ASSIGNEES.c.person.label("a_person"),
    )
    .outerjoin(TASKS, TASKS.c.cycle_id == CYCLES.c.id)
    .outerjoin(ASSIGNEES, ASSIGNEES.c.task_id == TASKS.c.id)
    .where(CYCLES.c.municipality == bindparam("municipality"))
    .order_by(TASKS.c.id, ASSIGNEES.c.person)
)
_CYCLE_WITH_TASKS_BY = {
    "id": _CYCLE_WITH_TASKS.where(CYCLES.c.id == bindparam("key")),
    "ref": _CYCLE_WITH_TASKS.where(CYCLES.c.ref == bindparam("key")),
}
# On SQLite the act also learns the highest task id, which ``reserve_ids`` needs there: one
# statement fewer for every act that makes tasks.
_HIGHEST_TASK = select(func.coalesce(func.max(TASKS.c.id), 0)).scalar_subquery()
_CYCLE_WITH_TASKS_BY_SQLITE = {
    by: query.add_columns(_HIGHEST_TASK.label("highest_task"))
    for by, query in _CYCLE_WITH_TASKS_BY.items()
}
_CYCLE_OF_TASK = select(TASKS.c.cycle_id).where(
    TASKS.c.id == bindparam("tid"), TASKS.c.municipality == bindparam("municipality")
)


def load_cycle(session: Session, municipality: str, by: str, key: int | str) -> CycleState | None:
    """The cycle of ``municipality`` named by its id (``by`` "id") or ref (``by`` "ref"), with
    its tasks and their assignees: one query."""
    connection = session.connection()
    params = {"municipality": municipality, "key": key}
    sqlite = connection.dialect.name == "sqlite"
    queries = _CYCLE_WITH_TASKS_BY_SQLITE if sqlite else _CYCLE_WITH_TASKS_BY
    found = connection.execute(queries[by], params).all()
    if not found:
        return None
    first = found[0]._mapping
    cycle = CycleState(**{name: first[CYCLES.c[name]] for name in CYCLE_COLUMNS})
    tasks: dict[int, TaskState] = {}
    for row in found:
        values = row._mapping
        task_id = values["t_id"]
        if task_id is None:
            continue
        task = tasks.get(task_id)
        if task is None:
            task = tasks[task_id] = TaskState(
                **{name: values[f"t_{name}"] for name in TASK_COLUMNS}
            )
        if values["a_person"] is not None:
            task.assignee_ids.append(values["a_person"])
    cycle.tasks = list(tasks.values())
    if sqlite:
        _next_ids(session).setdefault("tasks", int(first["highest_task"]) + 1)
    return cycle


def cycle_of_task(session: Session, municipality: str, task_id: int) -> int | None:
    """The id of the cycle the task of ``municipality`` belongs to."""
    params = {"tid": task_id, "municipality": municipality}
    found = session.connection().scalar(_CYCLE_OF_TASK, params)
    return int(found) if found is not None else None


_DOCUMENT_KINDS = select(DOCUMENTS.c.step, DOCUMENTS.c.kind).where(
    DOCUMENTS.c.cycle_id == bindparam("cid")
)


def document_kinds(session: Session, cycle_id: int) -> set[tuple[str, str]]:
    """The documents attached to the cycle, as ``(step, kind)``."""
    rows = session.connection().execute(_DOCUMENT_KINDS, {"cid": cycle_id})
    return {(step, kind) for step, kind in rows}


# ------------------------------------------------------------------ new ids

_NEXT_IDS = "tsk_next_ids"


def reserve_ids(session: Session, table: str, count: int) -> list[int]:
    """``count`` ids for new rows of ``table`` (``cycles``, ``tasks``, ``documents``,
    ``decisions``), unused by anyone: from the table's sequence on PostgreSQL; on SQLite, whose
    writers hold the database alone for their whole transaction, after the highest id there
    and those handed out before in this transaction. An id reserved and not used is a gap."""
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        query = text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)")
        return [int(i) for i in connection.scalars(query, {"t": table, "n": count})]
    next_ids = _next_ids(session)
    start = next_ids.get(table)
    if start is None:
        highest = connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {_known(table)}"))
        start = int(highest or 0) + 1
    next_ids[table] = start + count
    return list(range(start, start + count))


def _next_ids(session: Session) -> dict[str, int]:
    """The next free id of each table, as far as this transaction knows (SQLite)."""
    transaction = session.get_transaction()
    kept = session.info.get(_NEXT_IDS)
    if kept is None or kept[0] is not transaction:
        kept = session.info[_NEXT_IDS] = (transaction, {})
    next_ids: dict[str, int] = kept[1]
    return next_ids


def _known(table: str) -> str:
    if table not in {"cycles", "tasks", "documents", "decisions"}:
        raise ValueError(f"no ids are reserved for {table!r}")
    return table


# ------------------------------------------------------------------ what an act decided


@dataclass
class Effects:
    """What an act decided, to be written by :func:`apply`: plain rows and changes.

    What the act does to rows it made itself lands on those rows before they are written (a
    task made and cancelled in one act is written cancelled, the timers of a step entered and
    left in one act are written cancelled), so that :func:`apply` can write each kind of row
    with one statement, in an order the foreign keys allow."""

    claims: dict[int, int] = field(default_factory=dict)
    """Cycle id -> the version the act read: each claimed once."""
    held: set[int] = field(default_factory=set)
    """Cycles this act claimed or opened in effects written before these: not claimed again."""
    new_cycles: dict[int, dict[str, Any]] = field(default_factory=dict)
    cycle_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_assignees: list[dict[str, Any]] = field(default_factory=list)
    task_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    cancelled_tasks: list[int] = field(default_factory=list)
    new_timers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Timer key -> row; of two with one key, the first (a timer is planned once)."""
    timers_of_tasks_cancelled: list[int] = field(default_factory=list)
    timers_of_cycles_cancelled: dict[int, bool] = field(default_factory=dict)
    """Cycle id -> transitions only."""
    documents: list[dict[str, Any]] = field(default_factory=list)
    new_decisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    decision_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[TimerOutcome] = field(default_factory=list)
    """What became of the timers a scheduler pass fired (``fire``)."""
    fired: tuple[dt.datetime, str] | None = None
    """When, and by which worker, those timers were fired."""

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name not in {"held", "fired"})

    def following(self) -> Effects:
        """Empty effects for what the act decides after these are written."""
        return Effects(held={*self.held, *self.claims, *self.new_cycles})

    # ---------------------------------------------------------- cycles

    def claim(self, cycle: CycleState) -> None:
        """Claim ``cycle`` for this act (see the module's docstring); its ``version`` goes up."""
        if cycle.id in self.claims or cycle.id in self.new_cycles or cycle.id in self.held:
            return
        self.claims[cycle.id] = cycle.version
        cycle.version += 1

    def open_cycle(self, cycle: CycleState) -> None:
        self.new_cycles[cycle.id] = {name: getattr(cycle, name) for name in CYCLE_COLUMNS}

    def change_cycle(self, cycle: CycleState, **values: Any) -> None:
        """Set ``values`` on the cycle (claiming it) and have them written."""
        self.claim(cycle)
        for name, value in values.items():
            setattr(cycle, name, value)
        _change(cycle.id, values, self.new_cycles, self.cycle_changes)

    # ---------------------------------------------------------- tasks

    def add_task(self, task: TaskState) -> None:
        self.new_tasks[task.id] = {name: getattr(task, name) for name in TASK_COLUMNS}
        self.new_assignees.extend({"task_id": task.id, "person": p} for p in task.assignee_ids)

    def change_task(self, task: TaskState, **values: Any) -> None:
        for name, value in values.items():
            setattr(task, name, value)
        _change(task.id, values, self.new_tasks, self.task_changes)

    def cancel_tasks(self, tasks: Sequence[TaskState]) -> None:
        """Cancel the tasks and their timers.

        Only a task with a due time has timers (its due, reminder and escalation timers all
        hang off it: ``engine.timing.task_timers``), so the timers of the others are not
        looked for."""
        for task in tasks:
            task.status = "cancelled"
            row = self.new_tasks.get(task.id)
            if row is not None:
                row["status"] = "cancelled"
            elif task.id in self.task_changes:
                self.task_changes[task.id]["status"] = "cancelled"
            else:
                self.cancelled_tasks.append(task.id)
        self.cancel_timers_of_tasks([task.id for task in tasks if task.due_at is not None])

    # ---------------------------------------------------------- timers

    def add_timers(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.new_timers.setdefault(row["key"], row)

    def cancel_timers_of_tasks(self, task_ids: Sequence[int]) -> None:
        ids = set(task_ids)
        if not ids:
            return
        for row in self.new_timers.values():
            if row["task_id"] in ids and row["status"] == "pending":
                row["status"] = "cancelled"
        self.timers_of_tasks_cancelled.extend(i for i in task_ids if i not in self.new_tasks)

    def cancel_timers_of_cycle(self, cycle_id: int, *, transitions_only: bool) -> None:
        for row in self.new_timers.values():
            if (
                row["cycle_id"] == cycle_id
                and row["status"] == "pending"
                and (row["kind"] == "transition" or not transitions_only)
            ):
                row["status"] = "cancelled"
        if cycle_id in self.new_cycles:
            return
        before = self.timers_of_cycles_cancelled.get(cycle_id, True)
        self.timers_of_cycles_cancelled[cycle_id] = before and transitions_only

    # ---------------------------------------------------------- documents, decisions, mail

    def add_document(self, row: dict[str, Any]) -> None:
        self.documents.append(row)

    def add_decision(self, row: dict[str, Any]) -> None:
        self.new_decisions[row["id"]] = row

    def change_decision(self, decision_id: int, **values: Any) -> None:
        _change(decision_id, values, self.new_decisions, self.decision_changes)

    def fire(self, outcomes: Iterable[TimerOutcome], at: dt.datetime, worker: str) -> None:
        """The timers of ``outcomes`` were fired at ``at`` by ``worker`` (or failed)."""
        self.outcomes.extend(outcomes)
        self.fired = (at, worker)

    def queue(self, rows: Iterable[dict[str, Any]]) -> None:
        """Outbox rows, in order; each Message-ID goes in once (the first), and not at all when
        it is queued already (``apply``)."""
        self.outbox.extend(rows)


def _change(
    row_id: int,
    values: Mapping[str, Any],
    new_rows: dict[int, dict[str, Any]],
    changes: dict[int, dict[str, Any]],
) -> None:
    """``values`` for the row ``row_id``: on the row itself when this act makes it, else among
    the changes to write."""
    row = new_rows.get(row_id)
    if row is not None:
        row.update(values)
    else:
        changes.setdefault(row_id, {}).update(values)


# ------------------------------------------------------------------ writing it


def apply(session: Session, effects: Effects) -> None:
    """Write ``effects`` in the session's transaction, each kind of row with one statement (or
    one per distinct set of changed columns), parents before children."""
    connection = session.connection()
    _claim(connection, effects.claims, effects.cycle_changes)
    if effects.new_cycles:
        connection.execute(insert(CYCLES), list(effects.new_cycles.values()))
    unclaimed = {i: v for i, v in effects.cycle_changes.items() if i not in effects.claims}
    _update_rows(connection, CYCLES, unclaimed)
    if effects.new_tasks:
        connection.execute(insert(TASKS), list(effects.new_tasks.values()))
    if effects.new_assignees:
        connection.execute(insert(ASSIGNEES), effects.new_assignees)
    if effects.cancelled_tasks:
        connection.execute(_CANCEL_TASKS, {"ids": effects.cancelled_tasks})
    _update_rows(connection, TASKS, effects.task_changes)
    if effects.timers_of_tasks_cancelled:
        connection.execute(_CANCEL_TASK_TIMERS, {"ids": effects.timers_of_tasks_cancelled})
    for cycle_id, transitions_only in effects.timers_of_cycles_cancelled.items():
        statement = _CANCEL_TRANSITION_TIMERS if transitions_only else _CANCEL_CYCLE_TIMERS
        connection.execute(statement, {"cid": cycle_id})
    _insert_timers(connection, list(effects.new_timers.values()))
    if effects.documents:
        connection.execute(insert(DOCUMENTS), effects.documents)
    if effects.new_decisions:
        connection.execute(insert(DECISIONS), list(effects.new_decisions.values()))
    _update_rows(connection, DECISIONS, effects.decision_changes)
    if effects.outbox:
        insert_mail(session, effects.outbox)
    if effects.outcomes and effects.fired is not None:
        timers.mark(connection, effects.outcomes, *effects.fired)


_CLAIMS: dict[frozenset[str], Any] = {}


def _claim(
    connection: Connection, claims: Mapping[int, int], changes: Mapping[int, Mapping[str, Any]]
) -> None:
    """Claim each cycle (see the module's docstring), with its changes in the same statement."""
    for cycle_id, read in sorted(claims.items()):  # in id order: two acts cannot deadlock here
        values = changes.get(cycle_id, {})
        statement = _CLAIMS.get(frozenset(values))
        if statement is None:
            statement = (
                update(CYCLES)
                .where(CYCLES.c.id == bindparam("cid"), CYCLES.c.version == bindparam("read"))
                .values(
                    version=CYCLES.c.version + 1,
                    **{name: bindparam(f"v_{name}") for name in values},
                )
            )
            _CLAIMS[frozenset(values)] = statement
        params = {f"v_{name}": value for name, value in values.items()}
        done = connection.execute(statement, {"cid": cycle_id, "read": read, **params})
        if done.rowcount != 1:
            raise Conflict(_("someone else changed this cycle at the same time; try again"))


_UPDATES: dict[tuple[str, frozenset[str]], Any] = {}


def _update_rows(
    connection: Connection, table: Table, changes: Mapping[int, Mapping[str, Any]]
) -> None:
    """``UPDATE table SET ... WHERE id = ?`` for each row, one executemany per set of columns."""
    by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row_id, values in changes.items():
        params = {f"v_{name}": value for name, value in values.items()}
        by_columns.setdefault(frozenset(values), []).append({"rid": row_id, **params})
    for names, rows in by_columns.items():
        statement = _UPDATES.get((table.name, names))
        if statement is None:
            statement = (
                update(table)
                .where(table.c.id == bindparam("rid"))
                .values({name: bindparam(f"v_{name}") for name in names})
            )
            _UPDATES[(table.name, names)] = statement
        connection.execute(statement, rows)


_CANCEL_TASKS = (
    update(TASKS).where(TASKS.c.id.in_(bindparam("ids", expanding=True))).values(status="cancelled")
)
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
_INSERT_TIMERS: dict[str, Insert] = ignoring_duplicates(TIMERS, "key")


def _insert_timers(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert timers; one whose key is planned already is left out (a timer is planned once)."""
    if not rows:
        return
    statement = _INSERT_TIMERS.get(connection.dialect.name)
    if statement is None:  # another database: no ON CONFLICT, so ask first
        rows, statement = not_there(connection, TIMERS, "key", rows), insert(TIMERS)
    if rows:
        connection.execute(statement, rows)

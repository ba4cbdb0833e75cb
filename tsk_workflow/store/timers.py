"""All the SQL of the scheduler pass: finding and claiming due timers, reading the rows their
handlers decide from, and marking what became of them.

The handlers (``engine/handlers.py``) see none of this: they get the claimed timers as
:class:`DueTimer` rows and what they read as :class:`Rows` (plain data, no ORM objects), and
return each timer's :class:`TimerEffects`: its :class:`TimerOutcome`, the outbox rows to queue
and the audit events to append. ``store.acts.apply`` writes the effects of many timers at once,
as it writes an act's, in the pass's transaction: the outbox rows with one ``INSERT ... ON
CONFLICT DO NOTHING`` (executemany), then the timers marked (:func:`mark`) with one ``UPDATE ...
WHERE id IN (...)`` per 500; the audit events are chained in order with one statement for the
events and one for their payloads.

Reading is set-based too: the open tasks of a run of timers with their cycles are one query per
500 tasks, their assignees one more, the newest due reminder of each task one more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from sqlalchemy import any_, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tsk_workflow.store.models import AuditEvent, Cycle, Task, TaskAssignee, Timer

CHUNK = 500
"""Ids per ``IN (...)`` list."""

TIMERS = Timer.metadata.tables[Timer.__tablename__]
TASKS = Task.metadata.tables[Task.__tablename__]
CYCLES = Cycle.metadata.tables[Cycle.__tablename__]
ASSIGNEES = TaskAssignee.metadata.tables[TaskAssignee.__tablename__]


# ------------------------------------------------------------------ the data


class DueTimer(NamedTuple):
    """A due timer as the pass claims it: the columns firing needs."""

    id: int
    key: str
    kind: str
    municipality: str
    fire_at: dt.datetime
    task_id: int | None
    cycle_id: int | None
    payload: dict[str, Any]


class CycleRow(NamedTuple):
    """The columns of a cycle that firing a timer reads."""

    id: int
    ref: str
    title: str
    period: str
    subject: str
    process: str
    process_digest: str | None
    state: str
    status: str
    group_key: str


class TaskRow(NamedTuple):
    """An open task with its cycle and assignees."""

    id: int
    cycle_id: int
    step: str
    key: str
    role: str
    title: str
    due_at: dt.datetime | None
    cycle: CycleRow
    assignee_ids: tuple[str, ...]


@dataclass(frozen=True)
class Rows:
    """What the handlers of a run of timers decide from, read at the start of the run."""

    tasks: dict[int, TaskRow]
    """The open tasks the timers are for (a task that is not open is not here)."""
    newest_reminders: dict[int, dt.datetime]
    """For each task with a reminder among the timers, when its newest reminder that is due and
    pending (or fired: see :data:`NEWER_REMINDER_STATUSES`) fires."""
    cycles: dict[int, CycleRow]
    """The cycles of the timed transitions among the timers."""
    existing_cycles: frozenset[tuple[str, str, str, str]]
    """``(municipality, process, period, subject)`` of the cycles the openings among the timers
    would open that exist already."""


Status = Literal["fired", "skipped", "failed"]


class TimerOutcome(NamedTuple):
    """What became of a timer: ``fired`` with an effect, ``skipped`` (fired without one, for
    ``reason``), or ``failed`` with ``reason`` the error. A failed timer's row keeps the error in
    its payload (``payload``: the timer's payload with ``error``)."""

    timer_id: int
    kind: str
    status: Status
    reason: str = ""
    payload: dict[str, Any] | None = None

    @classmethod
    def fired(cls, timer: DueTimer) -> TimerOutcome:
        return cls(timer.id, timer.kind, "fired")

    @classmethod
    def skipped(cls, timer: DueTimer, reason: str) -> TimerOutcome:
        return cls(timer.id, timer.kind, "skipped", reason)

    @classmethod
    def failed(cls, timer: DueTimer, error: str) -> TimerOutcome:
        error = error[:1000]
        return cls(timer.id, timer.kind, "failed", error, {**timer.payload, "error": error})


# ------------------------------------------------------------------ statements


def _ids_in(column: Any, dialect: str) -> Any:
    """``column IN (...ids)``, the ids given as ``ids``: on PostgreSQL ``column = ANY(:ids)``
    with one array parameter, so that the statement is the same text for any number of ids
    (an expanded list of 500 placeholders is rendered by SQLAlchemy and parsed by psycopg for
    each chunk, a fifth of a worker's CPU); elsewhere an expanding list."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam("ids", expanding=True))


def _per_dialect(build: Callable[[str], Any]) -> dict[str, Any]:
    return {dialect: build(dialect) for dialect in ("postgresql", "other")}


def _for(statements: dict[str, Any], connection: Connection) -> Any:
    return statements.get(connection.dialect.name, statements["other"])


DUE_COLUMNS = tuple(TIMERS.c[name] for name in DueTimer._fields)
"""The columns of ``timers`` a :class:`DueTimer` is made of, in its order."""

_CYCLE_COLUMNS = (
    CYCLES.c.ref,
    CYCLES.c.title,
    CYCLES.c.period,
    CYCLES.c.subject,
    CYCLES.c.process,
    CYCLES.c.process_digest,
    CYCLES.c.state,
    CYCLES.c.status,
    CYCLES.c.group_key,
)
_OPEN_TASKS = _per_dialect(
    lambda dialect: (
        select(
            TASKS.c.id,
            TASKS.c.cycle_id,
            TASKS.c.step,
            TASKS.c.key,
            TASKS.c.role,
            TASKS.c.title,
            TASKS.c.due_at,
            *_CYCLE_COLUMNS,
        )
        .join(CYCLES, CYCLES.c.id == TASKS.c.cycle_id)
        .where(_ids_in(TASKS.c.id, dialect), TASKS.c.status == "open")
    )
)
# As the ORM loads ``Task.assignees`` (``selectin``): the same statement, no ORDER BY.
_ASSIGNEES = _per_dialect(
    lambda dialect: select(ASSIGNEES.c.task_id, ASSIGNEES.c.person).where(
        _ids_in(ASSIGNEES.c.task_id, dialect)
    )
)
_CYCLES = _per_dialect(
    lambda dialect: select(CYCLES.c.id, *_CYCLE_COLUMNS).where(_ids_in(CYCLES.c.id, dialect))
)
_EXISTING_CYCLE = select(CYCLES.c.id).where(
    CYCLES.c.municipality == bindparam("municipality"),
    CYCLES.c.process == bindparam("process"),
    CYCLES.c.period == bindparam("period"),
    CYCLES.c.subject == bindparam("subject"),
)

NEWER_REMINDER_STATUSES = ("pending", "fired")
"""A reminder is not sent when a newer one of the same task is due and pending, or was fired:
by this pass later in the batch, or (reminders being claimed without the chain lock on
PostgreSQL) by another process at the same time. In one process the second cannot happen: the
older reminder is due first and fires first."""

_NEWEST_DUE = _per_dialect(
    lambda dialect: (
        select(TIMERS.c.task_id, func.max(TIMERS.c.fire_at))
        .where(
            _ids_in(TIMERS.c.task_id, dialect),
            TIMERS.c.kind == "reminder",
            TIMERS.c.status.in_(NEWER_REMINDER_STATUSES),
            TIMERS.c.fire_at <= bindparam("now"),
        )
        .group_by(TIMERS.c.task_id)
    )
)
_MARK_FIRED = _per_dialect(
    lambda dialect: (
        update(TIMERS)
        .where(_ids_in(TIMERS.c.id, dialect))
        .values(status="fired", fired_at=bindparam("at"), fired_by=bindparam("worker"))
    )
)
_MARK_FAILED = (
    update(TIMERS)
    .where(TIMERS.c.id == bindparam("timer_id"))
    .values(
        status="failed",
        payload=bindparam("error_payload", type_=TIMERS.c.payload.type),
        fired_at=bindparam("at"),
        fired_by=bindparam("worker"),
    )
)


# ------------------------------------------------------------------ finding and claiming


def anything_due(session: Session, now: dt.datetime, municipalities: Collection[str]) -> bool:
    """Whether a timer of ``municipalities`` is due: one indexed query on
    ``timers (status, fire_at)``, no lock."""
    query = select(Timer.id).where(
        Timer.status == "pending",
        Timer.fire_at <= now,
        Timer.municipality.in_(list(municipalities)),
    )
    return session.execute(query.limit(1)).first() is not None


def catching_up_from(
    session: Session, now: dt.datetime, municipalities: Collection[str]
) -> dt.datetime | None:
    """Where a pass at ``now`` starts from: the earlier of the newest moment the database knows
    (its newest audit event, or the fire time of its newest fired timer, whichever is later)
    and the fire time of the oldest timer of ``municipalities`` due at ``now``; None when it
    has neither. There is no table of passes: what was recorded and what fired is what
    happened. The oldest due timer counts too because a pass that catches up records its acts
    at its ``now``: once it has, the newest moment is ``now``, and only the timers still due
    say how far behind the database is. Three lookups on indexes (the chain's sequence and
    ``timers (status, fire_at)`` twice), cheap at every pass."""
    event = session.execute(select(AuditEvent.at).order_by(AuditEvent.seq.desc()).limit(1))
    fired = session.execute(
        select(Timer.fire_at).where(Timer.status == "fired").order_by(Timer.fire_at.desc()).limit(1)
    )
    known = [_utc(moment) for moment in (event.scalar(), fired.scalar()) if moment is not None]
    oldest_due = session.execute(
        select(Timer.fire_at)
        .where(
            Timer.status == "pending",
            Timer.fire_at <= now,
            Timer.municipality.in_(list(municipalities)),
        )
        .order_by(Timer.fire_at)
        .limit(1)
    ).scalar()
    moments = [max(known)] if known else []
    if oldest_due is not None:
        moments.append(_utc(oldest_due))
    return min(moments, default=None)


def claim(
    session: Session, now: dt.datetime, municipalities: Collection[str], batch: int
) -> list[DueTimer]:
    """Up to ``batch`` due timers, oldest first; on PostgreSQL locked (``FOR UPDATE SKIP
    LOCKED``: those another worker holds are left to it)."""
    query = (
        select(*DUE_COLUMNS)
        .where(
            Timer.status == "pending",
            Timer.fire_at <= now,
            Timer.municipality.in_(list(municipalities)),
        )
        .order_by(Timer.fire_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return _claimed(session, query)


def claim_reminders(
    session: Session, now: dt.datetime, municipalities: Collection[str], batch: int
) -> list[DueTimer]:
    """Up to ``batch`` due reminders that are older than every other due timer, locked (``FOR
    UPDATE SKIP LOCKED``); PostgreSQL only."""
    first_other = session.execute(
        select(Timer.fire_at, Timer.id)
        .where(
            Timer.status == "pending",
            Timer.fire_at <= now,
            Timer.municipality.in_(list(municipalities)),
            Timer.kind != "reminder",
        )
        .order_by(Timer.fire_at, Timer.id)
        .limit(1)
    ).first()
    query = select(*DUE_COLUMNS).where(
        Timer.status == "pending",
        Timer.fire_at <= now,
        Timer.municipality.in_(list(municipalities)),
        Timer.kind == "reminder",
    )
    if first_other is not None:
        query = query.where(tuple_(Timer.fire_at, Timer.id) < tuple_(*first_other))
    query = query.order_by(Timer.fire_at).limit(batch)
    return _claimed(session, query.with_for_update(skip_locked=True))


def _claimed(session: Session, query: Any) -> list[DueTimer]:
    """The timers ``query`` claims, oldest first, and by id among those due at the same time.

    The query itself orders by ``fire_at`` only: ``(status, fire_at)`` is indexed, so the
    database reads the index in order and stops after the batch (and, on PostgreSQL, the rows
    other workers hold are skipped as it goes). Ordered by ``(fire_at, id)`` it would read and
    sort every due timer for each batch, since all the reminders of one day are due at the
    same instant. Between batches, timers due at the same instant come in the index's order
    (on SQLite that is by id too; on PostgreSQL by their place in the table)."""
    claimed = [DueTimer._make(row) for row in session.execute(query).all()]
    claimed.sort(key=lambda timer: (timer.fire_at, timer.id))
    return claimed


# ------------------------------------------------------------------ reading


def load(session: Session, timers: Sequence[DueTimer], now: dt.datetime) -> Rows:
    """What the handlers of ``timers`` read: their open tasks (with cycles and assignees), the
    newest due reminder of each task reminded, the cycles of timed transitions, and which of
    the cycles to open exist already. What the session has pending is flushed first, so that
    the effects of the timers fired before these are seen."""
    session.flush()
    connection = session.connection()
    tasks = _open_tasks(connection, {t.task_id for t in timers if t.task_id is not None})
    reminded = {t.task_id for t in timers if t.kind == "reminder" and t.task_id in tasks}
    transitions = {t.cycle_id for t in timers if t.kind == "transition" and t.cycle_id}
    return Rows(
        tasks,
        _newest_due_reminders(connection, reminded, now),
        _cycles(connection, transitions),
        _existing_cycles(connection, [t for t in timers if t.kind == "cycle_open"]),
    )


def _open_tasks(connection: Connection, ids: Iterable[int]) -> dict[int, TaskRow]:
    found: dict[int, tuple[Any, CycleRow]] = {}
    cycles: dict[int, CycleRow] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(_for(_OPEN_TASKS, connection), {"ids": chunk}).all():
            cycle = cycles.get(row[1])
            if cycle is None:
                cycle = cycles[row[1]] = CycleRow(row[1], *row[7:])
            found[row[0]] = (row, cycle)
    assignees: dict[int, list[str]] = {task_id: [] for task_id in found}
    for chunk in _chunks(found):
        for task_id, person in connection.execute(
            _for(_ASSIGNEES, connection), {"ids": chunk}
        ).all():
            assignees[task_id].append(person)
    tasks = {}
    for task_id, (row, cycle) in found.items():
        _id, cycle_id, step, key, role, title, due_at = row[:7]
        people = tuple(assignees[task_id])
        tasks[task_id] = TaskRow(task_id, cycle_id, step, key, role, title, due_at, cycle, people)
    return tasks


def _newest_due_reminders(
    connection: Connection, task_ids: Iterable[int], now: dt.datetime
) -> dict[int, dt.datetime]:
    newest: dict[int, dt.datetime] = {}
    for chunk in _chunks(task_ids):
        for task_id, fire_at in connection.execute(
            _for(_NEWEST_DUE, connection), {"ids": chunk, "now": now}
        ).all():
            if task_id is not None:
                newest[task_id] = fire_at
    return newest


def _cycles(connection: Connection, ids: Iterable[int]) -> dict[int, CycleRow]:
    cycles: dict[int, CycleRow] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(_for(_CYCLES, connection), {"ids": chunk}).all():
            cycles[row[0]] = CycleRow._make(row)
    return cycles


def opening(timer: DueTimer) -> tuple[str, str, str, str]:
    """``(municipality, process, period, subject)`` of the cycle a ``cycle_open`` timer opens."""
    payload = timer.payload
    subject = payload.get("subject") or ""
    return timer.municipality, str(payload["process"]), str(payload["period"]), subject


def _existing_cycles(
    connection: Connection, openings: Sequence[DueTimer]
) -> frozenset[tuple[str, str, str, str]]:
    existing = set()
    names = ("municipality", "process", "period", "subject")
    for timer in openings:  # few: an opening fires in a run of its own
        try:
            found = opening(timer)
        except (KeyError, TypeError):
            continue  # a payload without them: its handler fails, and says why
        if connection.execute(_EXISTING_CYCLE, dict(zip(names, found, strict=True))).first():
            existing.add(found)
    return frozenset(existing)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    found = sorted(set(ids))
    for start in range(0, len(found), CHUNK):
        yield found[start : start + CHUNK]


# ------------------------------------------------------------------ writing


def mark(
    connection: Connection, outcomes: Sequence[TimerOutcome], at: dt.datetime, worker: str
) -> None:
    """Mark each timer of ``outcomes`` ``fired`` (with or without effect) or ``failed``, fired at
    ``at`` by ``worker``: one statement per 500, and one for the failed (``store.acts.apply``
    calls it with the rest of a run's effects)."""
    fired = [o.timer_id for o in outcomes if o.status != "failed"]
    failed = [
        {"timer_id": o.timer_id, "error_payload": o.payload, "at": at, "worker": worker}
        for o in outcomes
        if o.status == "failed"
    ]
    for chunk in _chunks(fired):
        connection.execute(
            _for(_MARK_FIRED, connection), {"ids": chunk, "at": at, "worker": worker}
        )
    if failed:
        connection.execute(_MARK_FAILED, failed)


# ------------------------------------------------------------------ planning the openings

_PLANNED = select(TIMERS.c.key, TIMERS.c.status, TIMERS.c.fire_at, TIMERS.c.payload).where(
    TIMERS.c.key.in_(bindparam("keys", expanding=True))
)
_REPLAN = (
    update(TIMERS)
    .where(TIMERS.c.key == bindparam("k"))
    .values(status="pending", fire_at=bindparam("at"), payload=bindparam("p"))
)


def plan(session: Session, timers: Sequence[Mapping[str, Any]]) -> None:
    """Plan the openings' timers (rows of ``timers``): a new key is inserted; a pending timer
    whose time or payload changed is moved, and a cancelled one planned again, with its new
    time and payload; a fired one stays as it is."""
    connection = session.connection()
    stored: dict[str, tuple[str, dt.datetime, Any]] = {}
    keys = [row["key"] for row in timers]
    for start in range(0, len(keys), CHUNK):
        for key, status, fire_at, payload in connection.execute(
            _PLANNED, {"keys": keys[start : start + CHUNK]}
        ):
            stored[key] = (status, fire_at, payload)
    new = [dict(row) for row in timers if row["key"] not in stored]
    moved = [
        {"k": row["key"], "at": row["fire_at"], "p": row["payload"]}
        for row in timers
        if row["key"] in stored and _moved(stored[row["key"]], row)
    ]
    if new:
        connection.execute(insert(TIMERS), new)
    if moved:
        connection.execute(_REPLAN, moved)


def _moved(stored: tuple[str, dt.datetime, Any], row: Mapping[str, Any]) -> bool:
    status, fire_at, payload = stored
    if status == "cancelled":
        return True
    return status == "pending" and (
        _utc(fire_at) != _utc(row["fire_at"]) or payload != row["payload"]
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives times back without their zone (stored in UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


_CANCEL_PLANNED = (
    update(TIMERS)
    .where(
        TIMERS.c.municipality == bindparam("m"),
        TIMERS.c.kind.in_(["cycle_open", "plan"]),
        TIMERS.c.status == "pending",
        TIMERS.c.key.not_in(bindparam("keep", expanding=True)),
    )
    .values(status="cancelled")
)


def cancel_planned_except(session: Session, municipality: str, keep: Collection[str]) -> None:
    """Cancel the pending openings (and year plans) of ``municipality`` but ``keep``."""
    session.connection().execute(_CANCEL_PLANNED, {"m": municipality, "keep": list(keep)})

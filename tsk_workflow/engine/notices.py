"""Firing a run of notices at once: reminders, overdue notices and escalations of tasks.

What the scheduler does for each of these timers is the same as ``ticker``'s handlers for one
timer (``_fire_reminder``, ``_fire_due``, ``_fire_escalation``), done set-based and without the
ORM: the timers come as rows (:class:`Claimed`), the open tasks with their cycles are read with
one Core query per 500 tasks, their assignees with one more, and which reminders have a newer
one due with one more. Each timer's mail and audit event are then worked out in Python, in the
timers' order, and written together: one query for the Message-IDs already queued, the outbox
rows inserted with one statement (executemany), the audit events chained in the same order
(``audit.append_many``), the fired timers marked with one ``UPDATE ... WHERE id IN (...)``.

A timer whose mail or event cannot be worked out is marked failed, with the error, and the others
go on, as a handler failing in its savepoint would. The caller runs this in a savepoint and,
should the writing fail, fires the run one timer at a time instead.

The contexts are made by ``mailctx`` as for one timer, from light views of the rows (they read
the same attributes as of the ORM objects), and the outbox rows carry the same values as
``notify.queue`` writes (``tests/test_tick_notices.py`` compares the two ways row by row).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import Insert, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notify
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.organisation.model import Organisation, Person
from tsk_workflow.store.models import Cycle, OutboxMessage, Task, TaskAssignee, Timer

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.engine.ticker import TickResult

log = logging.getLogger("tsk_workflow.engine.ticker")

CHUNK = 500
"""Ids per ``IN (...)`` list."""

TIMERS = Timer.metadata.tables[Timer.__tablename__]
TASKS = Task.metadata.tables[Task.__tablename__]
CYCLES = Cycle.metadata.tables[Cycle.__tablename__]
ASSIGNEES = TaskAssignee.metadata.tables[TaskAssignee.__tablename__]
OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]

NOTICES = frozenset({"reminder", "due", "escalation"})


class Claimed(NamedTuple):
    """A due timer as the ticker claims it: the columns firing needs, no ORM object."""

    id: int
    key: str
    kind: str
    municipality: str
    fire_at: dt.datetime
    task_id: int | None
    cycle_id: int | None
    payload: dict[str, Any]


CLAIMED_COLUMNS = tuple(TIMERS.c[name] for name in Claimed._fields)
"""The columns of ``timers`` a :class:`Claimed` is made of, in its order."""


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
            CYCLES.c.ref,
            CYCLES.c.title,
            CYCLES.c.period,
            CYCLES.c.subject,
            CYCLES.c.process,
            CYCLES.c.process_digest,
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
_QUEUED = select(OUTBOX.c.message_id).where(
    OUTBOX.c.message_id.in_(bindparam("ids", expanding=True))
)
_INSERT_OUTBOX: dict[str, Insert] = {
    "sqlite": sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["message_id"]),
    "postgresql": postgresql.insert(OUTBOX).on_conflict_do_nothing(index_elements=["message_id"]),
}
"""Outbox rows whose Message-ID is queued already are left out by the insert itself."""
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


def _newest_due_of(dialect: str) -> Any:
    from tsk_workflow.engine.ticker import NEWER_REMINDER_STATUSES

    return (
        select(TIMERS.c.task_id, func.max(TIMERS.c.fire_at))
        .where(
            _ids_in(TIMERS.c.task_id, dialect),
            TIMERS.c.kind == "reminder",
            TIMERS.c.status.in_(NEWER_REMINDER_STATUSES),
            TIMERS.c.fire_at <= bindparam("now"),
        )
        .group_by(TIMERS.c.task_id)
    )


_NEWEST_DUE: dict[str, Any] = {}
"""``_newest_due_of`` per dialect, made on first use (it needs the ticker's statuses)."""


def _newest_due(connection: Connection) -> Any:
    if not _NEWEST_DUE:
        _NEWEST_DUE.update(_per_dialect(_newest_due_of))
    return _for(_NEWEST_DUE, connection)


# ------------------------------------------------------------------ what is read


@dataclass(slots=True)
class _CycleView:
    """The columns of a cycle that a notice's mail reads (``mailctx.cycle_ctx``)."""

    id: int
    ref: str
    title: str
    period: str
    subject: str
    process: str
    process_digest: str | None


@dataclass(slots=True)
class _TaskView:
    """The columns of an open task that a notice reads, with its assignees and cycle."""

    id: int
    cycle_id: int
    step: str
    key: str
    role: str
    title: str
    due_at: dt.datetime | None
    cycle: _CycleView
    assignee_ids: list[str] = field(default_factory=list)


def _open_tasks(connection: Connection, ids: Iterable[int]) -> dict[int, _TaskView]:
    """The open tasks among ``ids``, with their cycles and assignees."""
    tasks: dict[int, _TaskView] = {}
    cycles: dict[int, _CycleView] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(_for(_OPEN_TASKS, connection), {"ids": chunk}).all():
            task_id, cycle_id, step, key, role, title, due_at, *cycle_columns = row
            cycle = cycles.get(cycle_id)
            if cycle is None:
                cycle = cycles[cycle_id] = _CycleView(cycle_id, *cycle_columns)
            tasks[task_id] = _TaskView(task_id, cycle_id, step, key, role, title, due_at, cycle)
    for chunk in _chunks(tasks):
        for task_id, person in connection.execute(
            _for(_ASSIGNEES, connection), {"ids": chunk}
        ).all():
            tasks[task_id].assignee_ids.append(person)
    return tasks


def _newest_due_reminders(
    connection: Connection, task_ids: Iterable[int], now: dt.datetime
) -> dict[int, dt.datetime]:
    """For each task, the time of its newest reminder that is due and pending (or fired)."""
    newest: dict[int, dt.datetime] = {}
    for chunk in _chunks(task_ids):
        for task_id, fire_at in connection.execute(
            _newest_due(connection), {"ids": chunk, "now": now}
        ).all():
            if task_id is not None:
                newest[task_id] = fire_at
    return newest


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    found = sorted(set(ids))
    for start in range(0, len(found), CHUNK):
        yield found[start : start + CHUNK]


# ------------------------------------------------------------------ firing


def fire(
    engines: Mapping[str, Engine],
    session: Session,
    timers: Sequence[Claimed],
    now: dt.datetime,
    worker: str,
    result: TickResult,
) -> None:
    """Fire ``timers`` (all notices) as their handlers would, one after the other."""
    session.flush()  # what the batch changed through the ORM before, the queries below see
    connection = session.connection()
    tasks = _open_tasks(connection, {t.task_id for t in timers if t.task_id is not None})
    reminded = {t.task_id for t in timers if t.kind == "reminder" and t.task_id in tasks}
    newest = _newest_due_reminders(connection, reminded, now)
    outbox = _Outbox(now)
    acts: list[audit.Act] = []
    fired: list[int] = []
    failed: list[dict[str, Any]] = []
    for timer in timers:
        task = tasks.get(timer.task_id) if timer.task_id is not None else None
        try:
            made = _notice(engines[timer.municipality], timer, task, newest, now, connection)
        except (OperationalError, StaleDataError):
            raise
        except Exception as exc:
            log.exception("tick: timer %s (%s) failed: %s", timer.key, timer.kind, exc)
            payload = {**timer.payload, "error": str(exc)[:1000]}
            failed.append({"timer_id": timer.id, "error_payload": payload})
            result.failed += 1
            continue
        fired.append(timer.id)
        if made is None:
            result.skipped += 1
            continue
        mail, act = made
        outbox.add(mail)
        if act is not None:
            acts.append(act)
        result.count(timer.kind)
    outbox.write(connection)
    audit.append_many(session, [(act, now) for act in acts])
    _mark(session, connection, fired, failed, now, worker)


def _mark(
    session: Session,
    connection: Connection,
    fired: list[int],
    failed: list[dict[str, Any]],
    now: dt.datetime,
    worker: str,
) -> None:
    """The fired timers with one statement (per 500), the failed ones with one executemany.
    Timer objects the session happens to hold say the same (as committed values: the caller
    expires them should the savepoint be rolled back)."""
    for chunk in _chunks(fired):
        connection.execute(
            _for(_MARK_FIRED, connection), {"ids": chunk, "at": now, "worker": worker}
        )
    if failed:
        connection.execute(_MARK_FAILED, [{**f, "at": now, "worker": worker} for f in failed])
    held = {
        obj.id: obj
        for obj in list(session.identity_map.values())
        if isinstance(obj, Timer) and obj.id is not None
    }
    if not held:
        return
    for timer_id in fired:
        if timer_id in held:
            _committed(held[timer_id], "fired", None, now, worker)
    for values in failed:
        if values["timer_id"] in held:
            _committed(held[values["timer_id"]], "failed", values["error_payload"], now, worker)


def _committed(
    timer: Timer, status: str, payload: dict[str, Any] | None, now: dt.datetime, worker: str
) -> None:
    set_committed_value(timer, "status", status)
    if payload is not None:
        set_committed_value(timer, "payload", payload)
    set_committed_value(timer, "fired_at", now)
    set_committed_value(timer, "fired_by", worker)


def _notice(
    engine: Engine,
    timer: Claimed,
    view: _TaskView | None,
    newest: Mapping[int, dt.datetime],
    now: dt.datetime,
    connection: Connection,
) -> tuple[notify.Queued, audit.Act | None] | None:
    """The mail (and audit event) of one notice, or None when it has no effect."""
    if view is None:
        return None
    # ``mailctx`` reads only the attributes the views have.
    task, cycle = cast(Task, view), cast(Cycle, view.cycle)
    if timer.kind == "reminder":
        newer = newest.get(view.id)
        if (view.due_at is not None and view.due_at <= now) or (
            newer is not None and newer > timer.fire_at
        ):
            return None
        definition = engine.definition_for(connection, cycle.process, cycle.process_digest)
        context = mailctx.task_mail(engine.org, definition, cycle, task, engine.cal)
        mail = notify.Queued(
            engine.org,
            view.assignee_ids,
            "task_reminder",
            f"task:{view.id}:{timer.key}",
            context,
            view.cycle_id,
            view.id,
        )
        return mail, None
    if timer.kind == "due":
        definition = engine.definition_for(connection, cycle.process, cycle.process_digest)
        context = mailctx.task_mail(engine.org, definition, cycle, task, engine.cal)
        mail = notify.Queued(
            engine.org,
            view.assignee_ids,
            "task_overdue",
            f"task:{view.id}:overdue",
            context,
            view.cycle_id,
            view.id,
        )
        due = view.due_at.isoformat() if view.due_at else None
        return mail, _act(engine, view, "task.overdue", {"task": view.id, "due": due})
    if timer.kind == "escalation":
        definition = engine.definition_for(connection, cycle.process, cycle.process_digest)
        group = engine.directory.group_of(cycle.process)
        target = str(timer.payload.get("to", "chair"))
        people = engine.directory.assignees(target, group)
        context = mailctx.escalation_mail(engine.org, definition, cycle, task, engine.cal, now)
        mail = notify.Queued(
            engine.org,
            people,
            "task_escalated",
            f"task:{view.id}:escalated",
            context,
            view.cycle_id,
            view.id,
        )
        payload = {"task": view.id, "to": people, "assignees": view.assignee_ids}
        return mail, _act(engine, view, "task.escalated", payload)
    raise ValueError(f"not a notice: {timer.kind}")


def _act(engine: Engine, task: _TaskView, action: str, payload: dict[str, Any]) -> audit.Act:
    return audit.Act(
        engine.org.municipality,
        SYSTEM,
        "system",
        action,
        f"task:{task.id}",
        dict(payload),
        task.cycle_id,
    )


# ------------------------------------------------------------------ the mail


class _Outbox:
    """The outbox rows of a run, as ``notify.queue`` makes them for each mail in turn."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.rows: list[dict[str, Any]] = []
        self._orgs: dict[int, tuple[dict[str, Person], str]] = {}

    def add(self, mail: notify.Queued) -> None:
        org = mail.org
        people, domain = self._org(org)
        digestible = mail.template in notify.DIGESTIBLE
        for person_id in dict.fromkeys(mail.people):
            person = people.get(person_id)
            if person is None:
                continue
            digest = digestible and notify.wants_digest(person, org)
            message_id = notify.message_id(org, mail.key, person.id, domain)  # domain: once
            self.rows.append(
                {
                    "message_id": message_id,
                    "municipality": org.municipality,
                    "recipient": person.id,
                    "email": person.email,
                    "language": person.language,
                    "template": mail.template,
                    "context": notify.personal(mail.context, person, org),
                    "status": "digest" if digest else "pending",
                    "attempts": 0,
                    "next_attempt_at": self.now,
                    "created_at": self.now,
                    "sent_at": None,
                    "last_reply": None,
                    "cycle_id": mail.cycle_id,
                    "task_id": mail.task_id,
                }
            )

    def _org(self, org: Organisation) -> tuple[dict[str, Person], str]:
        """``org.person`` as a dict (the first person of each id), and the mail domain."""
        found = self._orgs.get(id(org))
        if found is None:
            people: dict[str, Person] = {}
            for person in org.people:
                people.setdefault(person.id, person)
            found = self._orgs[id(org)] = (people, notify.mail_domain(org))
        return found

    def write(self, connection: Connection) -> None:
        """Insert the rows in order, each Message-ID once, leaving out those queued already
        (by ``ON CONFLICT DO NOTHING``: no query first; one executemany)."""
        if not self.rows:
            return
        statement = _INSERT_OUTBOX.get(connection.dialect.name)
        if statement is not None:
            connection.execute(statement, self.rows)
            return
        queued: set[str] = set()  # another database: ask first
        ids = [row["message_id"] for row in self.rows]
        for start in range(0, len(ids), CHUNK):
            queued.update(connection.scalars(_QUEUED, {"ids": ids[start : start + CHUNK]}))
        rows = []
        for row in self.rows:
            if row["message_id"] not in queued:
                queued.add(row["message_id"])
                rows.append(row)
        if rows:
            connection.execute(insert(OUTBOX), rows)

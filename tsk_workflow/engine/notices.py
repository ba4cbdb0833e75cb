"""Firing a run of notices at once: reminders, overdue notices and escalations of tasks.

What the scheduler does for each of these timers is the same as ``ticker``'s handlers for one
timer (``_fire_reminder``, ``_fire_due``, ``_fire_escalation``), done set-based: the tasks, their
assignees and cycles are read with one query each for the whole run, and which reminders have a
newer one due with one more; each timer's mail and audit event are then worked out in Python,
in the timers' order, and written together (one query for the Message-IDs already queued, the
outbox rows, the audit events chained in the same order). A timer whose mail or event cannot be
worked out is marked failed, with the error, and the others go on, as a handler failing in its
savepoint would. The caller runs this in a savepoint and, should the writing fail, fires the run
one timer at a time instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notify
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.store.models import Cycle, Task, Timer

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.engine.ticker import TickResult

log = logging.getLogger("tsk_workflow.engine.ticker")

CHUNK = 500
"""Ids per ``IN (...)`` list."""


def fire(
    engines: Mapping[str, Engine],
    session: Session,
    timers: Sequence[Timer],
    now: dt.datetime,
    worker: str,
    result: TickResult,
) -> None:
    """Fire ``timers`` (all notices) as their handlers would, one after the other."""
    tasks, cycles = _open_tasks(session, {t.task_id for t in timers if t.task_id is not None})
    reminded = [t.task_id for t in timers if t.kind == "reminder" and t.task_id in tasks]
    newest = _newest_due_reminders(session, reminded, now)
    mails: list[notify.Queued] = []
    acts: list[audit.Act] = []
    fired: list[Timer] = []
    for timer in timers:
        task = tasks.get(timer.task_id) if timer.task_id is not None else None
        try:
            made = _notice(engines[timer.municipality], timer, task, newest, now)
        except (OperationalError, StaleDataError):
            raise
        except Exception as exc:
            log.exception("tick: timer %s (%s) failed: %s", timer.key, timer.kind, exc)
            timer.status = "failed"
            timer.payload = {**timer.payload, "error": str(exc)[:1000]}
            timer.fired_at = now
            timer.fired_by = worker
            result.failed += 1
            continue
        fired.append(timer)
        if made is None:
            result.skipped += 1
            continue
        mail, act = made
        mails.append(mail)
        if act is not None:
            acts.append(act)
        result.count(timer.kind)
    notify.queue_many(session, mails, now)
    audit.append_many(session, [(act, now) for act in acts])
    _mark_fired(session, fired, now, worker)
    del cycles  # kept referenced until here, so that ``task.cycle`` finds them in the session


def _mark_fired(session: Session, timers: list[Timer], now: dt.datetime, worker: str) -> None:
    """One statement for all the fired timers; the objects in the session say the same (as
    committed values: the caller expires them should the savepoint be rolled back)."""
    if not timers:
        return
    table = Timer.metadata.tables[Timer.__tablename__]
    statement = (
        update(table)
        .where(table.c.id == bindparam("timer_id"))
        .values(status="fired", fired_at=bindparam("at"), fired_by=bindparam("worker"))
    )
    session.connection().execute(
        statement, [{"timer_id": t.id, "at": now, "worker": worker} for t in timers]
    )
    for timer in timers:
        set_committed_value(timer, "status", "fired")
        set_committed_value(timer, "fired_at", now)
        set_committed_value(timer, "fired_by", worker)


def _notice(
    engine: Engine,
    timer: Timer,
    task: Task | None,
    newest: Mapping[int, dt.datetime],
    now: dt.datetime,
) -> tuple[notify.Queued, audit.Act | None] | None:
    """The mail (and audit event) of one notice, or None when it has no effect."""
    if task is None:
        return None
    if timer.kind == "reminder":
        newer = newest.get(task.id)
        if (task.due_at is not None and task.due_at <= now) or (
            newer is not None and newer > timer.fire_at
        ):
            return None
        definition = engine.catalog.definition(task.cycle.process)
        context = mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal)
        mail = notify.Queued(
            engine.org,
            task.assignee_ids,
            "task_reminder",
            f"task:{task.id}:{timer.key}",
            context,
            task.cycle_id,
            task.id,
        )
        return mail, None
    if timer.kind == "due":
        definition = engine.catalog.definition(task.cycle.process)
        context = mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal)
        mail = notify.Queued(
            engine.org,
            task.assignee_ids,
            "task_overdue",
            f"task:{task.id}:overdue",
            context,
            task.cycle_id,
            task.id,
        )
        due = task.due_at.isoformat() if task.due_at else None
        return mail, _act(engine, task, "task.overdue", {"task": task.id, "due": due})
    if timer.kind == "escalation":
        definition = engine.catalog.definition(task.cycle.process)
        group = engine.directory.group_of(task.cycle.process)
        target = str(timer.payload.get("to", "chair"))
        people = engine.directory.assignees(target, group)
        context = mailctx.escalation_mail(engine.org, definition, task.cycle, task, engine.cal, now)
        mail = notify.Queued(
            engine.org,
            people,
            "task_escalated",
            f"task:{task.id}:escalated",
            context,
            task.cycle_id,
            task.id,
        )
        payload = {"task": task.id, "to": people, "assignees": task.assignee_ids}
        return mail, _act(engine, task, "task.escalated", payload)
    raise ValueError(f"not a notice: {timer.kind}")


def _act(engine: Engine, task: Task, action: str, payload: dict[str, Any]) -> audit.Act:
    return audit.Act(
        engine.org.municipality,
        SYSTEM,
        "system",
        action,
        f"task:{task.id}",
        dict(payload),
        task.cycle_id,
    )


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    found = sorted(set(ids))
    for start in range(0, len(found), CHUNK):
        yield found[start : start + CHUNK]


def _open_tasks(session: Session, ids: set[int]) -> tuple[dict[int, Task], list[Cycle]]:
    """The open tasks among ``ids`` with their assignees; and their cycles, loaded into the
    session so that ``task.cycle`` needs no query (while the list keeps them there)."""
    tasks: dict[int, Task] = {}
    for chunk in _chunks(ids):
        for task in session.scalars(select(Task).where(Task.id.in_(chunk))):
            if task.status == "open":
                tasks[task.id] = task
    cycles: list[Cycle] = []
    for chunk in _chunks(task.cycle_id for task in tasks.values()):
        cycles += session.scalars(select(Cycle).where(Cycle.id.in_(chunk)))
    return tasks, cycles


def _newest_due_reminders(
    session: Session, task_ids: Sequence[int | None], now: dt.datetime
) -> dict[int, dt.datetime]:
    """For each task, the time of its newest reminder that is due and pending (or fired)."""
    from tsk_workflow.engine.ticker import NEWER_REMINDER_STATUSES

    newest: dict[int, dt.datetime] = {}
    for chunk in _chunks(i for i in task_ids if i is not None):
        query = (
            select(Timer.task_id, func.max(Timer.fire_at))
            .where(
                Timer.task_id.in_(chunk),
                Timer.kind == "reminder",
                Timer.status.in_(NEWER_REMINDER_STATUSES),
                Timer.fire_at <= now,
            )
            .group_by(Timer.task_id)
        )
        for task_id, fire_at in session.execute(query):
            if task_id is not None:
                newest[task_id] = fire_at
    return newest

"""The scheduler pass (``tsk tick``): open due cycles and fire due timers, exactly once.

The database is the source of truth for time. A pass claims due timers in batches, by an
indexed query on ``(status, fire_at)``, so a pass with nothing due costs the same however many
cycles are open. On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP LOCKED``, so several
``tsk tick`` processes never fire the same timer; on SQLite write transactions are exclusive.
A timer and everything it causes (cycle opened, mail queued, audit event) commit together.

After downtime each missed timer still fires once: a missed cycle opening opens its cycle,
marked late; of a task's missed reminders only the newest is sent, and none once the task is
overdue; overdue notice and escalation are sent once each.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notify, timing
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.steps import StepContext, add_timer
from tsk_workflow.organisation.validate import effective_schedule
from tsk_workflow.recurrence import occurrences
from tsk_workflow.store.models import Cycle, Task, Timer

BATCH = 500
OPEN_TIME = dt.time(7, 0)
LATE_AFTER = dt.timedelta(hours=24)
PLAN_MONTH_DAY = (12, 1)
"""Each year on 1 December the openings of the year after next are planned."""


@dataclass
class TickResult:
    fired: dict[str, int] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)
    skipped: int = 0

    def count(self, kind: str) -> None:
        self.fired[kind] = self.fired.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.fired.values())


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------- planning cycle openings


def plan_openings(
    engine: Engine, session: Session, start: dt.date, through_year: int, now: dt.datetime
) -> set[str]:
    """Timers for every scheduled cycle opening from ``start`` to the end of ``through_year``;
    returns the keys of the timers that make up the plan."""
    org = engine.org
    planned: set[str] = set()
    towns = [t.key for t in org.towns]
    areas = [a.key for a in org.areas]
    for key, settings in org.processes.items():
        schedule = effective_schedule(engine.catalog.definition(key), settings.schedule)
        for year in range(start.year, through_year + 1):
            for occ in occurrences(schedule, engine.cal, year, towns=towns, areas=areas):
                if occ.date < start:
                    continue
                timer_key = f"open:{org.municipality}:{key}:{occ.period}:{occ.subject or ''}"
                payload = {
                    "process": key,
                    "period": occ.period,
                    "subject": occ.subject,
                    "date": occ.date.isoformat(),
                }
                fire_at = timing.local_at(occ.date, OPEN_TIME, engine.cal)
                add_timer(
                    session,
                    org.municipality,
                    now,
                    timer_key,
                    "cycle_open",
                    fire_at,
                    payload=payload,
                )
                planned.add(timer_key)
    plan_key = f"plan:{org.municipality}:{through_year + 1}"
    plan_day = dt.date(through_year, *PLAN_MONTH_DAY)
    fire_at = timing.local_at(plan_day, OPEN_TIME, engine.cal)
    add_timer(
        session,
        org.municipality,
        now,
        plan_key,
        "plan",
        fire_at,
        payload={"year": through_year + 1},
    )
    return planned | {plan_key}


def replan(engine: Engine, session: Session, now: dt.datetime) -> int:
    """Plan the openings from today through next year, and cancel planned openings that the
    organisation's current schedules no longer have. Returns the number of planned openings."""
    today = now.astimezone(engine.cal.zone).date()
    keys = plan_openings(engine, session, today, today.year + 1, now)
    stale = select(Timer).where(
        Timer.municipality == engine.org.municipality,
        Timer.kind.in_(["cycle_open", "plan"]),
        Timer.status == "pending",
    )
    for timer in session.scalars(stale):
        if timer.key not in keys:
            timer.status = "cancelled"
    return len(keys) - 1


# ---------------------------------------------------------------- the pass


class Ticker:
    """One scheduler pass over every municipality whose engine it is given."""

    def __init__(self, engines: Mapping[str, Engine], worker: str | None = None) -> None:
        self.engines = engines
        self.worker = worker or worker_id()
        first = next(iter(engines.values()))
        self.store = first.store

    def tick(self, now: dt.datetime, batch: int = BATCH) -> TickResult:
        result = TickResult()
        while True:
            with self.store.transaction() as session:
                timers = self._claim(session, now, batch)
                for timer in timers:
                    self._fire(session, timer, now, result)
            if len(timers) < batch:
                return result

    def _claim(self, session: Session, now: dt.datetime, batch: int) -> Sequence[Timer]:
        query = (
            select(Timer)
            .where(
                Timer.status == "pending",
                Timer.fire_at <= now,
                Timer.municipality.in_(list(self.engines)),
            )
            .order_by(Timer.fire_at, Timer.id)
            .limit(batch)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def _fire(self, session: Session, timer: Timer, now: dt.datetime, result: TickResult) -> None:
        engine = self.engines[timer.municipality]
        handler = HANDLERS.get(timer.kind)
        fired = handler(engine, session, timer, now) if handler else False
        timer.status = "fired"
        timer.fired_at = now
        timer.fired_by = self.worker
        if fired:
            result.count(timer.kind)
        else:
            result.skipped += 1


def _fire_open(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    payload = timer.payload
    process = str(payload["process"])
    if process not in engine.org.processes:
        return False
    exists = session.scalar(
        select(Cycle.id).where(
            Cycle.municipality == engine.org.municipality,
            Cycle.process == process,
            Cycle.period == payload["period"],
            Cycle.subject == (payload.get("subject") or ""),
        )
    )
    if exists is not None:
        return False
    late = now - timer.fire_at > LATE_AFTER
    engine._open(
        session, now, SYSTEM, process, str(payload["period"]), payload.get("subject"), late=late
    )
    return True


def _fire_plan(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    year = int(timer.payload["year"])
    plan_openings(engine, session, dt.date(year, 1, 1), year, now)
    return True


def _open_task(session: Session, timer: Timer) -> Task | None:
    task = session.get(Task, timer.task_id) if timer.task_id is not None else None
    return task if task is not None and task.status == "open" else None


def _task_ctx(engine: Engine, session: Session, task: Task, now: dt.datetime) -> StepContext:
    return engine.context(session, task.cycle.process, now)


def _fire_reminder(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    task = _open_task(session, timer)
    if (
        task is None
        or (task.due_at is not None and task.due_at <= now)
        or _newer_reminder_due(session, timer, now)
    ):
        return False
    ctx = _task_ctx(engine, session, task, now)
    context = mailctx.task_mail(engine.org, ctx.process.definition, task.cycle, task, engine.cal)
    notify.queue(
        session,
        engine.org,
        task.assignee_ids,
        "task_reminder",
        f"task:{task.id}:{timer.key}",
        context,
        now,
        task.cycle_id,
        task.id,
    )
    return True


def _newer_reminder_due(session: Session, timer: Timer, now: dt.datetime) -> bool:
    query = select(Timer.id).where(
        Timer.task_id == timer.task_id,
        Timer.kind == "reminder",
        Timer.status == "pending",
        Timer.fire_at <= now,
        Timer.fire_at > timer.fire_at,
    )
    return session.execute(query.limit(1)).first() is not None


def _fire_due(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    task = _open_task(session, timer)
    if task is None:
        return False
    ctx = _task_ctx(engine, session, task, now)
    notify.queue(
        session,
        engine.org,
        task.assignee_ids,
        "task_overdue",
        f"task:{task.id}:overdue",
        mailctx.task_mail(engine.org, ctx.process.definition, task.cycle, task, engine.cal),
        now,
        task.cycle_id,
        task.id,
    )
    _audit_task(
        engine,
        session,
        task,
        "task.overdue",
        now,
        {"task": task.id, "due": task.due_at.isoformat() if task.due_at else None},
    )
    return True


def _fire_escalation(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    task = _open_task(session, timer)
    if task is None:
        return False
    ctx = _task_ctx(engine, session, task, now)
    group = ctx.group(task.cycle)
    target = str(timer.payload.get("to", "chair"))
    people = engine.directory.assignees(target, group)
    context = mailctx.escalation_mail(
        engine.org, ctx.process.definition, task.cycle, task, engine.cal, now
    )
    notify.queue(
        session,
        engine.org,
        people,
        "task_escalated",
        f"task:{task.id}:escalated",
        context,
        now,
        task.cycle_id,
        task.id,
    )
    _audit_task(
        engine,
        session,
        task,
        "task.escalated",
        now,
        {"task": task.id, "to": people, "assignees": task.assignee_ids},
    )
    return True


def _fire_transition(engine: Engine, session: Session, timer: Timer, now: dt.datetime) -> bool:
    cycle = session.get(Cycle, timer.cycle_id) if timer.cycle_id is not None else None
    if cycle is None or cycle.state != timer.payload.get("step"):
        return False
    return engine.fire_system(
        session, now, cycle, str(timer.payload["trigger"]), "timed transition"
    )


def _audit_task(
    engine: Engine,
    session: Session,
    task: Task,
    action: str,
    now: dt.datetime,
    payload: dict[str, object],
) -> None:
    act = audit.Act(
        engine.org.municipality,
        SYSTEM,
        "system",
        action,
        f"task:{task.id}",
        dict(payload),
        task.cycle_id,
    )
    audit.append(session, act, now)


HANDLERS = {
    "cycle_open": _fire_open,
    "plan": _fire_plan,
    "reminder": _fire_reminder,
    "due": _fire_due,
    "escalation": _fire_escalation,
    "transition": _fire_transition,
}

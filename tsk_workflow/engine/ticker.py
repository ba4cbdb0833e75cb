"""The timers of the scheduler pass (``tsk_workflow.schedpass``: ``tsk tick``, ``tsk run``, the
demo): open due cycles and fire due timers, exactly once.

The database is the source of truth for time: cycle openings, deadlines, reminders, escalations
and timed transitions are rows of ``timers``. A pass:

1. asks, without locking anything, whether any timer is due (one indexed query on
   ``(status, fire_at)``: a pass with nothing due costs the same however many cycles are open);
2. claims a batch of due timers, oldest first, and fires each one: the cycle it opens, the tasks
   and timers that creates, the mail it queues (outbox rows) and its audit events commit with the
   timer marked ``fired``, in one transaction per batch;
3. repeats until nothing due is left, so timers that firing made due (a late ``plan`` timer's
   openings) fire in the same pass, and a second pass at the same instant changes nothing.

**Exactly once across processes.** On SQLite write transactions are exclusive (``BEGIN
IMMEDIATE``). On PostgreSQL a batch first takes the audit chain's advisory lock, then claims with
``SELECT ... FOR UPDATE SKIP LOCKED``: every act appends to the one hash chain and so waits for
that lock anyway, and taking it before any row lock means two tickers never hold row locks while
waiting for each other (no deadlock). A timer's row is only claimable while it is ``pending``,
and it leaves that state in the transaction that fires it.

**Reminders without the chain lock (PostgreSQL).** Reminders write no audit event, so a batch
of due reminders that are older than every other due timer is claimed (``FOR UPDATE SKIP
LOCKED``) without the chain's lock, and several tick processes send reminders in parallel. This
stays free of deadlocks: such a batch waits for no lock anyone else holds (it only reads tasks and
cycles, inserts outbox rows under Message-IDs only it makes, and updates the timer rows it has
locked), so it can be waited for (an act cancelling a task's timers waits for the batch to
commit) but never closes a cycle of waiting. Any other batch takes the chain lock before it
claims a row, as before. Claiming only reminders older than every other due timer keeps "oldest
first": a reminder never overtakes an opening, a timed transition or an overdue notice due
before it.

**Notices set-based.** A batch is claimed as rows (Core, no ORM objects), oldest first. A run of
consecutive reminders, overdue notices and escalations in it is fired together
(``engine/notices.py``): a few Core queries for the whole run instead of several per timer, the
same mail, audit events and outcomes as one by one. Every other timer is loaded as its ORM
object and fired by its handler.

**One bad timer does not stop the rest.** Each timer fires inside a savepoint; a timer whose
firing raises is rolled back alone and marked ``failed`` with the error in its payload (and
logged). A batch that meets a deadlock or a conflict with someone acting at the same time is
rolled back whole and tried again.

**Catch-up after downtime.** Each missed timer still fires once, oldest first: a missed opening
opens its cycle, marked late in the ``cycle.opened`` audit event (more than ``LATE_AFTER`` behind
its time); of a task's missed reminders only the newest is sent, and none once the task is
overdue (the overdue notice is its one reminder); the overdue notice and the escalation are sent
once each, not once per missed day.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notices, notify, plan, timing
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.steps import add_timer
from tsk_workflow.errors import Conflict, TskError
from tsk_workflow.store.models import Cycle, Task, Timer

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 10_000
"""A pass stops after this many batches (only reachable after years of downtime)."""
RETRIES = 5
OPEN_TIME = plan.OPEN_TIME
LATE_AFTER = dt.timedelta(hours=24)
PLAN_MONTH_DAY = (12, 1)
"""Each year on 1 December (``plan`` timer) the openings of the next year are planned."""


@dataclass
class TickResult:
    fired: dict[str, int] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: int = 0
    batches: int = 0

    def count(self, kind: str) -> None:
        self.fired[kind] = self.fired.get(kind, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.fired.values())

    def merge(self, other: TickResult) -> None:
        for kind, count in other.fired.items():
            self.fired[kind] = self.fired.get(kind, 0) + count
        self.opened += other.opened
        self.skipped += other.skipped
        self.failed += other.failed
        self.batches += other.batches

    def as_dict(self) -> dict[str, Any]:
        return {
            "fired": dict(sorted(self.fired.items())),
            "total": self.total,
            "opened": list(self.opened),
            "skipped": self.skipped,
            "failed": self.failed,
        }

    def summary(self) -> str:
        """``fired 3 (cycle_open 1, reminder 2), 0 without effect, 0 failed``."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.fired.items()))
        return (
            f"fired {self.total}" + (f" ({kinds})" if kinds else "") + f", {self.skipped} without"
            f" effect, {self.failed} failed"
        )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------- planning cycle openings


def opening_key(municipality: str, process: str, period: str, subject: str | None) -> str:
    return f"open:{municipality}:{process}:{period}:{subject or ''}"


def plan_openings(
    engine: Engine, session: Session, start: dt.date, through_year: int, now: dt.datetime
) -> set[str]:
    """Timers for every scheduled cycle opening from ``start`` to the end of ``through_year``,
    and the ``plan`` timer that plans the year after; returns the keys of the plan's timers.

    A pending opening whose date the schedule has since moved is moved with it; one that a
    replan had cancelled (its process was dropped) is planned again.
    """
    org = engine.org
    planned: set[str] = set()
    end = dt.date(through_year, 12, 31)
    for opening in plan.openings(org, engine.catalog.definitions, engine.cal, start, end):
        occ = opening.occurrence
        key = opening_key(org.municipality, opening.process, occ.period, occ.subject)
        payload: dict[str, Any] = {
            "process": opening.process,
            "period": occ.period,
            "subject": occ.subject,
            "date": occ.date.isoformat(),
        }
        if occ.deadline is not None:
            payload["deadline"] = occ.deadline.isoformat()
        fire_at = timing.local_at(occ.date, OPEN_TIME, engine.cal)
        _plan_timer(session, engine, now, key, "cycle_open", fire_at, payload)
        planned.add(key)
    plan_key = f"plan:{org.municipality}:{through_year + 1}"
    plan_day = dt.date(through_year, *PLAN_MONTH_DAY)
    fire_at = timing.local_at(plan_day, OPEN_TIME, engine.cal)
    _plan_timer(session, engine, now, plan_key, "plan", fire_at, {"year": through_year + 1})
    return planned | {plan_key}


def _plan_timer(
    session: Session,
    engine: Engine,
    now: dt.datetime,
    key: str,
    kind: str,
    fire_at: dt.datetime,
    payload: dict[str, Any],
) -> None:
    existing = session.scalars(select(Timer).where(Timer.key == key)).first()
    if existing is None:
        add_timer(session, engine.org.municipality, now, key, kind, fire_at, payload=payload)
        session.flush()
    elif existing.status == "cancelled" or (
        existing.status == "pending"
        and (existing.fire_at != fire_at or existing.payload != payload)
    ):
        # Moved by a changed schedule, or back in the plan after a replan had dropped it
        # (opening timers are cancelled only by ``replan``).
        existing.status = "pending"
        existing.fire_at = fire_at
        existing.payload = payload


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
        if not engines:
            raise TskError("no organisation to tick for")
        self.engines = engines
        self.worker = worker or worker_id()
        self.store = next(iter(engines.values())).store

    def tick(self, now: dt.datetime, batch: int = BATCH) -> TickResult:
        """Fire everything due at ``now``; see the module's docstring."""
        if now.tzinfo is None:
            raise ValueError("naive datetime given to tick; pass an aware one")
        result = TickResult()
        with settled_heap():
            for _ in range(MAX_BATCHES):
                if not self.anything_due(now):
                    break
                claimed = self._batch(now, batch, result)
                if claimed == 0:  # all due timers are being fired by another process
                    break
        return result

    def anything_due(self, now: dt.datetime) -> bool:
        """Whether a timer is due: one indexed query, no lock."""
        with self.store.reading() as session:
            return session.execute(self._due(now).limit(1)).first() is not None

    def _due(self, now: dt.datetime) -> Any:
        return select(Timer.id).where(
            Timer.status == "pending",
            Timer.fire_at <= now,
            Timer.municipality.in_(list(self.engines)),
        )

    def _batch(self, now: dt.datetime, batch: int, result: TickResult) -> int:
        for attempt in range(1, RETRIES + 1):
            partial = TickResult(batches=1)
            try:
                with self.store.transaction() as session:
                    timers = self._claim_reminders(session, now, batch)
                    if not timers:
                        self._serialise(session)
                        timers = self._claim(session, now, batch)
                    self._fire_all(session, timers, now, partial)
            except TskError as exc:
                if attempt == RETRIES or not _retryable(exc):
                    raise
                log.warning("tick: batch rolled back (%s); trying again", exc)
                continue
            result.merge(partial)
            return len(timers)
        return 0  # pragma: no cover - the loop returns or raises

    def _serialise(self, session: Session) -> None:
        if self.store.dialect == "postgresql":
            audit.lock_chain(session)

    def _claim(self, session: Session, now: dt.datetime, batch: int) -> list[notices.Claimed]:
        query = (
            select(*notices.CLAIMED_COLUMNS)
            .where(
                Timer.status == "pending",
                Timer.fire_at <= now,
                Timer.municipality.in_(list(self.engines)),
            )
            .order_by(Timer.fire_at)
            .limit(batch)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return _claimed(session, query)

    def _claim_reminders(
        self, session: Session, now: dt.datetime, batch: int
    ) -> list[notices.Claimed]:
        """On PostgreSQL, due reminders older than every other due timer, claimed without the
        audit chain's lock: they write no audit event (see "Reminders without the chain lock"
        in the module's docstring). Nothing on SQLite, whose writers are exclusive anyway."""
        if self.store.dialect != "postgresql":
            return []
        municipalities = list(self.engines)
        first_other = session.execute(
            select(Timer.fire_at, Timer.id)
            .where(
                Timer.status == "pending",
                Timer.fire_at <= now,
                Timer.municipality.in_(municipalities),
                Timer.kind != "reminder",
            )
            .order_by(Timer.fire_at, Timer.id)
            .limit(1)
        ).first()
        query = select(*notices.CLAIMED_COLUMNS).where(
            Timer.status == "pending",
            Timer.fire_at <= now,
            Timer.municipality.in_(municipalities),
            Timer.kind == "reminder",
        )
        if first_other is not None:
            query = query.where(tuple_(Timer.fire_at, Timer.id) < tuple_(*first_other))
        query = query.order_by(Timer.fire_at).limit(batch)
        return _claimed(session, query.with_for_update(skip_locked=True))

    def _fire_all(
        self,
        session: Session,
        claimed: Sequence[notices.Claimed],
        now: dt.datetime,
        result: TickResult,
    ) -> None:
        """Fire ``claimed`` in order: runs of notices (reminders, overdue notices, escalations)
        together, set-based; every other timer alone, in its savepoint, as its ORM object."""
        objects = _timer_objects(session, [c.id for c in claimed if not _set_based(c.kind)])
        run: list[notices.Claimed] = []
        for timer in claimed:
            if _set_based(timer.kind):
                run.append(timer)
                continue
            if run:
                self._fire_notices(session, run, now, result)
                run = []
            self._fire(session, objects[timer.id], now, result)
        if run:
            self._fire_notices(session, run, now, result)

    def _fire_notices(
        self,
        session: Session,
        timers: list[notices.Claimed],
        now: dt.datetime,
        result: TickResult,
    ) -> None:
        """A run of notices with a few set-based statements; should that fail on anything but the
        database itself, the run is rolled back and its timers fired one by one instead."""
        partial = TickResult()
        try:
            with session.begin_nested():
                notices.fire(self.engines, session, timers, now, self.worker, partial)
        except (OperationalError, StaleDataError):
            raise
        except Exception as exc:
            log.warning(
                "tick: %d notices at once failed (%s); one by one instead", len(timers), exc
            )
            session.expire_all()  # as the database has it after the rollback
            objects = _timer_objects(session, [timer.id for timer in timers])
            for timer in timers:
                self._fire(session, objects[timer.id], now, result)
            return
        result.merge(partial)

    def _fire(self, session: Session, timer: Timer, now: dt.datetime, result: TickResult) -> None:
        engine = self.engines[timer.municipality]
        handler = HANDLERS.get(timer.kind)
        opened_before = len(result.opened)
        try:
            with session.begin_nested():
                fired = handler(engine, session, timer, now, result) if handler else False
        except (OperationalError, StaleDataError):
            raise  # the database, or a concurrent change: the batch is rolled back and retried
        except Exception as exc:
            del result.opened[opened_before:]
            log.exception("tick: timer %s (%s) failed: %s", timer.key, timer.kind, exc)
            timer.status = "failed"
            timer.payload = {**timer.payload, "error": str(exc)[:1000]}
            timer.fired_at = now
            timer.fired_by = self.worker
            result.failed += 1
            return
        timer.status = "fired"
        timer.fired_at = now
        timer.fired_by = self.worker
        if fired:
            result.count(timer.kind)
        else:
            result.skipped += 1


@contextmanager
def settled_heap() -> Iterator[None]:
    """Run the block with what is alive when it starts kept out of the garbage collector's way.

    A pass makes many short-lived objects (rows, contexts, parameters), which sets off the
    collector again and again; each of its full passes would walk everything loaded before the
    pass as well (definitions, organisations, the ORM's mappings): about a sixth of a pass's
    CPU (docs/performance.md, benchmark 6). ``gc.freeze`` sets those aside for the block and
    ``gc.unfreeze`` gives them back after it; what the block makes is collected as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _claimed(session: Session, query: Any) -> list[notices.Claimed]:
    """The timers ``query`` claims, oldest first, and by id among those due at the same time.

    The query itself orders by ``fire_at`` only: ``(status, fire_at)`` is indexed, so the
    database reads the index in order and stops after the batch (and, on PostgreSQL, the rows
    other workers hold are skipped as it goes). Ordered by ``(fire_at, id)`` it would read and
    sort every due timer for each batch, since all the reminders of one day are due at the
    same instant. Between batches, timers due at the same instant come in the index's order
    (on SQLite that is by id too; on PostgreSQL by their place in the table)."""
    claimed = [notices.Claimed._make(row) for row in session.execute(query).all()]
    claimed.sort(key=lambda timer: (timer.fire_at, timer.id))
    return claimed


def _timer_objects(session: Session, ids: list[int]) -> dict[int, Timer]:
    """The claimed timers ``ids`` as ORM objects, for the handlers that fire one at a time (their
    rows are locked already: claimed in this transaction)."""
    objects: dict[int, Timer] = {}
    for start in range(0, len(ids), notices.CHUNK):
        chunk = ids[start : start + notices.CHUNK]
        objects.update((t.id, t) for t in session.scalars(select(Timer).where(Timer.id.in_(chunk))))
    return objects


def _retryable(exc: TskError) -> bool:
    message = str(exc).lower()
    return isinstance(exc, Conflict) or "deadlock" in message or "could not serialize" in message


# ---------------------------------------------------------------- what each kind does


def _fire_open(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
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
    cycle = engine.open_cycle_in(
        session, now, SYSTEM, process, str(payload["period"]), payload.get("subject"), late=late
    )
    result.opened.append(cycle.ref)  # a yearly report's opening also queues yearly_report_due
    return True


def _fire_plan(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
    year = int(timer.payload["year"])
    plan_openings(engine, session, dt.date(year, 1, 1), year, now)
    return True


def _open_task(session: Session, timer: Timer) -> Task | None:
    task = session.get(Task, timer.task_id) if timer.task_id is not None else None
    return task if task is not None and task.status == "open" else None


def _fire_reminder(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
    task = _open_task(session, timer)
    if (
        task is None
        or (task.due_at is not None and task.due_at <= now)
        or _newer_reminder_due(session, timer, now)
    ):
        return False
    definition = engine.definition_for(session, task.cycle.process, task.cycle.process_digest)
    context = mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal)
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


NEWER_REMINDER_STATUSES = ("pending", "fired")
"""A reminder is not sent when a newer one of the same task is due and pending, or was fired:
by this pass later in the batch, or (reminders being claimed without the chain lock on
PostgreSQL) by another process at the same time. In one process the second cannot happen: the
older reminder is due first and fires first."""


def _newer_reminder_due(session: Session, timer: Timer, now: dt.datetime) -> bool:
    query = select(Timer.id).where(
        Timer.task_id == timer.task_id,
        Timer.kind == "reminder",
        Timer.status.in_(NEWER_REMINDER_STATUSES),
        Timer.fire_at <= now,
        Timer.fire_at > timer.fire_at,
    )
    return session.execute(query.limit(1)).first() is not None


def _fire_due(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
    task = _open_task(session, timer)
    if task is None:
        return False
    definition = engine.definition_for(session, task.cycle.process, task.cycle.process_digest)
    notify.queue(
        session,
        engine.org,
        task.assignee_ids,
        "task_overdue",
        f"task:{task.id}:overdue",
        mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal),
        now,
        task.cycle_id,
        task.id,
    )
    due = task.due_at.isoformat() if task.due_at else None
    _audit_task(engine, session, task, "task.overdue", now, {"task": task.id, "due": due})
    return True


def _fire_escalation(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
    task = _open_task(session, timer)
    if task is None:
        return False
    definition = engine.definition_for(session, task.cycle.process, task.cycle.process_digest)
    group = engine.directory.group_of(task.cycle.process)
    target = str(timer.payload.get("to", "chair"))
    people = engine.directory.assignees(target, group)
    context = mailctx.escalation_mail(engine.org, definition, task.cycle, task, engine.cal, now)
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
    payload = {"task": task.id, "to": people, "assignees": task.assignee_ids}
    _audit_task(engine, session, task, "task.escalated", now, payload)
    return True


def _fire_transition(
    engine: Engine, session: Session, timer: Timer, now: dt.datetime, result: TickResult
) -> bool:
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

_NOTICE_HANDLERS = {"reminder": _fire_reminder, "due": _fire_due, "escalation": _fire_escalation}


def _set_based(kind: str) -> bool:
    """Whether timers of ``kind`` fire set-based: notices whose handler is the shipped one (a
    handler replaced in ``HANDLERS``, as tests do, is called for each timer)."""
    handler = _NOTICE_HANDLERS.get(kind)
    return handler is not None and HANDLERS.get(kind) is handler

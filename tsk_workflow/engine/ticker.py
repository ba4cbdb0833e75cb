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

**Decided in memory, written together.** A batch is claimed as rows (``store.timers.DueTimer``,
no ORM objects), oldest first, and fired in runs: consecutive reminders, overdue notices and
escalations make one run, any other timer a run of its own. For a run, what its handlers read
is loaded first (``store.timers.load``: a few Core queries for the whole run); each timer's
handler (``engine/handlers.py``) then decides in memory what firing it does, and the run's
effects (outbox rows, audit events, the timers' outcomes) are written together
(``store.acts.apply``). A handler that decides on a cycle opening, a timed transition or a
year's plan leaves that to the engine's act, which the pass performs before the run is written.

**One bad timer does not stop the rest.** A timer whose handler raises, or whose act raises
(performed in a savepoint of its own, rolled back alone), is marked ``failed`` with the error in
its payload (and logged). Should writing a run's effects together fail (a row refused, say),
they are written timer by timer instead, and a timer whose effects cannot be written fails
alone; a lost connection or a concurrent change is not a timer's fault and fails the batch. A
batch that meets a deadlock or a conflict with someone acting at the same time
is rolled back whole and tried again.

**Catch-up after downtime.** Each missed timer still fires once, oldest first: a missed opening
opens its cycle, marked late in the ``cycle.opened`` audit event (more than
``handlers.LATE_AFTER`` behind its time); of a task's missed reminders only the newest is sent,
and none once the task is overdue (the overdue notice is its one reminder); the overdue notice
and the escalation are sent once each, not once per missed day.
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
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine import handlers, plan, timing
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.handlers import Loaded, TimerEffects
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Conflict, Refused, TskError
from tsk_workflow.i18n import _, ngettext
from tsk_workflow.store import acts
from tsk_workflow.store import timers as stored
from tsk_workflow.store.database import OperationalError
from tsk_workflow.store.timers import DueTimer, TimerOutcome

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

AGAIN = (OperationalError, Conflict)
"""What rolls a whole batch back to be tried again: the database (a lost connection, a
deadlock), or a concurrent act on a cycle a timer acts on."""

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 10_000
"""A pass stops after this many batches (only reachable after years of downtime)."""
LEAP = dt.timedelta(days=400)
"""How far beyond the newest moment the database knows (``store.timers.newest_moment``) a
pass may be without ``catch_up``: a clock set years ahead (``--now 9000-01-01``) would fire a
timer for every day of every year in between."""
CATCH_UP_BATCHES = 20
"""The batches a catch-up pass fires at most; the next pass goes on where it stopped."""
RETRIES = 5
OPEN_TIME = plan.OPEN_TIME
PLAN_MONTH_DAY = (12, 1)
"""Each year on 1 December (``plan`` timer) the openings of the next year are planned."""


@dataclass
class TickResult:
    fired: dict[str, int] = field(default_factory=dict)
    opened: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    catch_up: bool = False
    """The pass was beyond ``LEAP`` and allowed to catch up, ``CATCH_UP_BATCHES`` at most."""
    more_due: bool = False
    """The pass stopped at its batches with timers still due: the next pass goes on."""

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

    @property
    def failure(self) -> str | None:
        """Why the pass did not fire all it should: timers failed (each logged in one line)."""
        if not self.failed:
            return None
        return ngettext(
            "{n} timer failed (see the log; its error is in its payload)",
            "{n} timers failed (see the log; each error is in its timer's payload)",
            self.failed,
        ).format(n=self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fired": dict(sorted(self.fired.items())),
            "total": self.total,
            "opened": list(self.opened),
            "skipped": self.skipped,
            "failed": self.failed,
            "catch_up": self.catch_up,
            "more_due": self.more_due,
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
    timers: list[dict[str, Any]] = []
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
        timers.append(_planned(engine, now, key, "cycle_open", fire_at, payload))
    plan_key = f"plan:{org.municipality}:{through_year + 1}"
    plan_day = dt.date(through_year, *PLAN_MONTH_DAY)
    fire_at = timing.local_at(plan_day, OPEN_TIME, engine.cal)
    timers.append(_planned(engine, now, plan_key, "plan", fire_at, {"year": through_year + 1}))
    # A pending opening whose time or payload changed is moved, a cancelled one planned again
    # (opening timers are cancelled only by ``replan``).
    stored.plan(session, timers)
    return {timer["key"] for timer in timers}


def _planned(
    engine: Engine,
    now: dt.datetime,
    key: str,
    kind: str,
    fire_at: dt.datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "municipality": engine.org.municipality,
        "fire_at": fire_at,
        "status": "pending",
        "cycle_id": None,
        "task_id": None,
        "payload": payload,
        "created_at": now,
    }


def replan(engine: Engine, session: Session, now: dt.datetime) -> int:
    """Plan the openings from today through next year, and cancel planned openings that the
    organisation's current schedules no longer have. Returns the number of planned openings."""
    today = now.astimezone(engine.cal.zone).date()
    keys = plan_openings(engine, session, today, today.year + 1, now)
    stored.cancel_planned_except(session, engine.org.municipality, keys)
    return len(keys) - 1


# ---------------------------------------------------------------- the pass


class Ticker:
    """One scheduler pass over every municipality whose engine it is given."""

    def __init__(self, engines: Mapping[str, Engine], worker: str | None = None) -> None:
        if not engines:
            raise TskError(_("no organisation to tick for"))
        self.engines = engines
        self.worker = worker or worker_id()
        self.store = next(iter(engines.values())).store

    def tick(self, now: dt.datetime, batch: int = BATCH, *, catch_up: bool = False) -> TickResult:
        """Fire everything due at ``now``; see the module's docstring. When something is due
        at a ``now`` more than ``LEAP`` beyond the newest moment the database knows, the pass
        is refused (``Refused``) unless ``catch_up``; then at most ``CATCH_UP_BATCHES`` batches
        fire, and the next pass goes on."""
        if now.tzinfo is None:
            raise ValueError("naive datetime given to tick; pass an aware one")
        result = TickResult()
        if not self.anything_due(now):
            return result  # one query, however many cycles are open; nothing to bound
        result.catch_up = self.leaps(now, catch_up)
        batches = CATCH_UP_BATCHES if result.catch_up else MAX_BATCHES
        with settled_heap():
            for index in range(batches):
                if index and not self.anything_due(now):
                    break
                claimed = self._batch(now, batch, result)
                if claimed == 0:  # all due timers are being fired by another process
                    break
            else:
                result.more_due = self.anything_due(now)
        return result

    def leaps(self, now: dt.datetime, catch_up: bool) -> bool:
        """Whether ``now`` is more than ``LEAP`` beyond where the pass starts from (the newest
        moment the database knows, or the oldest timer still due: ``catching_up_from``);
        refused (one sentence) unless ``catch_up``."""
        with self.store.reading() as session:
            since = stored.catching_up_from(session, now, self.engines)
        if since is None or now - since <= LEAP:
            return False
        if not catch_up:
            raise Refused(
                _(
                    "{now} is {days} days after {since}, the newest time this database knows"
                    " or the oldest timer still due: a clock that far ahead is refused; give"
                    " --catch-up to fire what became due since then, {batches} batches of"
                    " timers a pass"
                ).format(
                    now=now.isoformat(timespec="minutes"),
                    days=(now - since).days,
                    since=since.isoformat(timespec="minutes"),
                    batches=CATCH_UP_BATCHES,
                )
            )
        return True

    def anything_due(self, now: dt.datetime) -> bool:
        """Whether a timer is due: one indexed query, no lock."""
        with self.store.reading() as session:
            return stored.anything_due(session, now, self.engines)

    def _batch(self, now: dt.datetime, batch: int, result: TickResult) -> int:
        for attempt in range(1, RETRIES + 1):
            partial = TickResult(batches=1)
            try:
                with self.store.transaction() as session:
                    timers = self._claim(session, now, batch)
                    for run in _runs(timers):
                        self._fire_run(session, run, now, partial)
            except TskError as exc:
                if attempt == RETRIES or not _retryable(exc):
                    raise
                log.warning("tick: batch rolled back (%s); trying again", exc)
                continue
            result.merge(partial)
            return len(timers)
        return 0  # pragma: no cover - the loop returns or raises

    def _claim(self, session: Session, now: dt.datetime, batch: int) -> list[DueTimer]:
        """A batch of due timers, oldest first. On PostgreSQL, due reminders older than every
        other due timer are claimed first, without the audit chain's lock (see "Reminders
        without the chain lock" in the module's docstring); any other batch takes that lock
        before it claims a row. SQLite's writers are exclusive anyway."""
        if self.store.dialect != "postgresql":
            return stored.claim(session, now, self.engines, batch)
        timers = stored.claim_reminders(session, now, self.engines, batch)
        if timers:
            return timers
        audit.lock_chain(session)
        return stored.claim(session, now, self.engines, batch)

    def _fire_run(
        self, session: Session, timers: Sequence[DueTimer], now: dt.datetime, result: TickResult
    ) -> None:
        """Read what ``timers`` need, decide each in turn (performing an act decided on at once,
        in its own savepoint), then write the effects of all of them together."""
        loaded = self._load(session, timers, now)
        effects = []
        for timer in timers:
            engine = self.engines[timer.municipality]
            try:
                decided = handlers.decide(engine, timer, loaded, now)
            except AGAIN:
                raise
            except Exception as exc:
                _log_failed(timer, exc)
                decided = TimerEffects(TimerOutcome.failed(timer, str(exc)))
            if not isinstance(decided, TimerEffects):
                decided = self._act(session, engine, timer, decided, now, result)
            effects.append(decided)
        self._write(session, timers, effects, now)
        for outcome in (effect.outcome for effect in effects):
            if outcome.status == "fired":
                result.count(outcome.kind)
            elif outcome.status == "skipped":
                result.skipped += 1
            else:
                result.failed += 1

    def _load(self, session: Session, timers: Sequence[DueTimer], now: dt.datetime) -> Loaded:
        rows = stored.load(session, timers, now)
        definitions: dict[handlers.DefinitionKey, ProcessDefinition | Exception] = {}
        for timer in timers:
            task = rows.tasks.get(timer.task_id) if timer.task_id is not None else None
            if task is None:
                continue
            key = (timer.municipality, task.cycle.process, task.cycle.process_digest)
            if key in definitions:
                continue
            try:
                engine = self.engines[timer.municipality]
                definitions[key] = engine.definition_for(session, key[1], key[2])
            except AGAIN:
                raise
            except Exception as exc:  # the timers that need it fail with it
                definitions[key] = exc
        return Loaded(rows, definitions)

    def _act(
        self,
        session: Session,
        engine: Engine,
        timer: DueTimer,
        act: handlers.CycleAct,
        now: dt.datetime,
        result: TickResult,
    ) -> TimerEffects:
        """Perform ``act`` in a savepoint of its own: if it raises, it is rolled back alone and
        the timer fails (the batch goes on)."""
        opened_before = len(result.opened)
        try:
            with session.begin_nested(), engine.act_in(session, now) as unit:
                done = _perform(engine, unit, act, result)
        except AGAIN:
            raise  # the database, or a concurrent change: the batch is rolled back and retried
        except Exception as exc:
            del result.opened[opened_before:]
            _log_failed(timer, exc)
            return TimerEffects(TimerOutcome.failed(timer, str(exc)))
        if not done:
            return TimerEffects(TimerOutcome.skipped(timer, "the transition no longer applies"))
        return TimerEffects(TimerOutcome.fired(timer))

    def _write(
        self,
        session: Session,
        timers: Sequence[DueTimer],
        effects: list[TimerEffects],
        now: dt.datetime,
    ) -> None:
        """Write the effects of a run together, in a savepoint. Should that fail (but for a lost
        connection or a concurrent change, which roll the batch back), they are written timer
        by timer instead, and a timer whose effects cannot be written fails alone."""
        try:
            with session.begin_nested():
                _apply(session, effects, now, self.worker)
            return
        except AGAIN:
            raise
        except Exception as exc:
            log.warning("tick: the effects of %d timers at once failed (%s)", len(timers), exc)
        for index, (timer, effect) in enumerate(zip(timers, effects, strict=True)):
            try:
                with session.begin_nested():
                    _apply(session, [effect], now, self.worker)
            except AGAIN:
                raise
            except Exception as exc:
                _log_failed(timer, exc)
                effects[index] = TimerEffects(TimerOutcome.failed(timer, str(exc)))
                _apply(session, [effects[index]], now, self.worker)


def _log_failed(timer: DueTimer, exc: Exception) -> None:
    """One line for a timer that failed (its error is kept in its payload too); the traceback
    only at debug level: a pass where thousands fail must not write millions of lines."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    log.error("tick: timer %s (%s) failed: %s", timer.key, timer.kind, first)
    log.debug("tick: timer %s failed", timer.key, exc_info=exc)


def _apply(
    session: Session, effects: Sequence[TimerEffects], now: dt.datetime, worker: str
) -> None:
    """The effects of timers, in order: their mail and outcomes written by the store, and their
    audit events appended to the chain, as an act's are (``engine.act``)."""
    unit = Act(session, now)
    unit.effects.queue(row for effect in effects for row in effect.outbox)
    unit.effects.fire([effect.outcome for effect in effects], now, worker)
    for effect in effects:
        for event in effect.events:
            unit.record(event)
    unit.write()


def _perform(engine: Engine, unit: Act, act: handlers.CycleAct, result: TickResult) -> bool:
    """Perform ``act`` as the scheduler, in ``unit``; False when it no longer applies."""
    if isinstance(act, handlers.OpenCycle):
        cycle = engine.open_cycle_in(
            unit, SYSTEM, act.process, act.period, act.subject, late=act.late
        )
        result.opened.append(cycle.ref)  # a yearly report's opening also queues yearly_report_due
        return True
    if isinstance(act, handlers.PlanYear):
        plan_openings(engine, unit.session, dt.date(act.year, 1, 1), act.year, unit.now)
        return True
    moving = acts.load_cycle(unit.session, engine.org.municipality, "id", act.cycle_id)
    if moving is None:
        return False
    return engine.fire_system(unit, moving, act.trigger, "timed transition")


def _runs(timers: Sequence[DueTimer]) -> Iterator[list[DueTimer]]:
    """``timers`` in order, in runs: consecutive timers of the kinds decided together
    (``handlers.TOGETHER``) make one run; a timer of any other kind is a run of its own."""
    run: list[DueTimer] = []
    for timer in timers:
        if timer.kind in handlers.TOGETHER:
            run.append(timer)
            continue
        if run:
            yield run
            run = []
        yield [timer]
    if run:
        yield run


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


def _retryable(exc: TskError) -> bool:
    message = str(exc).lower()
    return isinstance(exc, Conflict) or "deadlock" in message or "could not serialize" in message

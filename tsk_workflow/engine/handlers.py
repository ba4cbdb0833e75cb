"""What each kind of timer does, decided in memory.

A handler is given a due timer (a row: ``store.timers.DueTimer``), what the scheduler pass read
for the run of timers it is in (:class:`Loaded`: rows, not ORM objects), the engine of the
timer's municipality (for its organisation, calendar and directory, all in memory) and the
pass's time. It reads no clock and does no I/O, and returns what firing the timer does:

- :class:`TimerEffects`: the mail to queue (outbox rows, made by
  ``messages.rows``), the audit events to append, and the timer's outcome (fired, or
  skipped and why). ``store.acts.apply`` writes them, for a whole run of timers at once.
- or a :data:`CycleAct`: a cycle to open, a timed transition to fire, a year to plan. These
  are the engine's acts (the cycle's tasks, timers, mail and audit events are theirs to make):
  the ticker performs them, each in a savepoint of its own.

Of a task's reminders only the newest due one is sent, and none once the task is overdue (its
overdue notice is its one reminder); a reminder, an overdue notice or an escalation of a task
that is no longer open is skipped, as is an opening whose cycle exists or whose process the
organisation no longer runs, and a timed transition whose cycle has left the step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit, messages
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine import mailctx
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.store.timers import (
    CycleRow,
    DueTimer,
    Rows,
    TaskRow,
    TimerOutcome,
    opening,
)


@dataclass(frozen=True, slots=True)
class TimerEffects:
    """What firing one timer writes: its outcome, the mail it queues (outbox rows, made by
    ``messages.rows``) and the audit events it appends (stamped with the pass's time). The
    ticker has the store write them (``engine.act.Act``, ``store.acts.apply``),
    in the pass's transaction."""

    outcome: TimerOutcome
    outbox: Sequence[dict[str, Any]] = ()
    events: Sequence[audit.Act] = ()


if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine

LATE_AFTER = dt.timedelta(hours=24)
"""An opening fired more than this after its time opens its cycle marked late."""

DefinitionKey = tuple[str, str, str | None]
"""``(municipality, process, digest)``: the definition a cycle follows."""


@dataclass(frozen=True)
class Loaded:
    """What the handlers of a run of timers decide from: the rows read at the start of the run,
    and the definitions their tasks' cycles follow (a definition that could not be had is the
    error that said so: the handler that needs it fails with it)."""

    rows: Rows
    definitions: Mapping[DefinitionKey, ProcessDefinition | Exception]

    def definition(self, municipality: str, cycle: CycleRow) -> ProcessDefinition:
        found = self.definitions[(municipality, cycle.process, cycle.process_digest)]
        if isinstance(found, Exception):
            raise found.with_traceback(None)  # raised for each timer: not one trace on another
        return found

    def task(self, timer: DueTimer) -> TaskRow | None:
        """The timer's task, if it is open."""
        return self.rows.tasks.get(timer.task_id) if timer.task_id is not None else None


@dataclass(frozen=True)
class OpenCycle:
    """Open the cycle of a process for a period (and subject), as the scheduler."""

    process: str
    period: str
    subject: str | None
    late: bool


@dataclass(frozen=True)
class FireTransition:
    """Fire a timed transition of a cycle, as the scheduler."""

    cycle_id: int
    trigger: str


@dataclass(frozen=True)
class PlanYear:
    """Plan the cycle openings of a year (and the timer that plans the year after)."""

    year: int


CycleAct = OpenCycle | FireTransition | PlanYear
Decided = TimerEffects | CycleAct
Handler = Callable[["Engine", DueTimer, Loaded, dt.datetime], Decided]


def _skipped(timer: DueTimer, reason: str) -> TimerEffects:
    return TimerEffects(TimerOutcome.skipped(timer, reason))


# ------------------------------------------------------------------ notices


def reminder(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """``task_reminder`` to the task's assignees."""
    task = loaded.task(timer)
    if task is None:
        return _skipped(timer, "task not open")
    if task.due_at is not None and task.due_at <= now:
        return _skipped(timer, "task overdue")
    newest = loaded.rows.newest_reminders.get(task.id)
    if newest is not None and newest > timer.fire_at:
        return _skipped(timer, "a newer reminder is due")
    definition = loaded.definition(timer.municipality, task.cycle)
    context = mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal)
    mail = messages.Queued(
        engine.org,
        task.assignee_ids,
        "task_reminder",
        f"task:{task.id}:{timer.key}",
        context,
        task.cycle_id,
        task.id,
    )
    return TimerEffects(TimerOutcome.fired(timer), messages.rows(mail, now))


def overdue(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """``task_overdue`` to the task's assignees, and ``task.overdue`` in the audit trail."""
    task = loaded.task(timer)
    if task is None:
        return _skipped(timer, "task not open")
    definition = loaded.definition(timer.municipality, task.cycle)
    context = mailctx.task_mail(engine.org, definition, task.cycle, task, engine.cal)
    mail = messages.Queued(
        engine.org,
        task.assignee_ids,
        "task_overdue",
        f"task:{task.id}:overdue",
        context,
        task.cycle_id,
        task.id,
    )
    due = task.due_at.isoformat() if task.due_at else None
    event = _event(engine, task, "task.overdue", {"task": task.id, "due": due})
    return TimerEffects(TimerOutcome.fired(timer), messages.rows(mail, now), (event,))


def escalation(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """``task_escalated`` to the holders of the timer's role (``to``, the chair by default) in
    the process's group, and ``task.escalated`` in the audit trail."""
    task = loaded.task(timer)
    if task is None:
        return _skipped(timer, "task not open")
    definition = loaded.definition(timer.municipality, task.cycle)
    group = engine.directory.group_of_cycle(task.cycle)
    target = str(timer.payload.get("to", "chair"))
    people = engine.directory.assignees(target, group)
    context = mailctx.escalation_mail(engine.org, definition, task.cycle, task, engine.cal, now)
    mail = messages.Queued(
        engine.org,
        people,
        "task_escalated",
        f"task:{task.id}:escalated",
        context,
        task.cycle_id,
        task.id,
    )
    payload = {"task": task.id, "to": people, "assignees": list(task.assignee_ids)}
    event = _event(engine, task, "task.escalated", payload)
    return TimerEffects(TimerOutcome.fired(timer), messages.rows(mail, now), (event,))


def _event(engine: Engine, task: TaskRow, action: str, payload: dict[str, Any]) -> audit.Act:
    return audit.Act(
        engine.org.municipality, SYSTEM, "system", action, f"task:{task.id}", payload, task.cycle_id
    )


# ------------------------------------------------------------------ acts


def cycle_open(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """Open the cycle the schedule planned, late when the timer is more than ``LATE_AFTER``
    behind its time."""
    found = opening(timer)
    _municipality, process, period, _subject = found
    if process not in engine.org.processes:
        return _skipped(timer, "the organisation no longer runs the process")
    if found in loaded.rows.existing_cycles:
        return _skipped(timer, "the cycle exists")
    late = now - timer.fire_at > LATE_AFTER
    return OpenCycle(process, period, timer.payload.get("subject"), late)


def plan(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """Plan the year the timer names."""
    return PlanYear(int(timer.payload["year"]))


def transition(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """Fire the timed transition, if the cycle is still in the step that set the timer."""
    cycle = loaded.rows.cycles.get(timer.cycle_id) if timer.cycle_id is not None else None
    if cycle is None:
        return _skipped(timer, "no cycle")
    if cycle.state != timer.payload.get("step"):
        return _skipped(timer, "the cycle has left the step")
    return FireTransition(cycle.id, str(timer.payload["trigger"]))


HANDLERS: Mapping[str, Handler] = {
    "cycle_open": cycle_open,
    "plan": plan,
    "reminder": reminder,
    "due": overdue,
    "escalation": escalation,
    "transition": transition,
}

TOGETHER = frozenset({"reminder", "due", "escalation"})
"""Kinds whose effects change nothing that a handler reads (they queue mail and append audit
events, no more): a run of them in a batch is read, decided and written together. A timer of
any other kind is read and decided after the timers before it have had their effects."""


def decide(engine: Engine, timer: DueTimer, loaded: Loaded, now: dt.datetime) -> Decided:
    """What firing ``timer`` does (a kind without a handler: nothing)."""
    handler = HANDLERS.get(timer.kind)
    if handler is None:
        return _skipped(timer, f"no handler for {timer.kind!r}")
    return handler(engine, timer, loaded, now)

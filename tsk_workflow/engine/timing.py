"""When tasks fall due and when their reminders and escalations fire. Pure: ``now`` is given.

A due duration counted in days (``P14D``, ``10wd``) ends at the close of a working day
(``END_OF_DAY`` local time), moved off weekends and holidays by the municipality's rule; a
duration with hours (``PT48H``) is exact. Reminders fire at ``REMINDER_TIME`` local time on their
day; an escalation fires its duration after the due time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tsk_workflow.calendar import WorkCalendar, apply_duration, before
from tsk_workflow.definitions.durations import parse_duration
from tsk_workflow.definitions.model import Task
from tsk_workflow.organisation.model import Organisation

END_OF_DAY = dt.time(17, 0)
REMINDER_TIME = dt.time(8, 0)


def work_calendar(org: Organisation) -> WorkCalendar:
    settings = org.calendar
    return WorkCalendar(
        timezone=settings.timezone,
        closed_days=frozenset(settings.closed_days),
        shift=settings.shift,
        summer_months=settings.summer_months,
    )


def local_at(day: dt.date, clock: dt.time, cal: WorkCalendar) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=cal.zone).astimezone(dt.UTC)


def due_at(start: dt.datetime, text: str, cal: WorkCalendar) -> dt.datetime:
    """The due time ``text`` after ``start``."""
    duration = parse_duration(text)
    moment = apply_duration(start, duration, cal)
    if duration.delta is not None and _has_clock_part(duration.delta):
        return moment.astimezone(dt.UTC)
    day = cal.adjust(moment.astimezone(cal.zone).date())
    return local_at(day, END_OF_DAY, cal)


def _has_clock_part(delta: object) -> bool:
    return any(getattr(delta, name, 0) for name in ("hours", "minutes", "seconds"))


def reminder_at(due: dt.datetime, text: str, cal: WorkCalendar) -> dt.datetime:
    day = before(due, parse_duration(text), cal).astimezone(cal.zone).date()
    return local_at(day, REMINDER_TIME, cal)


def escalation_at(due: dt.datetime, text: str, cal: WorkCalendar) -> dt.datetime:
    return apply_duration(due, parse_duration(text), cal).astimezone(dt.UTC)


@dataclass(frozen=True)
class PlannedTimer:
    key_suffix: str
    kind: str
    fire_at: dt.datetime
    payload: dict[str, str]


def task_timers(
    task: Task, due: dt.datetime | None, now: dt.datetime, cal: WorkCalendar
) -> list[PlannedTimer]:
    """The due, reminder and escalation timers of a task whose due time is ``due``.

    Reminders whose time has already passed when the task is created are not planned.
    """
    if due is None:
        return []
    timers = [PlannedTimer("due", "due", due, {})]
    for text in task.reminders:
        at = reminder_at(due, text, cal)
        if now < at <= due:
            timers.append(PlannedTimer(f"reminder:{text}", "reminder", at, {"before": text}))
    if task.escalate is not None:
        at = escalation_at(due, task.escalate.after, cal)
        timers.append(PlannedTimer("escalate", "escalation", at, {"to": task.escalate.to}))
    return timers


def meeting_at(start: dt.datetime, within: str, clock: str, cal: WorkCalendar) -> dt.datetime:
    """A step's meeting: ``within`` after the step is entered, on a working day at ``clock``."""
    day = cal.adjust(apply_duration(start, parse_duration(within), cal).astimezone(cal.zone).date())
    hour, minute = (int(part) for part in clock.split(":"))
    return local_at(day, dt.time(hour, minute), cal)

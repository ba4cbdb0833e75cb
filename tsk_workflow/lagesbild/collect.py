"""Reading a cycle's reports, and those of the same process's cycles in the months before."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tsk_workflow.definitions.model import Form, ProcessDefinition
from tsk_workflow.engine.events import month_days
from tsk_workflow.forms import reporter_forms
from tsk_workflow.lagesbild.model import Report
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import events, reports
from tsk_workflow.store.acts import CycleState
from tsk_workflow.store.models import Cycle, Task

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

MONTHS = 12
"""The chart covers the lägesbild's month and the eleven before it."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Gathered:
    """What ``build`` needs from the database: the cycle and the reports, month by month.

    ``history`` has an entry for each earlier month of the window that had a cycle of the
    process (a month without one, such as July, is unknown rather than zero).
    """

    cycle_ref: str
    cycle_title: str
    period: str
    reports: tuple[Report, ...]
    history: Mapping[str, tuple[Report, ...]]


def window(period: str, months: int = MONTHS) -> list[str]:
    """The ``months`` months ending with ``period`` (oldest first); ``[]`` if it is no month."""
    match = _MONTH.match(period)
    if match is None:
        return []
    index = int(match[1]) * 12 + int(match[2]) - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]


def gather(
    session: Session, org: Organisation, definition: ProcessDefinition, cycle: Cycle | CycleState
) -> Gathered:
    forms = reporter_forms(definition)
    earlier = [p for p in window(cycle.period) if p != cycle.period]
    cycles = [cycle]
    if earlier:
        cycles += reports.earlier_cycles(session, cycle, earlier)
    periods = {c.id: c.period for c in cycles}
    by_cycle = task_reports(session, org, {c.id: (c.period, forms) for c in cycles})
    if forms:
        cycle_of = {period: cycle_id for cycle_id, period in periods.items()}
        for period, found in _events(session, org, sorted(cycle_of)).items():
            by_cycle[cycle_of[period]] += found
    history = {
        periods[c.id]: tuple(by_cycle[c.id]) for c in sorted(cycles[1:], key=lambda c: c.period)
    }
    return Gathered(cycle.ref, cycle.title, cycle.period, tuple(by_cycle[cycle.id]), history)


def _events(session: Session, org: Organisation, periods: list[str]) -> dict[str, list[Report]]:
    """The events reported at any time (``engine.events``) that happened in ``periods``
    (months), by month: each a report with one incident. An event in a month without a cycle
    (July) is in no lägesbild's table."""
    days = [month_days(period) for period in periods if _MONTH.match(period)]
    if not days:
        return {}
    wanted = set(periods)
    found: dict[str, list[Report]] = {}
    for _day, report in event_reports(session, org, days[0][0], days[-1][1]):
        if report.period in wanted:
            found.setdefault(report.period, []).append(report)
    return found


def event_reports(
    session: Session, org: Organisation, first: dt.date, last: dt.date
) -> list[tuple[dt.date, Report]]:
    """The events reported at any time that happened from ``first`` to ``last`` (both
    included), each with its day, as reports of one incident in the month it happened."""
    found: list[tuple[dt.date, Report]] = []
    for event, report in events.events_between(session, org.municipality, first, last):
        point = (
            (event.latitude, event.longitude)
            if event.latitude is not None and event.longitude is not None
            else None
        )
        found.append(
            (
                event.day,
                Report(
                    period=event.day.strftime("%Y-%m"),
                    task_id=None,
                    event_id=event.id,
                    reporter=report.reporter,
                    department=report.department,
                    answered=True,
                    categories=(event.category,),
                    town=event.town,
                    place=event.place,
                    when=f"{event.day.isoformat()} {event.time}"
                    if event.time
                    else event.day.isoformat(),
                    count=1.0,
                    description=event.description,
                    point=point,
                ),
            )
        )
    return found


def task_reports(
    session: Session,
    org: Organisation,
    cycles: Mapping[int, tuple[str, Mapping[tuple[str, str], Form]]],
) -> dict[int, list[Report]]:
    """The reports of the reporter tasks of ``cycles`` (by id: its period and its process's
    reporter forms), by cycle."""
    by_cycle: dict[int, list[Report]] = {cycle_id: [] for cycle_id in cycles}
    for task in reports.tasks_of(session, list(cycles)):
        period, forms = cycles[task.cycle_id]
        form = forms.get((task.step, task.key))
        if form is not None:
            by_cycle[task.cycle_id].append(_report(task, form, period, org))
    return by_cycle


def _report(task: Task, form: Form, period: str, org: Organisation) -> Report:
    assignees = task.assignee_ids
    reporter = assignees[0] if len(assignees) == 1 else (task.done_by or "")
    person = org.person(reporter)
    department = person.department if person is not None else None
    answered = task.status == "done"
    answers: Mapping[str, Any] = (task.answers or {}) if answered else {}

    def part(name: str) -> Any:
        question = form.part(name)
        return answers.get(question.key) if question is not None else None

    count = part("count")
    return Report(
        period=period,
        task_id=task.id,
        reporter=reporter,
        department=department,
        answered=answered,
        categories=_keys(part("category")),
        town=_text(part("town")),
        place=_text(part("place")),
        when=_when(part("when")),
        count=float(count) if isinstance(count, int | float) else 1.0,
        description=_text(part("description")),
        action=_text(part("action")),
    )


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(item) for item in value)
    return (str(value),)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _when(value: Any) -> str | None:
    """A stored date or date and time as people read it (``2027-03-02 22:15``)."""
    text = _text(value)
    return text.replace("T", " ") if text is not None else None

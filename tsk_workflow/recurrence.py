"""When scheduled cycles open: the occurrences of a process's schedule in a year.

Pure: the calendar, the year and the organisation's towns and areas are passed in.

Rules (each schedule kind is documented on its model in ``definitions/model.py``):

* **Working days.** An occurrence on a non-working day moves with ``cal.adjust`` (to the nearest
  working day before it, or after it if the calendar says so); if that would leave its month, it
  moves the other way instead, so the January meeting set for the 1st is held on the first
  working day of January, not in December of the year before. See ``on_working_day``.
* **Spreading.** Where a schedule does not list its dates, ``n`` occurrences are spread evenly
  over a list of months, each month counted as 28 days: the ``k``-th occurrence sits in the
  middle of the ``k``-th of ``n`` equal parts (see ``spread``). With no months given, the months
  outside the calendar's summer are used (for ``times_a_year``: all twelve when fewer than
  ``times`` are left, so the months stay distinct). With July as the summer, ``times_a_year``
  gives: 1 → June; 2 → March and October; 3 → February, June, November; 4 → February, May,
  August and November (on the schedule's ``day``).
* **Rotation.** Occurrence ``i`` of a mandate period goes to subject ``i mod len(subjects)``,
  counting from the period's first occurrence, so every mandate period starts with the first
  town and, with ``4 * per_year >= len(subjects)``, visits every town. Moving a rotation
  occurrence off a non-working day never takes it out of its mandate period either.
* **Deadlines.** The deadline (``MM-DD``, clamped to the month's end: 02-29 is 28 February in a
  common year) is moved with ``cal.adjust``; the cycle opens ``lead`` before it (whole days,
  ``Nwd`` in working days), moved with ``cal.adjust``. The opening can fall in the year before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from tsk_workflow.calendar import WorkCalendar, mandate_period
from tsk_workflow.definitions.durations import Duration, parse_duration
from tsk_workflow.definitions.model import (
    DeadlineSchedule,
    EveryOtherYearSchedule,
    ManualSchedule,
    MonthlySchedule,
    PerAreaSchedule,
    RestartSchedule,
    RotationSchedule,
    Schedule,
    TimesAYearSchedule,
    YearlySchedule,
)
from tsk_workflow.i18n import N_, _

WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4}
SLOT_DAYS = 28
"""Every month counts as this many days when occurrences are spread (day 1..28 always exists)."""
ALL_MONTHS = tuple(range(1, 13))
MANDATE_YEARS = 4
SEARCH_YEARS = 12
"""``next_occurrence_after`` looks this many years ahead (enough for any lead under ten years)."""

Slot = tuple[int, int]
"""A (month, day) in every year."""


@dataclass(frozen=True)
class Occurrence:
    """One scheduled opening of a cycle.

    ``period`` names it within its schedule: ``2027-03`` (monthly), ``2027-t1`` .. (times a year,
    rotation: the occurrence's number in the year), ``2027`` (yearly, every other year, per area,
    deadline). ``subject`` is the town or area key for rotation and per-area schedules.
    ``deadline`` is the (working-day) deadline of a ``yearly_deadline`` schedule.
    """

    date: dt.date
    subject: str | None
    period: str
    deadline: dt.date | None = None


def occurrences(
    schedule: Schedule,
    cal: WorkCalendar,
    year: int,
    *,
    towns: Sequence[str] = (),
    areas: Sequence[str] = (),
    start_year: int | None = None,
) -> list[Occurrence]:
    """The occurrences of ``schedule`` for ``year``, in date order.

    ``start_year`` is the first year the schedule runs: earlier years have none, and a rotation
    starting in the middle of a mandate period starts from the first town. Manual and restart
    schedules have none. Raises ``ValueError`` when a rotation or per-area schedule has no
    subjects, or a rotation cannot reach every subject within a mandate period.
    """
    if start_year is not None and year < start_year:
        return []
    found = _occurrences(schedule, cal, year, towns, areas, start_year)
    return sorted(found, key=_order)


def next_occurrence_after(
    schedule: Schedule,
    cal: WorkCalendar,
    after: dt.date,
    *,
    towns: Sequence[str] = (),
    areas: Sequence[str] = (),
    start_year: int | None = None,
) -> Occurrence | None:
    """The first occurrence on a date strictly after ``after``; ``None`` for schedules without
    occurrences (manual, restart)."""
    if isinstance(schedule, ManualSchedule | RestartSchedule):
        return None
    first = max(after.year - 1, start_year if start_year is not None else after.year - 1)
    for year in range(first, first + SEARCH_YEARS):
        # Later years never start before this one ends, save for an occurrence moved across
        # New Year; looking at the next year too covers that.
        later = [
            occurrence
            for y in (year, year + 1)
            for occurrence in occurrences(
                schedule, cal, y, towns=towns, areas=areas, start_year=start_year
            )
            if occurrence.date > after
        ]
        if later:
            return min(later, key=_order)
    return None


def _order(occurrence: Occurrence) -> dt.date:
    # By date only: the sort is stable, so occurrences on one date keep the order in which the
    # schedule made them (``2027-t10`` after ``2027-t9``, which text order would not give).
    return occurrence.date


def _occurrences(
    schedule: Schedule,
    cal: WorkCalendar,
    year: int,
    towns: Sequence[str],
    areas: Sequence[str],
    start_year: int | None,
) -> list[Occurrence]:
    match schedule:
        case MonthlySchedule():
            return _monthly(schedule, cal, year)
        case TimesAYearSchedule():
            return _times_a_year(schedule, cal, year)
        case YearlySchedule():
            return [_once(cal, dt.date(year, schedule.month, schedule.day))]
        case EveryOtherYearSchedule():
            return _every_other_year(schedule, cal, year)
        case RotationSchedule():
            subjects = _subjects(schedule.over, towns, areas)
            return _rotation(schedule, cal, year, subjects, start_year)
        case PerAreaSchedule():
            return _per_area(schedule, cal, year, _subjects(schedule.over, towns, areas))
        case DeadlineSchedule():
            return [_deadline(schedule, cal, year)]
        case _:
            return []


# --- dates ----------------------------------------------------------------------------------


def on_working_day(
    cal: WorkCalendar, d: dt.date, bounds: tuple[dt.date, dt.date] | None = None
) -> dt.date:
    """``d`` moved off a non-working day with ``cal.adjust``, the other way if that leaves
    ``bounds`` (by default ``d``'s month), and the calendar's way after all if neither stays."""
    first, last = bounds or month_of(d)
    moved = cal.adjust(d)
    if first <= moved <= last:
        return moved
    other = cal.adjust(d, "after" if cal.shift == "before" else "before")
    return other if first <= other <= last else moved


def month_of(d: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of ``d``'s month."""
    return d.replace(day=1), d + relativedelta(day=31)


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The ``nth`` (1..4, or -1 for the last) ``weekday`` (0 is Monday) of the month."""
    first, last = month_of(dt.date(year, month, 1))
    if nth < 0:
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def spread(n: int, months: Sequence[int]) -> list[Slot]:
    """``n`` (month, day) slots spread evenly over ``months``, each counted as 28 days.

    The ``k``-th slot is in the middle of the ``k``-th of ``n`` equal parts (rounded down), so
    one slot per month falls on the 15th. With ``n <= len(months)`` the months are distinct.
    """
    span = len(months) * SLOT_DAYS
    positions = ((2 * k + 1) * span // (2 * n) for k in range(n))
    return [(months[p // SLOT_DAYS], p % SLOT_DAYS + 1) for p in positions]


def outside_summer(cal: WorkCalendar) -> tuple[int, ...]:
    """The months outside the calendar's summer (all twelve if the summer is the whole year)."""
    outside = tuple(month for month in ALL_MONTHS if month not in cal.summer_months)
    return outside or ALL_MONTHS


def _dates(year: int, slots: Sequence[Slot]) -> Iterator[dt.date]:
    return (dt.date(year, month, day) for month, day in slots)


def _once(cal: WorkCalendar, nominal: dt.date) -> Occurrence:
    return Occurrence(on_working_day(cal, nominal), None, str(nominal.year))


# --- the kinds ------------------------------------------------------------------------------


def _monthly(schedule: MonthlySchedule, cal: WorkCalendar, year: int) -> list[Occurrence]:
    months = [month for month in ALL_MONTHS if month not in schedule.except_months]
    return [
        Occurrence(on_working_day(cal, _monthly_date(schedule, year, month)), None, period)
        for month in months
        for period in [f"{year}-{month:02d}"]
    ]


def _monthly_date(schedule: MonthlySchedule, year: int, month: int) -> dt.date:
    if schedule.day is not None:
        return dt.date(year, month, schedule.day)
    if schedule.weekday is None:
        raise ValueError(_("a monthly schedule needs a day or a weekday"))
    return nth_weekday(year, month, WEEKDAYS[schedule.weekday], schedule.nth)


def _times_a_year(schedule: TimesAYearSchedule, cal: WorkCalendar, year: int) -> list[Occurrence]:
    if schedule.months is not None:
        months = sorted(set(schedule.months))
    else:
        months = [month for month, _ in spread(schedule.times, _month_pool(cal, schedule.times))]
    return [
        Occurrence(on_working_day(cal, dt.date(year, month, schedule.day)), None, f"{year}-t{i}")
        for i, month in enumerate(months, 1)
    ]


def _month_pool(cal: WorkCalendar, n: int) -> tuple[int, ...]:
    """The months outside the summer, or all twelve when fewer than ``n`` are left."""
    outside = outside_summer(cal)
    return outside if len(outside) >= n else ALL_MONTHS


def _every_other_year(
    schedule: EveryOtherYearSchedule, cal: WorkCalendar, year: int
) -> list[Occurrence]:
    if (year % 2 == 0) != (schedule.years == "even"):
        return []
    return [_once(cal, dt.date(year, schedule.month, schedule.day))]


def _per_area(
    schedule: PerAreaSchedule, cal: WorkCalendar, year: int, subjects: Sequence[str]
) -> list[Occurrence]:
    slots = spread(len(subjects), sorted(set(schedule.months)))
    return [
        Occurrence(on_working_day(cal, nominal), subject, str(year))
        for subject, nominal in zip(subjects, _dates(year, slots), strict=True)
    ]


def _deadline(schedule: DeadlineSchedule, cal: WorkCalendar, year: int) -> Occurrence:
    month, day = (int(part) for part in schedule.deadline.split("-"))
    deadline = cal.adjust(dt.date(year, month, 1) + relativedelta(day=day))
    opening = _opening(deadline, parse_duration(schedule.lead), cal)
    return Occurrence(opening, None, str(year), deadline)


def _opening(deadline: dt.date, lead: Duration, cal: WorkCalendar) -> dt.date:
    """``lead`` before ``deadline``: working days, or whole calendar days (hours are ignored)."""
    if lead.working_days is not None:
        return cal.add_working_days(deadline, -lead.working_days)
    delta = lead.delta or relativedelta()
    days = relativedelta(years=delta.years, months=delta.months, days=delta.days)
    return cal.adjust(deadline - days)


# --- rotation -------------------------------------------------------------------------------


def _subjects(over: str, towns: Sequence[str], areas: Sequence[str]) -> Sequence[str]:
    subjects = towns if over == "towns" else areas
    if not subjects:
        message = (
            N_("a schedule over towns needs the organisation to list its towns")
            if over == "towns"
            else N_("a schedule over areas needs the organisation to list its areas")
        )
        raise ValueError(_(message))
    return subjects


def _rotation(
    schedule: RotationSchedule,
    cal: WorkCalendar,
    year: int,
    subjects: Sequence[str],
    start_year: int | None,
) -> list[Occurrence]:
    _check_rotation(schedule, subjects)
    slots = rotation_slots(schedule, cal)
    return [
        Occurrence(_rotation_day(cal, nominal), subject, f"{year}-t{i + 1}")
        for i, nominal in enumerate(_dates(year, slots))
        for subject in [subjects[_rotation_index(slots, year, i, start_year) % len(subjects)]]
    ]


def _rotation_day(cal: WorkCalendar, nominal: dt.date) -> dt.date:
    """The working day of a rotation occurrence: it stays in its month and its mandate period,
    so a walk set for 15 October is never moved back into the previous period."""
    month, period = month_of(nominal), mandate_period(nominal)
    return on_working_day(cal, nominal, (max(month[0], period[0]), min(month[1], period[1])))


def _check_rotation(schedule: RotationSchedule, subjects: Sequence[str]) -> None:
    per_period = schedule.per_year * MANDATE_YEARS
    if per_period < len(subjects):
        message = (
            N_(
                "{per_year} a year is {per_period} per mandate period, too few to reach all {n} towns"
            )
            if schedule.over == "towns"
            else N_(
                "{per_year} a year is {per_period} per mandate period, too few to reach all {n} areas"
            )
        )
        raise ValueError(
            _(message).format(per_year=schedule.per_year, per_period=per_period, n=len(subjects))
        )


def rotation_slots(schedule: RotationSchedule, cal: WorkCalendar) -> list[Slot]:
    """The (month, day) of each of the ``per_year`` occurrences, in every year."""
    months = sorted(set(schedule.months)) if schedule.months else outside_summer(cal)
    return spread(schedule.per_year, months)


def _rotation_index(slots: Sequence[Slot], year: int, i: int, start_year: int | None) -> int:
    """How many occurrences of its mandate period (and since ``start_year``) come before the
    ``i``-th of ``year``."""
    anchor = mandate_period(dt.date(year, *slots[i]))[0]
    if start_year is not None:
        anchor = max(anchor, dt.date(start_year, 1, 1))
    before = (d for y in range(anchor.year, year) for d in _dates(y, slots))
    return sum(d >= anchor for d in (*before, *_dates(year, slots[:i])))

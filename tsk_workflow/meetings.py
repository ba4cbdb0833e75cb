"""Meeting dates of a body that meets (KLG, KS, KF, the styrgrupp): listed dates and an iCalendar
RRULE. Pure."""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr

from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.organisation.model import Meetings


def meeting_dates(
    meetings: Meetings, start: dt.date, end: dt.date, cal: WorkCalendar | None = None
) -> list[dt.date]:
    """Every meeting date from ``start`` to ``end`` (both included), sorted.

    With a calendar, a date the rule puts on a holiday (KS on the first Wednesday: 6 January)
    moves to a working day by the municipality's rule; listed dates are taken as they are.
    """
    dates = {d for d in meetings.dates if start <= d <= end}
    if meetings.rrule:
        rule = rrulestr(meetings.rrule, dtstart=dt.datetime(start.year - 1, 1, 1), forceset=True)
        first = dt.datetime.combine(start - dt.timedelta(days=7), dt.time())
        last = dt.datetime.combine(end + dt.timedelta(days=7), dt.time(23, 59))
        ruled = (moment.date() for moment in rule.between(first, last, inc=True))
        dates |= {d for d in (cal.adjust(r) if cal else r for r in ruled) if start <= d <= end}
    return sorted(dates)


def next_meeting(
    meetings: Meetings, earliest: dt.date, cal: WorkCalendar | None = None
) -> dt.date | None:
    """The first meeting on or after ``earliest`` within two years, or None."""
    found = meeting_dates(meetings, earliest, earliest + dt.timedelta(days=731), cal)
    return found[0] if found else None


def has_calendar(meetings: Meetings) -> bool:
    """Whether ``meetings`` says when the body meets (listed dates or a rule)."""
    return bool(meetings.dates or meetings.rrule)


def around(
    meetings: Meetings, day: dt.date, cal: WorkCalendar | None = None
) -> tuple[dt.date | None, dt.date | None]:
    """The last meeting before ``day`` and the first after it (within a year), None where there
    is none: what a refusal of a date that is no meeting names."""
    year = dt.timedelta(days=366)
    before = meeting_dates(meetings, day - year, day - dt.timedelta(days=1), cal)
    after = meeting_dates(meetings, day + dt.timedelta(days=1), day + year, cal)
    return (before[-1] if before else None, after[0] if after else None)

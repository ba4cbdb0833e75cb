"""Meeting dates of KLG, KS and KF: listed dates and an iCalendar RRULE. Pure."""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr

from tsk_workflow.organisation.model import Meetings


def meeting_dates(meetings: Meetings, start: dt.date, end: dt.date) -> list[dt.date]:
    """Every meeting date from ``start`` to ``end`` (both included), sorted."""
    dates = {d for d in meetings.dates if start <= d <= end}
    if meetings.rrule:
        rule = rrulestr(meetings.rrule, dtstart=dt.datetime(start.year - 1, 1, 1), forceset=True)
        first = dt.datetime.combine(start, dt.time())
        last = dt.datetime.combine(end, dt.time(23, 59))
        dates |= {moment.date() for moment in rule.between(first, last, inc=True)}
    return sorted(dates)


def next_meeting(meetings: Meetings, earliest: dt.date) -> dt.date | None:
    """The first meeting on or after ``earliest`` within two years, or None."""
    found = meeting_dates(meetings, earliest, earliest + dt.timedelta(days=731))
    return found[0] if found else None

"""Dates and times as people read them in a mail, in the language spoken.

Small on purpose: the calendar module has the arithmetic and the names of days and months (from
the catalogue); these only format. Values may be ``date``/``datetime`` objects or ISO 8601
strings (a context that went through JSON in the outbox comes back with strings). Datetimes are
shown in their own time zone, so the caller passes them already in the municipality's time zone.
A mail is rendered inside ``i18n.speaking(reader's language)``, so the dates are in the reader's
language; ``lang`` asks for one outright.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, time

from tsk_workflow import i18n
from tsk_workflow.calendar import format_long, month_name, weekday_name
from tsk_workflow.i18n import _


def as_date(value: date | str) -> date:
    """The calendar day of a date, a datetime or an ISO 8601 string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def as_time(value: datetime | time | str) -> time:
    """The time of day of a datetime, a time or an ISO 8601 string (date and time, or time)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).time() if "T" in value else time.fromisoformat(value)
    return value.time() if isinstance(value, datetime) else value


def iso_date(value: date | str) -> str:
    """``2027-03-14``: how Swedes write a date, in either language."""
    return as_date(value).isoformat()


def long_date(value: date | str, lang: str | None = None, *, week: bool = True) -> str:
    """``fredag 12 mars 2027, vecka 10`` (sv) or ``Friday 12 March 2027, week 10`` (en), in
    ``lang`` or the language spoken; ``week=False`` leaves the week out.

    The week is the ISO week, as used in Sweden; an unknown language gives Swedish.
    """
    day = as_date(value)
    with _speaking(lang):
        if week:
            return format_long(day)
        return _("{weekday} {day} {month} {year}").format(
            weekday=weekday_name(day), day=day.day, month=month_name(day.month), year=day.year
        )


def clock(value: datetime | time | str) -> str:
    """``14:00`` (24-hour clock, as in both Swedish and Swedish-English use)."""
    return as_time(value).strftime("%H:%M")


def _speaking(lang: str | None) -> AbstractContextManager[None]:
    """Speak ``lang`` (one tsk does not speak is Swedish), or the language spoken (None)."""
    if lang is None:
        return nullcontext()
    return i18n.speaking(lang if lang in i18n.LANGUAGES else i18n.DEFAULT)

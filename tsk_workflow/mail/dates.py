"""Dates and times as people read them in a mail, in Swedish or English.

Small and self-contained on purpose: the calendar module has its own arithmetic; these only
format. Values may be ``date``/``datetime`` objects or ISO 8601 strings (a context that went
through JSON in the outbox comes back with strings). Datetimes are shown in their own time zone,
so the caller passes them already in the municipality's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time

WEEKDAYS = {
    "sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "sv": (
        "januari", "februari", "mars", "april", "maj", "juni",
        "juli", "augusti", "september", "oktober", "november", "december",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
WEEK_WORD = {"sv": "vecka", "en": "week"}


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
    """``2027-03-14``."""
    return as_date(value).isoformat()


def long_date(value: date | str, lang: str = "sv", *, week: bool = True) -> str:
    """``fredag 12 mars 2027, vecka 10`` (sv) or ``Friday 12 March 2027, week 10`` (en).

    The week is the ISO week, as used in Sweden; an unknown language gives Swedish.
    """
    lang = lang if lang in WEEKDAYS else "sv"
    day = as_date(value)
    text = f"{WEEKDAYS[lang][day.weekday()]} {day.day} {MONTHS[lang][day.month - 1]} {day.year}"
    return f"{text}, {WEEK_WORD[lang]} {day.isocalendar().week}" if week else text


def clock(value: datetime | time | str) -> str:
    """``14:00`` (24-hour clock, as in both Swedish and Swedish-English use)."""
    return as_time(value).strftime("%H:%M")

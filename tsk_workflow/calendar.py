"""Swedish working days, durations on the clock, mandate periods and dates for people.

Pure: nothing here reads the system clock or does I/O; every date and time is passed in.

Rules worth knowing:

* Non-working days are Saturdays, Sundays, the public holidays of the ``holidays`` package
  (country SE), midsommarafton, julafton and nyårsafton (days off in practice), and the
  municipality's own ``closed_days``.
* Calendar durations (``P1D``, ``P1M``, ``P2W``) are applied in local wall time, so a day keeps
  the local clock time across a daylight saving change; clock durations (``PT2H``) are elapsed
  time. Working-day durations (``3wd``) move the local date and keep the local clock time.
* A mandate period runs from 15 October of an election year (2022, 2026, 2030, ...) to
  14 October four years later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from tsk_workflow import i18n
from tsk_workflow.definitions.durations import Duration
from tsk_workflow.i18n import N_, _

STOCKHOLM = ZoneInfo("Europe/Stockholm")

Shift = Literal["before", "after"]

REMINDER_TIME = time(8, 0)
"""A reminder "on the day" (``0wd``) goes out at this local time."""

MAX_SEARCH_DAYS = 366
"""How far ``adjust`` looks for a working day before giving up (only reachable with absurd
``closed_days``)."""

ELECTION_YEAR = 2022
MANDATE_YEARS = 4
MANDATE_START = (10, 15)

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
"""The days of the week, Monday first, in English: ``weekday_name`` translates them."""
MONTHS = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)
"""The months, January first, in English: ``month_name`` translates them."""
WEEKDAYS_EN, MONTHS_EN = WEEKDAYS, MONTHS
WEEKDAYS_SV = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
"""The Swedish days of the week, for ``non_working_reason`` (always Swedish, like the holidays'
names) and the modules that still choose by ``lang`` themselves; ``weekday_name`` is the one to
use."""
MONTHS_SV = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)
"""The Swedish months, for the modules that still choose by ``lang`` themselves; ``month_name``
is the one to use."""
SUNDAY_NAME = "Söndag"
"""The name ``holidays`` gives every Sunday when asked to (older versions did so by default);
such entries are dropped: Sundays are non-working days anyway, with "söndag" as the reason."""


# --- holidays -------------------------------------------------------------------------------


@cache
def holidays_in(year: int) -> Mapping[date, str]:
    """The Swedish days off of ``year`` with their Swedish names (weekends not included).

    Cached per year: the package builds its table on every construction, which is far too slow
    for the thousands of timer computations a scheduler pass can make.
    """
    # Imported here: the package imports every country it knows (about 80 ms), and most
    # commands never ask for a working day.
    from holidays.countries.sweden import Sweden

    public = Sweden(years=year, language="sv", include_sundays=False)
    days = {day: name for day, raw in public.items() if (name := _without_sundays(raw))}
    for day, name in _eves(year).items():
        days.setdefault(day, name)
    return MappingProxyType(days)


def _without_sundays(name: str) -> str:
    """``name`` without a "Söndag" part (a day with several holidays has their names joined)."""
    parts = re.split(r"[;,] ", name)
    return "; ".join(part for part in parts if part.strip() != SUNDAY_NAME)


def _eves(year: int) -> dict[date, str]:
    """Midsommarafton (the Friday from 19 to 25 June), julafton and nyårsafton."""
    june_19 = date(year, 6, 19)
    midsummer_eve = june_19 + timedelta(days=(4 - june_19.weekday()) % 7)
    return {
        midsummer_eve: "Midsommarafton",
        date(year, 12, 24): "Julafton",
        date(year, 12, 31): "Nyårsafton",
    }


# --- the calendar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkCalendar:
    """The working days of one municipality.

    ``shift`` says where a date that falls on a non-working day goes: to the nearest working day
    ``before`` it (the default: a deadline is never moved later) or ``after`` it.
    ``summer_months`` are the municipality's summer holiday months; schedules that spread their
    cycles over the year avoid them.
    """

    timezone: str = "Europe/Stockholm"
    closed_days: frozenset[date] = frozenset()
    shift: Shift = "before"
    summer_months: tuple[int, ...] = (7,)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.timezone!r}") from error
        if self.shift not in ("before", "after"):
            raise ValueError(f"shift must be 'before' or 'after', not {self.shift!r}")
        if any(not 1 <= month <= 12 for month in self.summer_months):
            raise ValueError(f"summer months must be 1..12: {self.summer_months}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in holidays_in(d.year) and d not in self.closed_days

    def non_working_reason(self, d: date) -> str | None:
        """Why ``d`` is not a working day, in Swedish: the holiday's name, "lördag", "söndag"
        or "stängd dag"; ``None`` on a working day. A holiday's name wins over the weekday."""
        name = holidays_in(d.year).get(d)
        if name is not None:
            return name
        if d.weekday() >= 5:
            return WEEKDAYS_SV[d.weekday()]
        return "stängd dag" if d in self.closed_days else None

    def is_summer(self, d: date) -> bool:
        return d.month in self.summer_months

    def adjust(self, d: date, shift: Shift | None = None) -> date:
        """``d`` itself on a working day, else the nearest working day before or after it
        (``shift``, by default the calendar's setting)."""
        step = timedelta(days=-1 if (shift or self.shift) == "before" else 1)
        day = d
        for _attempt in range(MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                return day
            day += step
        raise ValueError(
            _("no working day within {days} days of {date}").format(days=MAX_SEARCH_DAYS, date=d)
        )

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (before it when ``n`` is negative); ``d`` itself
        never counts, so a Saturday plus one working day is the Monday.

        ``n == 0`` gives ``adjust(d)``: ``d`` on a working day, else the nearest working day in
        the direction of the calendar's ``shift``.
        """
        if n == 0:
            return self.adjust(d)
        step = timedelta(days=1 if n > 0 else -1)
        day, left = d, abs(n)
        while left:
            day += step
            left -= self.is_working_day(day)
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """The working days stepped on walking from ``a`` to ``b`` (``a`` excluded, ``b``
        included): those in ``(a, b]`` when ``a <= b``, minus those in ``[b, a)`` otherwise.
        Antisymmetric when ``a`` and ``b`` are both working days.

        The inverse of ``add_working_days``: for a working day ``b``,
        ``add_working_days(a, working_days_between(a, b)) == b``.
        """
        if b < a:
            return -self._count(b, a)
        return self._count(a + timedelta(days=1), b + timedelta(days=1))

    def _count(self, first: date, end: date) -> int:
        """The working days in ``[first, end)``."""
        days = (end - first).days
        return sum(self.is_working_day(first + timedelta(days=i)) for i in range(days))


# --- durations on the clock -----------------------------------------------------------------


def apply_duration(start: datetime, duration: Duration, cal: WorkCalendar) -> datetime:
    """``start`` plus ``duration``, as an aware datetime in the calendar's zone.

    Years, months, weeks and days move the local date and keep the local clock time (``P1D``
    from 10:00 the day before a DST change is 10:00 the next day); hours, minutes and seconds
    are elapsed time. ``Nwd`` moves the local date ``N`` working days on and keeps the clock
    time; ``0wd`` from a non-working day gives the next working day (never a time before
    ``start``). A local time that does not exist (the spring gap) is moved forward an hour.
    """
    local = _to_local(start, cal)
    if duration.working_days is not None:
        n = duration.working_days
        day = cal.add_working_days(local.date(), n) if n else cal.adjust(local.date(), "after")
        return _at(day, local.time(), cal)
    nominal, exact = _split(_delta(duration))
    return _elapsed(_localize(local.replace(tzinfo=None) + nominal, cal), exact, cal)


def before(due: datetime, duration: Duration, cal: WorkCalendar) -> datetime:
    """The time ``duration`` before ``due`` (for reminders), in the calendar's zone.

    ``Nwd`` is ``N`` working days earlier at the same local clock time. ``0wd`` means "on the
    day": 08:00 local on the due date, or on the last working day before it when the due date
    is not a working day; a due time at or before 08:00 gives the due time itself, so a reminder
    never comes after what it reminds of. Calendar durations mirror ``apply_duration``.
    """
    local = _to_local(due, cal)
    if duration.working_days == 0:
        return min(_at(_last_working_day(local.date(), cal), REMINDER_TIME, cal), local)
    if duration.working_days is not None:
        return _at(cal.add_working_days(local.date(), -duration.working_days), local.time(), cal)
    nominal, exact = _split(_delta(duration))
    return _elapsed(_localize(local.replace(tzinfo=None) - nominal, cal), -exact, cal)


def _last_working_day(d: date, cal: WorkCalendar) -> date:
    return cal.adjust(d, "before")


def _delta(duration: Duration) -> relativedelta:
    if duration.delta is None:
        raise ValueError(f"{duration.text!r} has neither a calendar offset nor working days")
    return duration.delta


def _split(delta: relativedelta) -> tuple[relativedelta, timedelta]:
    """The calendar part (years, months, days) and the clock part (hours and less)."""
    nominal = relativedelta(years=delta.years, months=delta.months, days=delta.days)
    exact = timedelta(
        hours=delta.hours,
        minutes=delta.minutes,
        seconds=delta.seconds,
        microseconds=delta.microseconds,
    )
    return nominal, exact


def _elapsed(moment: datetime, delta: timedelta, cal: WorkCalendar) -> datetime:
    """``moment`` plus ``delta`` of real time (aware arithmetic in one zone is wall-clock)."""
    return (moment.astimezone(UTC) + delta).astimezone(cal.zone)


def _to_local(moment: datetime, cal: WorkCalendar) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(cal.zone)


def _at(day: date, clock: time, cal: WorkCalendar) -> datetime:
    return _localize(datetime.combine(day, clock), cal)


def _localize(naive: datetime, cal: WorkCalendar) -> datetime:
    """``naive`` local wall time as an aware datetime; the earlier of a repeated hour, and a
    time in the spring gap moved forward by the gap."""
    aware = naive.replace(tzinfo=cal.zone, fold=0)
    return aware.astimezone(UTC).astimezone(cal.zone)


# --- mandate periods ------------------------------------------------------------------------


def mandate_period(d: date) -> tuple[date, date]:
    """The mandate period holding ``d``: (15 October of an election year, 14 October four years
    later). Election years are 2022 + 4k (the four-year rhythm Sweden has had since 1994)."""
    year = d.year - (d.year - ELECTION_YEAR) % MANDATE_YEARS
    if d < date(year, *MANDATE_START):
        year -= MANDATE_YEARS
    return _period_from(year)


def mandate_periods(start_year: int, end_year: int) -> list[tuple[date, date]]:
    """The mandate periods overlapping the years ``start_year`` to ``end_year`` (both included),
    in order."""
    if end_year < start_year:
        raise ValueError(f"end year {end_year} is before start year {start_year}")
    first, last = mandate_period(date(start_year, 1, 1)), mandate_period(date(end_year, 12, 31))
    years = range(first[0].year, last[0].year + 1, MANDATE_YEARS)
    return [_period_from(year) for year in years]


def _period_from(election_year: int) -> tuple[date, date]:
    start = date(election_year, *MANDATE_START)
    return start, date(election_year + MANDATE_YEARS, *MANDATE_START) - timedelta(days=1)


# --- dates for people -----------------------------------------------------------------------


def format_date_sv(d: date) -> str:
    """``2027-03-14``: the Swedish short form is ISO 8601."""
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


FIRST_YEAR = 1900
LAST_YEAR = 9000
"""The years of the dates and times tsk takes from people (``--now``, ``TSK_NOW``, a date
option, an answer). Python's dates end at the years 1 and 9999; a time zone's offset, a year of
recurrence, the plan of the year after or a mandate period added to a date in these years
cannot reach either end."""


class OutsideYears(ValueError):
    """A date that exists but is outside ``FIRST_YEAR`` to ``LAST_YEAR``; its message says so."""


def check_years(day: date, text: str) -> None:
    """``OutsideYears`` when ``day`` (written ``text``) is outside the years tsk takes."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise OutsideYears(
            _("{date}: tsk takes dates in the years {first} to {last}").format(
                date=text, first=FIRST_YEAR, last=LAST_YEAR
            )
        )


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` as a date, or ``ValueError`` with a message for people: a date written
    right that does not exist (``2027-02-30``) says so, one outside the years tsk takes
    (``check_years``) too, anything else names the form expected."""
    text = text.strip()
    if ISO_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(date_does_not_exist(text)) from None
        check_years(day, text)
        return day
    raise ValueError(_("{value} is not a date (YYYY-MM-DD)").format(value=repr(text)))


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
"""A date as ``parse_date`` reads it (whether it exists or not)."""


def date_does_not_exist(text: str) -> str:
    """``2027-02-30: det datumet finns inte``, in the language spoken."""
    return _("{date}: that date does not exist").format(date=text)


def weekday_name(d: date | int, lang: str | None = None) -> str:
    """The day of the week of ``d`` (a date, or 0 for Monday), in ``lang`` (by default the
    language spoken): ``söndag``, ``Sunday``."""
    index = d if isinstance(d, int) else d.weekday()
    with _speaking(lang):
        return _(WEEKDAYS[index])


def month_name(month: int, lang: str | None = None) -> str:
    """The name of ``month`` (1 is January) in ``lang`` (by default the language spoken):
    ``mars``, ``March``."""
    with _speaking(lang):
        return _(MONTHS[month - 1])


def _speaking(lang: str | None) -> AbstractContextManager[None]:
    """Speak ``lang`` ("en", anything else is Swedish), or keep the language spoken (None)."""
    if lang is None:
        return nullcontext()
    return i18n.speaking("en" if lang == "en" else "sv")


def format_long_sv(d: date) -> str:
    """``söndag 14 mars 2027, vecka 10`` (ISO week number)."""
    return format_long(d, "sv")


def format_long_en(d: date) -> str:
    """``Sunday 14 March 2027, week 10`` (ISO week number)."""
    return format_long(d, "en")


def format_long(d: date, lang: str | None = None) -> str:
    """The long form in ``lang`` ("en", anything else is Swedish; by default the language
    spoken): ``söndag 14 mars 2027, vecka 10``."""
    with _speaking(lang):
        return _("{weekday} {day} {month} {year}, {week}").format(
            weekday=weekday_name(d),
            day=d.day,
            month=month_name(d.month),
            year=d.year,
            week=week_label(d),
        )


def week_label(d: date, lang: str | None = None) -> str:
    """``vecka 11`` or ``week 11`` (``lang``, by default the language spoken): the ISO week
    number, as Swedish calendars show it."""
    with _speaking(lang):
        return _("week {number}").format(number=d.isocalendar().week)

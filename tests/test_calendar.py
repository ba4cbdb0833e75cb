"""The pure time layer: Swedish working days, durations on the clock, mandate periods, formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsk_workflow import i18n
from tsk_workflow.calendar import (
    MONTHS_EN,
    MONTHS_SV,
    STOCKHOLM,
    WEEKDAYS_SV,
    WorkCalendar,
    apply_duration,
    before,
    format_date_sv,
    format_long,
    format_long_en,
    format_long_sv,
    holidays_in,
    mandate_period,
    mandate_periods,
    month_name,
    parse_date,
    week_label,
    weekday_name,
)
from tsk_workflow.definitions.durations import parse_duration

CAL = WorkCalendar()
AFTER = WorkCalendar(shift="after")
days_2026_2035 = st.dates(min_value=date(2026, 1, 1), max_value=date(2035, 12, 31))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def hours_between(start: datetime, end: datetime) -> float:
    """Elapsed hours (subtracting two datetimes of one zone gives wall-clock time)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600


# --- holidays and working days ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 1, 1), "Nyårsdagen"),
        (date(2027, 1, 6), "Trettondedag jul"),
        (date(2027, 3, 26), "Långfredagen"),
        (date(2027, 3, 28), "Påskdagen"),
        (date(2027, 3, 29), "Annandag påsk"),
        (date(2027, 5, 1), "Första maj"),
        (date(2027, 5, 6), "Kristi himmelsfärdsdag"),
        (date(2027, 6, 6), "Nationaldagen"),
        (date(2027, 6, 25), "Midsommarafton"),
        (date(2027, 6, 26), "Midsommardagen"),
        (date(2027, 11, 6), "Alla helgons dag"),
        (date(2027, 12, 24), "Julafton"),
        (date(2027, 12, 25), "Juldagen"),
        (date(2027, 12, 26), "Annandag jul"),
        (date(2027, 12, 31), "Nyårsafton"),
        (date(2026, 6, 19), "Midsommarafton"),
        (date(2028, 6, 6), "Nationaldagen"),
    ],
)
def test_swedish_days_off_are_not_working_days(day: date, name: str) -> None:
    assert not CAL.is_working_day(day)
    assert CAL.non_working_reason(day) == name


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 1, 5),  # trettondagsafton
        date(2027, 3, 25),  # skärtorsdagen
        date(2027, 4, 30),  # valborgsmässoafton
        date(2027, 5, 7),  # klämdag after Kristi himmelsfärd
        date(2027, 6, 24),  # the day before midsommarafton
        date(2027, 12, 23),
        date(2027, 12, 27),
        date(2027, 12, 30),
    ],
)
def test_eves_of_minor_holidays_and_bridge_days_are_working_days(day: date) -> None:
    assert CAL.is_working_day(day)
    assert CAL.non_working_reason(day) is None


def test_weekends_are_named_by_their_weekday() -> None:
    assert CAL.non_working_reason(date(2027, 3, 13)) == "lördag"
    assert CAL.non_working_reason(date(2027, 3, 14)) == "söndag"
    assert not CAL.is_working_day(date(2027, 3, 14))


def test_ordinary_sundays_are_not_listed_as_holidays() -> None:
    days = holidays_in(2027)
    assert date(2027, 3, 14) not in days
    assert len(days) == 16
    assert holidays_in(2027) is days  # cached per year


def test_closed_days_are_not_working_days() -> None:
    cal = WorkCalendar(closed_days=frozenset({date(2027, 5, 7)}))
    assert not cal.is_working_day(date(2027, 5, 7))
    assert cal.non_working_reason(date(2027, 5, 7)) == "stängd dag"
    assert cal.adjust(date(2027, 5, 7)) == date(2027, 5, 5)


@given(st.integers(min_value=2000, max_value=2100))
def test_midsummer_eve_is_the_friday_from_19_to_25_june(year: int) -> None:
    eves = [d for d, name in holidays_in(year).items() if name == "Midsommarafton"]
    assert len(eves) == 1
    assert eves[0].weekday() == 4
    assert date(year, 6, 19) <= eves[0] <= date(year, 6, 25)


@given(days_2026_2035)
def test_weekends_never_are_working_days(day: date) -> None:
    if day.weekday() >= 5:
        assert not CAL.is_working_day(day)
        assert CAL.non_working_reason(day) is not None


def test_calendar_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="shift"):
        WorkCalendar(shift="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="summer"):
        WorkCalendar(summer_months=(13,))
    with pytest.raises(ValueError, match="Mars/Olympus"):
        WorkCalendar(timezone="Mars/Olympus")


def test_zone() -> None:
    assert CAL.zone == ZoneInfo("Europe/Stockholm") == STOCKHOLM
    assert WorkCalendar(timezone="Europe/Helsinki").zone == ZoneInfo("Europe/Helsinki")


# --- shifting and working-day arithmetic ----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "earlier", "later"),
    [
        (date(2027, 3, 28), date(2027, 3, 25), date(2027, 3, 30)),  # Easter
        (date(2027, 12, 25), date(2027, 12, 23), date(2027, 12, 27)),  # Christmas
        (date(2027, 12, 31), date(2027, 12, 30), date(2028, 1, 3)),  # New Year
        (date(2027, 6, 25), date(2027, 6, 24), date(2027, 6, 28)),  # Midsummer
        (date(2027, 3, 15), date(2027, 3, 15), date(2027, 3, 15)),  # a working Monday
    ],
)
def test_adjust_moves_to_the_nearest_working_day(day: date, earlier: date, later: date) -> None:
    assert CAL.adjust(day) == earlier
    assert CAL.adjust(day, "after") == later
    assert AFTER.adjust(day) == later
    assert AFTER.adjust(day, "before") == earlier


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2027, 3, 25), 1, date(2027, 3, 30)),
        (date(2027, 3, 30), -1, date(2027, 3, 25)),
        (date(2027, 3, 24), 3, date(2027, 3, 31)),
        (date(2027, 12, 23), 1, date(2027, 12, 27)),
        (date(2027, 12, 23), 4, date(2027, 12, 30)),
        (date(2027, 12, 23), 5, date(2028, 1, 3)),
        (date(2028, 1, 3), -5, date(2027, 12, 23)),
        (date(2027, 3, 13), 1, date(2027, 3, 15)),  # Saturday + 1 = Monday
        (date(2027, 3, 14), -1, date(2027, 3, 12)),  # Sunday - 1 = Friday
        (date(2027, 3, 15), 10, date(2027, 3, 31)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert CAL.add_working_days(start, n) == expected


def test_zero_working_days_is_adjust() -> None:
    assert CAL.add_working_days(date(2027, 3, 15), 0) == date(2027, 3, 15)
    assert CAL.add_working_days(date(2027, 3, 28), 0) == date(2027, 3, 25)
    assert AFTER.add_working_days(date(2027, 3, 28), 0) == date(2027, 3, 30)


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2027, 3, 25), date(2027, 3, 30)) == 1
    assert CAL.working_days_between(date(2027, 3, 30), date(2027, 3, 25)) == -1
    assert CAL.working_days_between(date(2027, 12, 23), date(2028, 1, 3)) == 5
    assert CAL.working_days_between(date(2027, 3, 15), date(2027, 3, 15)) == 0
    assert CAL.working_days_between(date(2027, 1, 1), date(2027, 12, 31)) == 253


@given(days_2026_2035, st.integers(min_value=-60, max_value=60).filter(bool))
def test_add_working_days_lands_on_a_working_day_and_counts_back(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.is_working_day(end)
    assert (end > start) == (n > 0)
    assert CAL.working_days_between(start, end) == n


@given(days_2026_2035, days_2026_2035)
def test_working_days_between_is_the_inverse_of_adding(a: date, b: date) -> None:
    b = CAL.adjust(b)
    assert CAL.add_working_days(a, CAL.working_days_between(a, b)) == b
    a = CAL.adjust(a)
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)


@given(days_2026_2035)
def test_adjust_gives_the_nearest_working_day(day: date) -> None:
    earlier, later = CAL.adjust(day, "before"), CAL.adjust(day, "after")
    assert CAL.is_working_day(earlier)
    assert CAL.is_working_day(later)
    assert earlier <= day <= later
    between = [earlier + timedelta(days=i) for i in range(1, (later - earlier).days)]
    assert not any(CAL.is_working_day(d) for d in between)


# --- durations on the clock -----------------------------------------------------------------


def test_a_day_keeps_the_local_clock_across_spring_forward() -> None:
    start = local(2027, 3, 27, 10, 0)
    end = apply_duration(start, parse_duration("P1D"), CAL)
    assert end == local(2027, 3, 28, 10, 0)
    assert end.utcoffset() == timedelta(hours=2)
    assert hours_between(start, end) == 23


def test_a_day_keeps_the_local_clock_across_fall_back() -> None:
    start = local(2027, 10, 30, 10, 0)
    end = apply_duration(start, parse_duration("P1D"), CAL)
    assert (end.hour, end.utcoffset()) == (10, timedelta(hours=1))
    assert hours_between(start, end) == 25


def test_hours_are_elapsed_time() -> None:
    start = local(2027, 3, 28, 1, 30)
    end = apply_duration(start, parse_duration("PT2H"), CAL)
    assert hours_between(start, end) == 2
    assert end.astimezone(STOCKHOLM).time() == time(4, 30)


def test_a_time_in_the_spring_gap_moves_forward() -> None:
    end = apply_duration(local(2027, 3, 27, 2, 30), parse_duration("P1D"), CAL)
    assert end.astimezone(STOCKHOLM).replace(tzinfo=None) == datetime(2027, 3, 28, 3, 30)


def test_months_are_calendar_months() -> None:
    end = apply_duration(local(2027, 1, 31, 9, 0), parse_duration("P1M"), CAL)
    assert end == local(2027, 2, 28, 9, 0)
    assert apply_duration(local(2027, 3, 1, 9), parse_duration("P2W"), CAL) == local(2027, 3, 15, 9)


def test_working_days_keep_the_local_clock_across_easter_and_dst() -> None:
    start = local(2027, 3, 25, 14, 0)
    end = apply_duration(start, parse_duration("1wd"), CAL)
    assert end == local(2027, 3, 30, 14, 0)
    assert end.utcoffset() == timedelta(hours=2)
    autumn = apply_duration(local(2027, 10, 29, 9, 0), parse_duration("1wd"), CAL)
    assert (autumn.date(), autumn.hour, autumn.utcoffset()) == (
        date(2027, 11, 1),
        9,
        timedelta(hours=1),
    )


def test_working_days_use_the_local_date_of_a_utc_start() -> None:
    start = datetime(2027, 3, 12, 23, 30, tzinfo=UTC)  # Saturday 00:30 in Stockholm
    end = apply_duration(start, parse_duration("1wd"), CAL)
    assert end == local(2027, 3, 15, 0, 30)
    assert end.tzinfo == STOCKHOLM


def test_zero_working_days_from_a_weekend_is_the_next_working_day() -> None:
    end = apply_duration(local(2027, 3, 13, 10), parse_duration("0wd"), CAL)
    assert end == local(2027, 3, 15, 10)
    same = apply_duration(local(2027, 3, 15, 10), parse_duration("0wd"), CAL)
    assert same == local(2027, 3, 15, 10)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        apply_duration(datetime(2027, 3, 1, 9), parse_duration("P1D"), CAL)
    with pytest.raises(ValueError, match="time zone"):
        before(datetime(2027, 3, 1, 9), parse_duration("1wd"), CAL)


@settings(max_examples=200)
@given(
    days_2026_2035,
    st.integers(min_value=6, max_value=20),
    st.integers(min_value=0, max_value=400),
)
def test_days_keep_the_local_clock(day: date, hour: int, n: int) -> None:
    start = local(day.year, day.month, day.day, hour, 15)
    end = apply_duration(start, parse_duration(f"P{n}D"), CAL)
    assert end.date() == day + timedelta(days=n)
    assert end.time() == time(hour, 15)
    assert before(end, parse_duration(f"P{n}D"), CAL) == start


@settings(max_examples=200)
@given(days_2026_2035, st.integers(min_value=6, max_value=20), st.integers(1, 30))
def test_working_days_keep_the_local_clock(day: date, hour: int, n: int) -> None:
    start = local(day.year, day.month, day.day, hour, 0)
    end = apply_duration(start, parse_duration(f"{n}wd"), CAL)
    assert end.date() == CAL.add_working_days(day, n)
    assert end.time() == time(hour, 0)
    assert before(end, parse_duration(f"{n}wd"), CAL).date() == CAL.add_working_days(end.date(), -n)


# --- reminders ------------------------------------------------------------------------------


def test_reminder_working_days_before_across_easter() -> None:
    due = local(2027, 3, 30, 10, 0)
    assert before(due, parse_duration("1wd"), CAL) == local(2027, 3, 25, 10, 0)
    assert before(due, parse_duration("3wd"), CAL) == local(2027, 3, 23, 10, 0)


def test_reminder_before_christmas() -> None:
    due = local(2027, 12, 27, 12, 0)
    assert before(due, parse_duration("1wd"), CAL) == local(2027, 12, 23, 12, 0)


def test_reminder_on_the_day_is_at_eight() -> None:
    assert before(local(2027, 3, 30, 16, 0), parse_duration("0wd"), CAL) == local(2027, 3, 30, 8, 0)


def test_reminder_on_the_day_never_comes_after_the_due_time() -> None:
    due = local(2027, 3, 30, 7, 30)
    assert before(due, parse_duration("0wd"), CAL) == due


def test_reminder_on_the_day_of_a_weekend_due_is_on_the_working_day_before() -> None:
    due = local(2027, 3, 27, 12, 0)  # Saturday after Good Friday
    assert before(due, parse_duration("0wd"), CAL) == local(2027, 3, 25, 8, 0)


def test_calendar_reminders_keep_the_local_clock_across_dst() -> None:
    assert before(local(2027, 3, 29, 10), parse_duration("P1D"), CAL) == local(2027, 3, 28, 10)
    assert before(local(2027, 3, 28, 10), parse_duration("P1D"), CAL) == local(2027, 3, 27, 10)
    assert before(local(2027, 11, 1, 10), parse_duration("P2D"), CAL) == local(2027, 10, 30, 10)
    assert before(local(2027, 3, 28, 4, 30), parse_duration("PT2H"), CAL) == local(
        2027, 3, 28, 1, 30
    )


# --- mandate periods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (date(2026, 10, 14), (date(2022, 10, 15), date(2026, 10, 14))),
        (date(2026, 10, 15), (date(2026, 10, 15), date(2030, 10, 14))),
        (date(2027, 3, 14), (date(2026, 10, 15), date(2030, 10, 14))),
        (date(2030, 10, 14), (date(2026, 10, 15), date(2030, 10, 14))),
        (date(2030, 12, 31), (date(2030, 10, 15), date(2034, 10, 14))),
        (date(2022, 1, 1), (date(2018, 10, 15), date(2022, 10, 14))),
    ],
)
def test_mandate_period(day: date, period: tuple[date, date]) -> None:
    assert mandate_period(day) == period


def test_mandate_periods_overlapping_years() -> None:
    assert mandate_periods(2026, 2034) == [
        (date(2022, 10, 15), date(2026, 10, 14)),
        (date(2026, 10, 15), date(2030, 10, 14)),
        (date(2030, 10, 15), date(2034, 10, 14)),
        (date(2034, 10, 15), date(2038, 10, 14)),
    ]
    assert mandate_periods(2027, 2027) == [(date(2026, 10, 15), date(2030, 10, 14))]
    with pytest.raises(ValueError, match="before"):
        mandate_periods(2030, 2026)


@given(st.dates(min_value=date(1995, 1, 1), max_value=date(2200, 12, 31)))
def test_mandate_period_holds_the_day(day: date) -> None:
    start, end = mandate_period(day)
    assert start <= day <= end
    assert (start.month, start.day, start.year % 4) == (10, 15, 2)
    assert end == date(start.year + 4, 10, 14)
    assert mandate_period(end + timedelta(days=1))[0] == end + timedelta(days=1)


# --- dates for people -----------------------------------------------------------------------


def test_short_swedish_date() -> None:
    assert format_date_sv(date(2027, 3, 14)) == "2027-03-14"
    assert format_date_sv(date(2027, 11, 5)) == "2027-11-05"


@pytest.mark.parametrize(
    ("day", "sv", "en"),
    [
        (date(2027, 3, 14), "söndag 14 mars 2027, vecka 10", "Sunday 14 March 2027, week 10"),
        (date(2027, 3, 15), "måndag 15 mars 2027, vecka 11", "Monday 15 March 2027, week 11"),
        (date(2027, 3, 16), "tisdag 16 mars 2027, vecka 11", "Tuesday 16 March 2027, week 11"),
        (date(2027, 3, 17), "onsdag 17 mars 2027, vecka 11", "Wednesday 17 March 2027, week 11"),
        (date(2027, 3, 18), "torsdag 18 mars 2027, vecka 11", "Thursday 18 March 2027, week 11"),
        (date(2027, 3, 19), "fredag 19 mars 2027, vecka 11", "Friday 19 March 2027, week 11"),
        (date(2027, 3, 20), "lördag 20 mars 2027, vecka 11", "Saturday 20 March 2027, week 11"),
        (date(2027, 1, 1), "fredag 1 januari 2027, vecka 53", "Friday 1 January 2027, week 53"),
        (date(2027, 6, 25), "fredag 25 juni 2027, vecka 25", "Friday 25 June 2027, week 25"),
        (
            date(2027, 12, 31),
            "fredag 31 december 2027, vecka 52",
            "Friday 31 December 2027, week 52",
        ),
        (date(2026, 8, 3), "måndag 3 augusti 2026, vecka 32", "Monday 3 August 2026, week 32"),
    ],
)
def test_long_dates(day: date, sv: str, en: str) -> None:
    assert format_long_sv(day) == sv
    assert format_long_en(day) == en
    assert format_long(day, "sv") == sv
    assert format_long(day, "en") == en


def test_week_label() -> None:
    assert week_label(date(2027, 3, 15)) == "vecka 11"
    assert week_label(date(2027, 3, 15), "sv") == "vecka 11"
    assert week_label(date(2027, 3, 15), "en") == "week 11"
    assert week_label(date(2026, 12, 31), "en") == "week 53"


def test_names_follow_the_language_spoken_unless_one_is_given() -> None:
    day = date(2027, 3, 14)
    assert (weekday_name(day), month_name(3)) == ("söndag", "mars")
    assert format_long(day) == "söndag 14 mars 2027, vecka 10"
    with i18n.speaking("en"):
        assert (weekday_name(day), weekday_name(0), month_name(12)) == (
            "Sunday",
            "Monday",
            "December",
        )
        assert format_long(day) == "Sunday 14 March 2027, week 10"
        assert week_label(day) == "week 10"
        # a language given wins over the one spoken (a mail to someone who reads Swedish)
        assert format_long(day, "sv") == "söndag 14 mars 2027, vecka 10"
        assert (weekday_name(day, "sv"), month_name(5, "sv")) == ("söndag", "maj")
    assert [weekday_name(i) for i in range(7)] == list(WEEKDAYS_SV)
    assert [month_name(m) for m in range(1, 13)] == list(MONTHS_SV)
    assert [month_name(m, "en") for m in range(1, 13)] == list(MONTHS_EN)


@pytest.mark.parametrize("text", ["2027-02-30", "2027-13-01", "2026-02-29", "2027-04-31"])
def test_a_date_that_does_not_exist_says_so(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{text}: det datumet finns inte$"):
        parse_date(text)
    with (
        i18n.speaking("en"),
        pytest.raises(ValueError, match=f"^{text}: that date does not exist$"),
    ):
        parse_date(text)


def test_parse_date() -> None:
    assert parse_date(" 2028-02-29 ") == date(2028, 2, 29)
    for text in ("2027-3-1", "1 mars", "", "2027-03-01T10:00"):
        with pytest.raises(ValueError, match=r"är inget datum \(ÅÅÅÅ-MM-DD\)$"):
            parse_date(text)
    with i18n.speaking("en"), pytest.raises(ValueError, match=r"is not a date \(YYYY-MM-DD\)$"):
        parse_date("1 mars")

"""Recurrence: each schedule kind against an independent oracle built with ``dateutil.rrule``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import FR, MO, MONTHLY, TU, WE, YEARLY, rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from tsk_workflow import i18n
from tsk_workflow.calendar import WorkCalendar, mandate_period
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
from tsk_workflow.recurrence import Occurrence, next_occurrence_after, occurrences, spread

YEARS = range(2026, 2036)
CALENDARS = [
    WorkCalendar(),
    WorkCalendar(shift="after"),
    WorkCalendar(closed_days=frozenset({date(2027, 5, 7), date(2030, 5, 31), date(2031, 1, 2)})),
]
TOWNS = [f"ort{i:02d}" for i in range(1, 13)]
AREAS = ["norra", "sodra", "ostra", "vastra", "mellersta"]


# --- the oracle ---------------------------------------------------------------------------------


def step_to_working(cal: WorkCalendar, day: date, step: int) -> date:
    while not cal.is_working_day(day):
        day += timedelta(days=step)
    return day


def oracle_move(cal: WorkCalendar, day: date, period: tuple[date, date] | None = None) -> date:
    """The rule: the calendar's way, the other way if that leaves the month (or ``period``)."""

    def inside(d: date) -> bool:
        first, last = period or (day, day)
        return d.month == day.month and (period is None or first <= d <= last)

    way = -1 if cal.shift == "before" else 1
    moved = step_to_working(cal, day, way)
    if inside(moved):
        return moved
    other = step_to_working(cal, day, -way)
    return other if inside(other) else moved


def yearly_rule(year: int, **kwargs: object) -> list[date]:
    start, until = datetime(year, 1, 1), datetime(year, 12, 31)
    return [d.date() for d in rrule(YEARLY, dtstart=start, until=until, **kwargs)]  # type: ignore[arg-type]


def monthly_rule(year: int, **kwargs: object) -> list[date]:
    start, until = datetime(year, 1, 1), datetime(year, 12, 31)
    return [d.date() for d in rrule(MONTHLY, dtstart=start, until=until, **kwargs)]  # type: ignore[arg-type]


def dates(found: Iterable[Occurrence]) -> list[date]:
    return [occurrence.date for occurrence in found]


def moved(cal: WorkCalendar, nominal: Iterable[date]) -> list[date]:
    return [oracle_move(cal, day) for day in nominal]


# --- monthly ------------------------------------------------------------------------------------

MONTHLY_CASES: list[tuple[MonthlySchedule, dict[str, object]]] = [
    (MonthlySchedule(kind="monthly", day=1), {"bymonthday": 1}),
    (MonthlySchedule(kind="monthly", day=15, except_months=()), {"bymonthday": 15}),
    (MonthlySchedule(kind="monthly", day=28, except_months=(7,)), {"bymonthday": 28}),
    (MonthlySchedule(kind="monthly", weekday="tuesday", nth=2), {"byweekday": TU(2)}),
    (MonthlySchedule(kind="monthly", weekday="monday", nth=1), {"byweekday": MO(1)}),
    (
        MonthlySchedule(kind="monthly", weekday="friday", nth=-1, except_months=()),
        {"byweekday": FR(-1)},
    ),
    (
        MonthlySchedule(kind="monthly", weekday="wednesday", nth=4, except_months=(6, 7, 8)),
        {"byweekday": WE(4)},
    ),
]


@pytest.mark.parametrize("cal", CALENDARS)
@pytest.mark.parametrize(("schedule", "rule"), MONTHLY_CASES)
def test_monthly_matches_rrule(
    schedule: MonthlySchedule, rule: dict[str, object], cal: WorkCalendar
) -> None:
    months = [m for m in range(1, 13) if m not in schedule.except_months]
    for year in YEARS:
        found = occurrences(schedule, cal, year)
        nominal = monthly_rule(year, bymonth=months, **rule)
        assert dates(found) == moved(cal, nominal)
        assert [o.period for o in found] == [f"{year}-{d.month:02d}" for d in nominal]
        assert all(o.subject is None and o.deadline is None for o in found)


def test_est_default_skips_july_and_december() -> None:
    est = MonthlySchedule(kind="monthly", weekday="tuesday", nth=1)
    for year in YEARS:
        found = occurrences(est, WorkCalendar(), year)
        assert len(found) == 10
        assert {o.date.month for o in found} == set(range(1, 13)) - {7, 12}
        assert not any(o.period.endswith(("-07", "-12")) for o in found)


def test_a_monthly_occurrence_stays_in_its_month() -> None:
    found = occurrences(MonthlySchedule(kind="monthly", day=1), WorkCalendar(), 2027)
    assert found[0] == Occurrence(date(2027, 1, 4), None, "2027-01")  # not 30 December 2026
    may = next(o for o in found if o.period == "2027-05")
    assert may.date == date(2027, 5, 3)  # Första maj is a Saturday


# --- times a year -------------------------------------------------------------------------------


@pytest.mark.parametrize("cal", CALENDARS)
@pytest.mark.parametrize(
    ("times", "months", "day"),
    [(2, (3, 9), 1), (4, (2, 4, 9, 11), 10), (2, (9, 3), 20), (1, (11,), 6)],
)
def test_times_a_year_in_listed_months_matches_rrule(
    times: int, months: tuple[int, ...], day: int, cal: WorkCalendar
) -> None:
    schedule = TimesAYearSchedule(kind="times_a_year", times=times, months=months, day=day)
    for year in YEARS:
        found = occurrences(schedule, cal, year)
        nominal = yearly_rule(year, bymonth=months, bymonthday=day)
        assert dates(found) == moved(cal, nominal)
        assert [o.period for o in found] == [f"{year}-t{i}" for i in range(1, times + 1)]


@pytest.mark.parametrize(
    ("times", "months"),
    [
        (1, (6,)),
        (2, (3, 10)),
        (3, (2, 6, 11)),
        (4, (2, 5, 8, 11)),
        (6, (1, 3, 5, 8, 10, 12)),
        (11, (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12)),
        (12, tuple(range(1, 13))),
    ],
)
def test_times_a_year_spread_evenly_outside_the_summer(times: int, months: tuple[int, ...]) -> None:
    schedule = TimesAYearSchedule(kind="times_a_year", times=times)
    cal = WorkCalendar()
    for year in YEARS:
        nominal = yearly_rule(year, bymonth=months, bymonthday=1)
        assert dates(occurrences(schedule, cal, year)) == moved(cal, nominal)


@given(st.integers(1, 12), st.sets(st.integers(1, 12), max_size=4))
def test_times_a_year_spread_gives_distinct_months(times: int, summer: set[int]) -> None:
    cal = WorkCalendar(summer_months=tuple(sorted(summer)))
    found = occurrences(TimesAYearSchedule(kind="times_a_year", times=times), cal, 2027)
    months = [o.date.month for o in found]
    assert len(months) == times == len(set(months))
    if times <= 12 - len(summer):
        assert not set(months) & summer


@given(st.integers(1, 52), st.lists(st.integers(1, 12), min_size=1, max_size=12, unique=True))
def test_spread_is_ordered_and_inside_the_months(n: int, months: list[int]) -> None:
    months.sort()
    slots = spread(n, months)
    assert len(slots) == n
    assert slots == sorted(slots)
    assert all(month in months and 1 <= day <= 28 for month, day in slots)
    if n <= len(months):
        assert len({month for month, _ in slots}) == n
    if n == len(months):
        assert slots == [(month, 15) for month in months]


# --- yearly and every other year -----------------------------------------------------------------


@pytest.mark.parametrize("cal", CALENDARS)
@pytest.mark.parametrize(("month", "day"), [(11, 1), (1, 1), (6, 6), (12, 24), (4, 28)])
def test_yearly_matches_rrule(month: int, day: int, cal: WorkCalendar) -> None:
    schedule = YearlySchedule(kind="yearly", month=month, day=day)
    for year in YEARS:
        found = occurrences(schedule, cal, year)
        assert dates(found) == moved(cal, yearly_rule(year, bymonth=month, bymonthday=day))
        assert [o.period for o in found] == [str(year)]


@pytest.mark.parametrize("cal", CALENDARS)
@pytest.mark.parametrize(("parity", "first"), [("even", 2026), ("odd", 2027)])
def test_every_other_year_matches_rrule(parity: str, first: int, cal: WorkCalendar) -> None:
    schedule = EveryOtherYearSchedule(kind="every_other_year", month=3, day=1, years=parity)
    rule = rrule(YEARLY, interval=2, dtstart=datetime(first, 3, 1), until=datetime(2035, 12, 31))
    expected = moved(cal, (d.date() for d in rule))
    found = [o for year in YEARS for o in occurrences(schedule, cal, year)]
    assert dates(found) == expected
    assert all(int(o.period) % 2 == first % 2 for o in found)
    assert len(found) == 5


# --- rotation -----------------------------------------------------------------------------------


def rotation_years(
    schedule: RotationSchedule, subjects: Sequence[str], years: Iterable[int] = YEARS
) -> list[Occurrence]:
    cal = WorkCalendar()
    return [o for year in years for o in occurrences(schedule, cal, year, towns=subjects)]


def in_period(found: Iterable[Occurrence], start: date, end: date) -> list[Occurrence]:
    return [o for o in found if start <= o.date <= end]


FULL_PERIODS = [(date(2026, 10, 15), date(2030, 10, 14)), (date(2030, 10, 15), date(2034, 10, 14))]


def test_tranemo_walks_reach_every_town_in_every_mandate_period() -> None:
    walks = RotationSchedule(kind="rotation", per_year=4)
    found = rotation_years(walks, TOWNS)
    assert Counter(int(o.period[:4]) for o in found) == dict.fromkeys(YEARS, 4)
    for start, end in FULL_PERIODS:
        period = in_period(found, start, end)
        assert len(period) == 16
        assert {o.subject for o in period} == set(TOWNS)
        assert period[0].subject == TOWNS[0]
        assert [o.subject for o in period] == [TOWNS[i % 12] for i in range(16)]


def test_rotation_dates_match_rrule() -> None:
    walks = RotationSchedule(kind="rotation", per_year=4, months=(4, 5, 9, 10))
    cal = WorkCalendar()
    for year in YEARS:
        found = occurrences(walks, cal, year, towns=TOWNS)
        nominal = yearly_rule(year, bymonth=(4, 5, 9, 10), bymonthday=15)
        assert dates(found) == [oracle_move(cal, d, mandate_period(d)) for d in nominal]
        assert [o.period for o in found] == [f"{year}-t{i}" for i in range(1, 5)]


def test_a_rotation_occurrence_never_leaves_its_mandate_period() -> None:
    walks = RotationSchedule(kind="rotation", per_year=4, months=(4, 5, 9, 10))
    found = occurrences(walks, WorkCalendar(), 2034, towns=TOWNS)
    # 15 October 2034 is a Sunday: the walk goes to Monday, the first day of the new period
    assert found[-1] == Occurrence(date(2034, 10, 16), TOWNS[0], "2034-t4")


def test_rotation_without_months_avoids_the_summer() -> None:
    found = rotation_years(RotationSchedule(kind="rotation", per_year=11), TOWNS)
    assert not any(o.date.month == 7 for o in found)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.data())
def test_rotation_reaches_every_subject_in_order(per_year: int, data: st.DataObject) -> None:
    count = data.draw(st.integers(1, min(4 * per_year, 20)))
    months = data.draw(st.none() | st.lists(st.integers(1, 12), min_size=1, unique=True))
    subjects = [f"s{i}" for i in range(count)]
    schedule = RotationSchedule(
        kind="rotation", per_year=per_year, months=None if months is None else tuple(months)
    )
    found = rotation_years(schedule, subjects)
    for start, end in FULL_PERIODS:
        period = in_period(found, start, end)
        assert [o.subject for o in period] == [subjects[i % count] for i in range(len(period))]
        assert {o.subject for o in period} == set(subjects)


def test_rotation_is_the_same_whichever_year_is_asked_first() -> None:
    walks = RotationSchedule(kind="rotation", per_year=4)
    forward = rotation_years(walks, TOWNS)
    backward = rotation_years(walks, TOWNS, reversed(YEARS))
    assert sorted(forward, key=lambda o: o.date) == sorted(backward, key=lambda o: o.date)


def test_rotation_over_areas() -> None:
    schedule = RotationSchedule(kind="rotation", per_year=2, over="areas")
    found = occurrences(schedule, WorkCalendar(), 2027, towns=TOWNS, areas=AREAS)
    assert {o.subject for o in found} <= set(AREAS)


def test_rotation_starting_mid_period_starts_from_the_first_town() -> None:
    walks = RotationSchedule(kind="rotation", per_year=4)
    cal = WorkCalendar()
    assert occurrences(walks, cal, 2027, towns=TOWNS, start_year=2028) == []
    found = occurrences(walks, cal, 2028, towns=TOWNS, start_year=2028)
    assert [o.subject for o in found] == TOWNS[:4]


def test_rotation_needs_enough_occurrences_and_subjects() -> None:
    cal = WorkCalendar()
    with pytest.raises(ValueError, match="8 per mandatperiod, för få för att nå alla 12 orter"):
        occurrences(RotationSchedule(kind="rotation", per_year=2), cal, 2027, towns=TOWNS)
    with i18n.speaking("en"), pytest.raises(ValueError, match="too few to reach all 12 towns"):
        occurrences(RotationSchedule(kind="rotation", per_year=2), cal, 2027, towns=TOWNS)
    with pytest.raises(ValueError, match="kräver att organisationen listar sina orter"):
        occurrences(RotationSchedule(kind="rotation", per_year=2), cal, 2027)


# --- per area -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cal", CALENDARS)
def test_per_area_gives_each_area_one_a_year(cal: WorkCalendar) -> None:
    schedule = PerAreaSchedule(kind="per_area")
    for year in YEARS:
        found = occurrences(schedule, cal, year, areas=AREAS)
        assert [o.subject for o in found] == AREAS
        nominal = yearly_rule(year, bymonth=(3, 4, 5, 9, 10), bymonthday=15)
        assert dates(found) == moved(cal, nominal)
        assert {o.period for o in found} == {str(year)}


def test_per_area_with_more_areas_than_months() -> None:
    areas = [f"area{i}" for i in range(7)]
    schedule = PerAreaSchedule(kind="per_area", months=(4, 9))
    found = occurrences(schedule, WorkCalendar(), 2027, areas=areas)
    assert sorted(o.subject or "" for o in found) == areas
    assert {o.date.month for o in found} == {4, 9}
    assert len({o.date for o in found}) == 7


def test_per_area_over_towns() -> None:
    schedule = PerAreaSchedule(kind="per_area", over="towns")
    found = occurrences(schedule, WorkCalendar(), 2027, towns=TOWNS[:3], areas=AREAS)
    assert [o.subject for o in found] == TOWNS[:3]
    with pytest.raises(ValueError, match="kräver att organisationen listar sina områden"):
        occurrences(PerAreaSchedule(kind="per_area"), WorkCalendar(), 2027, towns=TOWNS)
    with i18n.speaking("en"), pytest.raises(ValueError, match="to list its areas"):
        occurrences(PerAreaSchedule(kind="per_area"), WorkCalendar(), 2027, towns=TOWNS)


# --- deadlines ----------------------------------------------------------------------------------


def working_days_back(cal: WorkCalendar, day: date, n: int) -> date:
    while n:
        day -= timedelta(days=1)
        n -= cal.is_working_day(day)
    return day


@pytest.mark.parametrize("cal", CALENDARS[::2])
@pytest.mark.parametrize(
    ("deadline", "rule"),
    [
        ("04-30", {"bymonth": 4, "bymonthday": 30}),
        ("12-31", {"bymonth": 12, "bymonthday": 31}),
        ("02-29", {"bymonth": 2, "bymonthday": -1}),
        ("01-10", {"bymonth": 1, "bymonthday": 10}),
    ],
)
@pytest.mark.parametrize("lead", ["P8W", "P1M", "10wd", "0wd"])
def test_deadline_matches_rrule(
    deadline: str, rule: dict[str, object], lead: str, cal: WorkCalendar
) -> None:
    schedule = DeadlineSchedule(kind="yearly_deadline", deadline=deadline, lead=lead)
    for year in YEARS:
        (found,) = occurrences(schedule, cal, year)
        (nominal,) = yearly_rule(year, **rule)
        due = step_to_working(cal, nominal, -1)
        assert found.deadline == due
        assert found.period == str(year)
        if lead.endswith("wd"):
            assert found.date == working_days_back(cal, due, int(lead[:-2]))
        else:
            offset = relativedelta(weeks=8) if lead == "P8W" else relativedelta(months=1)
            assert found.date == step_to_working(cal, due - offset, -1)


def test_report_to_kf_opens_eight_weeks_ahead() -> None:
    (found,) = occurrences(DeadlineSchedule(kind="yearly_deadline"), WorkCalendar(), 2027)
    assert found == Occurrence(date(2027, 3, 5), None, "2027", date(2027, 4, 30))


# --- kinds without occurrences, start year, every date a working day ----------------------------

ALL_KINDS: list[Schedule] = [
    MonthlySchedule(kind="monthly", day=1),
    MonthlySchedule(kind="monthly", weekday="thursday", nth=-1),
    TimesAYearSchedule(kind="times_a_year", times=2),
    TimesAYearSchedule(kind="times_a_year", times=4, months=(1, 4, 8, 11), day=6),
    YearlySchedule(kind="yearly", month=11),
    EveryOtherYearSchedule(kind="every_other_year", month=5, years="odd"),
    RotationSchedule(kind="rotation", per_year=4),
    PerAreaSchedule(kind="per_area"),
    DeadlineSchedule(kind="yearly_deadline", deadline="01-15"),
]


@pytest.mark.parametrize(
    "schedule", [ManualSchedule(kind="manual"), RestartSchedule(kind="restart")]
)
def test_manual_and_restart_have_no_occurrences(schedule: Schedule) -> None:
    cal = WorkCalendar()
    assert occurrences(schedule, cal, 2027, towns=TOWNS, areas=AREAS) == []
    assert next_occurrence_after(schedule, cal, date(2027, 1, 1)) is None


@pytest.mark.parametrize("cal", CALENDARS)
@pytest.mark.parametrize("schedule", ALL_KINDS)
def test_every_occurrence_is_on_a_working_day_in_date_order(
    schedule: Schedule, cal: WorkCalendar
) -> None:
    for year in YEARS:
        found = occurrences(schedule, cal, year, towns=TOWNS, areas=AREAS)
        assert all(cal.is_working_day(o.date) for o in found)
        assert dates(found) == sorted(dates(found))


def test_start_year_leaves_earlier_years_empty() -> None:
    schedule = YearlySchedule(kind="yearly", month=11)
    cal = WorkCalendar()
    assert occurrences(schedule, cal, 2026, start_year=2027) == []
    assert len(occurrences(schedule, cal, 2027, start_year=2027)) == 1


# --- next occurrence ----------------------------------------------------------------------------


def brute_force_next(schedule: Schedule, cal: WorkCalendar, after: date) -> Occurrence | None:
    every = [
        o
        for year in range(2024, 2040)
        for o in occurrences(schedule, cal, year, towns=TOWNS, areas=AREAS)
    ]
    later = sorted((o for o in every if o.date > after), key=lambda o: (o.date, o.period))
    return later[0] if later else None


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(ALL_KINDS),
    st.sampled_from(CALENDARS),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2035, 12, 31)),
)
def test_next_occurrence_after_matches_brute_force(
    schedule: Schedule, cal: WorkCalendar, after: date
) -> None:
    found = next_occurrence_after(schedule, cal, after, towns=TOWNS, areas=AREAS)
    assert found == brute_force_next(schedule, cal, after)


def test_next_occurrence_after_is_strictly_after() -> None:
    yearly = YearlySchedule(kind="yearly", month=11, day=2)
    cal = WorkCalendar()
    first = next_occurrence_after(yearly, cal, date(2027, 1, 1))
    assert first is not None
    assert first.date == date(2027, 11, 2)
    following = next_occurrence_after(yearly, cal, first.date)
    assert following is not None
    assert following.date == date(2028, 11, 2)


def test_next_occurrence_respects_start_year_and_parity() -> None:
    deep = EveryOtherYearSchedule(kind="every_other_year", month=3, years="even")
    found = next_occurrence_after(deep, WorkCalendar(), date(2027, 1, 1), start_year=2030)
    assert found == Occurrence(date(2030, 3, 1), None, "2030")


def test_mandate_period_boundary_used_by_the_rotation() -> None:
    found = rotation_years(RotationSchedule(kind="rotation", per_year=4), TOWNS, [2026])
    first_of_period = next(o for o in found if o.date >= date(2026, 10, 15))
    assert mandate_period(first_of_period.date)[0] == date(2026, 10, 15)
    assert first_of_period.subject == TOWNS[0]

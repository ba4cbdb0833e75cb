"""What the lägesbild dashboard adds to the figures (pure): the trend of each month, the hot
spots of the window, and the points of the month's incidents on a map.

The figures themselves are :func:`tsk_workflow.lagesbild.build.build`'s; these read the same
gathered reports, so the dashboard and the compiled lägesbild never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tsk_workflow.lagesbild.build import AVERAGE_OF, trend
from tsk_workflow.lagesbild.collect import Gathered
from tsk_workflow.lagesbild.model import Month, Report, Trend

HOT_SPOTS = 10
"""How many places the list of hot spots shows."""


@dataclass(frozen=True)
class MonthTrend:
    """A month of the chart with its trend against the average of the reported months before
    it (up to ``AVERAGE_OF``); ``average`` None when none was reported before."""

    month: Month
    average: float | None
    trend: Trend


def month_trends(months: Sequence[Month]) -> tuple[MonthTrend, ...]:
    """Each month's total against the months before it that had a cycle (``reported``)."""
    found = []
    before: list[float] = []
    for month in months:
        recent = before[-AVERAGE_OF:]
        average = sum(recent) / len(recent) if recent else None
        found.append(
            MonthTrend(month, average, trend(month.total, average) if month.reported else "new")
        )
        if month.reported:
            before.append(month.total)
    return tuple(found)


@dataclass(frozen=True)
class HotSpot:
    """A place (a town, and the place the reports name in it, if any) with its incidents in
    the whole window, in the lägesbild's month, and the trend of the month."""

    town: str
    place: str | None
    total: float
    month: float
    average: float | None
    trend: Trend


def hot_spots(
    gathered: Gathered, town_name: Callable[[str], str], limit: int = HOT_SPOTS
) -> tuple[HotSpot, ...]:
    """The places with the most incidents in the window (the lägesbild's month and those
    before it), most first; a place's spelling is the first one reported, compared without
    case and extra spaces."""
    earlier = sorted(gathered.history.items())
    months: list[tuple[str, Sequence[Report]]] = [*earlier, (gathered.period, gathered.reports)]
    counts: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    spelling: dict[tuple[str, str], str | None] = {}
    for period, reports in months:
        for report in reports:
            if not report.has_incident:
                continue
            place = " ".join((report.place or "").split())
            key = (report.town or "", place.casefold())
            spelling.setdefault(key, place or None)
            counts[key][period] += report.count
    spots = []
    for key, by_month in counts.items():
        recent = [by_month.get(period, 0.0) for period, _ in earlier[-AVERAGE_OF:]]
        average = sum(recent) / len(recent) if recent else None
        this_month = by_month.get(gathered.period, 0.0)
        spots.append(
            HotSpot(
                town=town_name(key[0]),
                place=spelling[key],
                total=sum(by_month.values()),
                month=this_month,
                average=average,
                trend=trend(this_month, average),
            )
        )
    spots.sort(key=lambda s: (-s.total, -s.month, s.town, s.place or ""))
    return tuple(spots[:limit])


@dataclass(frozen=True)
class Point:
    """An incident of the month where the reporter marked it on the map."""

    lat: float
    lon: float
    categories: tuple[str, ...]
    town: str | None
    place: str | None
    when: str | None
    count: float


def map_points(
    reports: Sequence[Report], labels: Mapping[str, str], town_name: Callable[[str], str]
) -> tuple[Point, ...]:
    """The month's incidents that have a point (``Report.point``), their categories as
    ``labels`` names them."""
    return tuple(
        Point(
            lat=report.point[0],
            lon=report.point[1],
            categories=tuple(labels.get(key, key) for key in report.categories),
            town=town_name(report.town) if report.town else None,
            place=report.place,
            when=report.when,
            count=report.count,
        )
        for report in reports
        if report.has_incident and report.point is not None
    )

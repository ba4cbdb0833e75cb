"""Computing the figures of a lägesbild from the gathered reports (pure).

Counts are of incidents: each report counts as many times as its answer to the count question
says (once without one). "Before" is the months of the window that had a cycle of the process
(for the statistics: that are in the CSV); the trend compares this month with the average of
the last three of them, and the change is against the last one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from tsk_workflow import i18n
from tsk_workflow.calendar import month_name
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.forms import reporter_forms
from tsk_workflow.i18n import N_, _
from tsk_workflow.lagesbild.collect import Gathered, window
from tsk_workflow.lagesbild.model import (
    Category,
    Department,
    Entry,
    Group,
    Lagesbild,
    Month,
    Report,
    Row,
    Statistics,
    Trend,
)
from tsk_workflow.lagesbild.stats import StatRow
from tsk_workflow.organisation.model import Organisation

AVERAGE_OF = 3
"""The trend compares with the average of this many months before (those that are known)."""

PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#999999",
)
"""Okabe and Ito's colours, which people with colour vision deficiencies can tell apart."""

NO_TOWN = N_("(no town given)")
NO_DEPARTMENT = N_("(no department given)")


def build(
    gathered: Gathered,
    org: Organisation,
    definition: ProcessDefinition,
    *,
    lang: str,
    now: dt.datetime,
    statistics: Sequence[StatRow] | None = None,
    statistics_source: str | None = None,
) -> Lagesbild:
    """The figures, its texts in ``lang`` (the definition's and the program's)."""
    lang = "en" if lang == "en" else "sv"
    with i18n.speaking(lang):
        return _build(gathered, org, definition, lang, now, statistics, statistics_source)


def _build(
    gathered: Gathered,
    org: Organisation,
    definition: ProcessDefinition,
    lang: str,
    now: dt.datetime,
    statistics: Sequence[StatRow] | None,
    statistics_source: str | None,
) -> Lagesbild:
    labels = _category_labels(definition, lang)
    current = gathered.reports
    asked = [r for r in current if r.event_id is None]
    earlier = list(gathered.history.items())
    incidents = [r for r in current if r.has_incident]

    def category_counts(reports: Iterable[Report]) -> dict[str, float]:
        counts: dict[str, float] = defaultdict(float)
        for report in reports:
            for key in report.categories:
                counts[key] += report.count
        return counts

    def town_counts(reports: Iterable[Report]) -> dict[str, float]:
        counts: dict[str, float] = defaultdict(float)
        for report in reports:
            if report.has_incident:
                counts[report.town or ""] += report.count
        return counts

    by_category = _rows(
        category_counts(current),
        Counter(k for r in incidents for k in r.categories),
        [(p, category_counts(reports)) for p, reports in earlier],
        lambda key: labels.get(key, key),
        order=list(labels),
    )
    town_name = _place_names(org, lang)
    by_town = _rows(
        town_counts(current),
        Counter(r.town or "" for r in incidents),
        [(p, town_counts(reports)) for p, reports in earlier],
        town_name,
        details=_places(incidents),
    )
    colours = _colours(labels, [gathered.reports, *gathered.history.values()])
    stat_rows = list(statistics or [])
    return Lagesbild(
        lang=lang,
        municipality=org.name,
        process=definition.title.get(lang),
        cycle_ref=gathered.cycle_ref,
        cycle_title=gathered.cycle_title,
        period=gathered.period,
        period_label=period_label(gathered.period, lang),
        generated_at=now.astimezone(ZoneInfo(org.calendar.timezone)).strftime("%Y-%m-%d %H:%M"),
        asked=len(asked),
        answered=sum(1 for r in asked if r.answered),
        with_incidents=len(incidents),
        incidents=sum(r.count for r in incidents),
        by_category=by_category,
        by_town=by_town,
        months=_months(gathered, colours, stat_rows if statistics is not None else None, lang),
        categories=tuple(colours.values()),
        groups=_groups(incidents, labels, town_name, org),
        departments=_departments(asked, org, lang),
        show_names=org.privacy.show_reporter_names,
        statistics=(
            _statistics(stat_rows, gathered.period, statistics_source or "", org, lang)
            if statistics is not None
            else None
        ),
        earlier_months=tuple(p for p, _ in earlier),
        events=sum(1 for r in current if r.event_id is not None),
    )


def period_label(period: str, lang: str) -> str:
    months = window(period, 1)
    if not months:
        return period
    year, month = months[0].split("-")
    return f"{month_name(int(month), lang)} {year}"


def short_month(period: str, lang: str) -> str:
    year, month = period.split("-")
    name = month_name(int(month), lang)[:3]
    return f"{name} {year[2:]}"


def _category_labels(definition: ProcessDefinition, lang: str) -> dict[str, str]:
    """Category keys and labels in the order of the forms' choices."""
    labels: dict[str, str] = {}
    for form in reporter_forms(definition).values():
        question = form.part("category")
        assert question is not None
        for choice in question.choices:
            labels.setdefault(choice.key, choice.label.get(lang))
    return labels


def place_names(org: Organisation, lang: str) -> Callable[[str], str]:
    """A town's or area's name by its key (a dash-like text for none), as the tables name it."""
    return _place_names(org, lang)


def _place_names(org: Organisation, lang: str) -> Callable[[str], str]:
    names = {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas}

    def name(key: str) -> str:
        return names.get(key, key) if key else _(NO_TOWN)

    return name


def _rows(
    counts: Mapping[str, float],
    reports: Mapping[str, int],
    earlier: Sequence[tuple[str, Mapping[str, float]]],
    label: Callable[[str], str],
    order: Sequence[str] = (),
    details: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[Row, ...]:
    """A row for every key counted this month or in the last ``AVERAGE_OF`` months before."""
    keys = set(counts) | {key for _, month in earlier[-AVERAGE_OF:] for key in month}
    rank = {key: index for index, key in enumerate(order)}
    rows = [_row(key, counts, reports, earlier, label, details or {}) for key in keys]
    rows.sort(key=lambda r: (-r.count, -(r.average or 0), rank.get(r.key, len(rank)), r.label))
    return tuple(rows)


def _row(
    key: str,
    counts: Mapping[str, float],
    reports: Mapping[str, int],
    earlier: Sequence[tuple[str, Mapping[str, float]]],
    label: Callable[[str], str],
    details: Mapping[str, tuple[str, ...]],
) -> Row:
    count = counts.get(key, 0)
    previous_period, previous = (
        (earlier[-1][0], earlier[-1][1].get(key, 0)) if earlier else (None, None)
    )
    recent = [month.get(key, 0) for _, month in earlier[-AVERAGE_OF:]]
    average = sum(recent) / len(recent) if recent else None
    return Row(
        key=key,
        label=label(key),
        reports=reports.get(key, 0),
        count=count,
        previous=previous,
        previous_period=previous_period,
        average=average,
        change=None if previous is None else count - previous,
        trend=trend(count, average),
        details=details.get(key, ()),
    )


def trend(count: float, average: float | None) -> Trend:
    if average is None:
        return "new"
    if count > average:
        return "up"
    if count < average:
        return "down"
    return "same"


def _places(reports: Iterable[Report]) -> dict[str, tuple[str, ...]]:
    """Per town, the places the reports name, most incidents first: ``stationen (3)``."""
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    spelling: dict[str, str] = {}
    for report in reports:
        if report.place:
            folded = " ".join(report.place.split()).casefold()
            spelling.setdefault(folded, " ".join(report.place.split()))
            counts[report.town or ""][folded] += report.count
    return {
        town: tuple(
            f"{spelling[place]} ({_number(n)})"
            for place, n in sorted(found.items(), key=lambda item: (-item[1], item[0]))
        )
        for town, found in counts.items()
    }


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def _colours(labels: Mapping[str, str], months: Iterable[Iterable[Report]]) -> dict[str, Category]:
    """A colour for each category of the window, fixed by its place in the form."""
    seen = {key for reports in months for report in reports for key in report.categories}
    keys = [key for key in labels if key in seen] + sorted(seen - set(labels))
    colours = {}
    for key in keys:
        index = list(labels).index(key) if key in labels else len(labels) + keys.index(key)
        colours[key] = Category(key, labels.get(key, key), PALETTE[index % len(PALETTE)])
    return colours


def _months(
    gathered: Gathered,
    colours: Mapping[str, Category],
    statistics: Sequence[StatRow] | None,
    lang: str,
) -> tuple[Month, ...]:
    stat_totals: dict[str, float] = defaultdict(float)
    for row in statistics or ():
        stat_totals[row.month] += row.count
    periods = window(gathered.period) or [gathered.period]
    months = []
    for period in periods:
        reports = gathered.reports if period == gathered.period else gathered.history.get(period)
        counts: dict[str, float] = defaultdict(float)
        for report in reports or ():
            for key in report.categories:
                counts[key] += report.count
        months.append(
            Month(
                period=period,
                label=short_month(period, lang) if window(period, 1) else period,
                reported=reports is not None,
                by_category=tuple((key, counts[key]) for key in colours if counts[key]),
                total=sum(r.count for r in reports or () if r.has_incident),
                statistics=stat_totals.get(period) if statistics is not None else None,
            )
        )
    return tuple(months)


def _groups(
    reports: Sequence[Report],
    labels: Mapping[str, str],
    town_name: Callable[[str], str],
    org: Organisation,
) -> tuple[Group, ...]:
    show = org.privacy.show_reporter_names
    by_key: dict[str, list[Entry]] = defaultdict(list)
    for report in reports:
        person = org.person(report.reporter) if show else None
        entry = Entry(
            town=town_name(report.town) if report.town else None,
            place=report.place,
            when=report.when,
            count=report.count,
            description=report.description,
            action=report.action,
            reporter=person.name if person is not None else None,
        )
        for key in report.categories:
            by_key[key].append(entry)
    order = [key for key in labels if key in by_key] + sorted(set(by_key) - set(labels))
    return tuple(
        Group(
            key,
            labels.get(key, key),
            tuple(sorted(by_key[key], key=lambda e: (e.town or "", e.when or "", e.place or ""))),
        )
        for key in order
    )


def _departments(reports: Sequence[Report], org: Organisation, lang: str) -> tuple[Department, ...]:
    grouped: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        grouped[report.department or _(NO_DEPARTMENT)].append(report)
    show = org.privacy.show_reporter_names
    departments = []
    for name, group in sorted(grouped.items()):
        names: tuple[str, ...] = ()
        if show:
            people = (org.person(r.reporter) for r in group if r.answered)
            names = tuple(sorted({p.name for p in people if p is not None}))
        departments.append(
            Department(
                name=name,
                asked=len(group),
                with_incidents=sum(1 for r in group if r.has_incident),
                nothing_to_report=sum(1 for r in group if r.answered and not r.has_incident),
                not_answered=sum(1 for r in group if not r.answered),
                names=names,
            )
        )
    return tuple(departments)


def _statistics(
    rows: Sequence[StatRow], period: str, source: str, org: Organisation, lang: str
) -> Statistics:
    place_names = {t.key.casefold(): t.name for t in org.towns}
    place_names |= {t.name.casefold(): t.name for t in org.towns}
    place_names |= {a.key.casefold(): a.name for a in org.areas}
    place_names |= {a.name.casefold(): a.name for a in org.areas}
    spelling: dict[str, str] = {}

    def fold(text: str) -> str:
        key = " ".join(text.split()).casefold()
        spelling.setdefault(key, " ".join(text.split()))
        return key

    by_month_category: dict[str, Counter[str]] = defaultdict(Counter)
    by_month_area: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        by_month_category[row.month][fold(row.category)] += row.count
        area = place_names.get(row.area.strip().casefold(), " ".join(row.area.split()))
        by_month_area[row.month][area] += row.count
    before = [month for month in window(period)[:-1] if month in by_month_category]
    current = by_month_category.get(period, Counter())

    def label(key: str) -> str:
        return spelling.get(key, key)

    categories = _rows(
        current,
        {},
        [(m, by_month_category[m]) for m in before],
        label,
    )
    areas = _rows(
        by_month_area.get(period, Counter()),
        {},
        [(m, by_month_area[m]) for m in before],
        lambda name: name,
    )
    return Statistics(
        source=source,
        period_found=period in by_month_category,
        by_category=categories,
        by_area=areas,
        total=sum(current.values()),
    )

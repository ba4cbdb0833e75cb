"""The lägesbild of a cycle as a report (``tsk report lagesbild CYCLE``): for print, as PDF.

The figures are the lägesbild's own (``lagesbild.collect.gather`` then ``lagesbild.build``,
as ``tsk lagesbild`` and the web's dashboard have them) and the dashboard's (the hot spots, the
points on the map: ``lagesbild.dashboard``); this module only lays them out as a
:class:`~tsk_workflow.reports.model.Report`: the summary, the counts by category and by town,
the chart of twelve months, the map of the month's marked incidents (``lagesbild.map_svg``),
the reporters' descriptions by category, and who reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tsk_workflow import i18n
from tsk_workflow.i18n import _
from tsk_workflow.lagesbild.chart import svg
from tsk_workflow.lagesbild.model import TRENDS, Entry, Lagesbild, Row
from tsk_workflow.reports.model import Block, Chart, Paragraph, Report, Section, Table, number
from tsk_workflow.reports.yearly import chart_text

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.lagesbild.dashboard import HotSpot, Point


def lagesbild_report(engine: Engine, cycle_ref: str, lang: str) -> Report:
    """The lägesbild of ``cycle_ref`` in ``lang``; NotFound for no such cycle, Refused for one
    whose process has no reporter form (``produce.require_reports``)."""
    from tsk_workflow.lagesbild import dashboard
    from tsk_workflow.lagesbild.build import build, place_names
    from tsk_workflow.lagesbild.collect import gather
    from tsk_workflow.lagesbild.produce import require_reports

    lang = "en" if lang == "en" else "sv"
    with i18n.speaking(lang), engine.store.reading() as session:
        cycle = engine.find_cycle(session, cycle_ref)
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        require_reports(definition, cycle)
        gathered = gather(session, engine.org, definition, cycle)
        figures = build(gathered, engine.org, definition, lang=lang, now=engine.clock())
        town_name = place_names(engine.org, lang)
        labels = {category.key: category.label for category in figures.categories}
        points = dashboard.map_points(gathered.reports, labels, town_name)
        spots = dashboard.hot_spots(gathered, town_name)
        return _report(figures, points, spots, lang)


def _report(
    figures: Lagesbild, points: Sequence[Point], spots: Sequence[HotSpot], lang: str
) -> Report:
    return Report(
        lang=lang,
        title=_("Situation report: {process} – {month}").format(
            process=figures.process, month=figures.period_label
        ),
        subtitle=_("The cycle {cycle}, compiled {when}").format(
            cycle=figures.cycle_ref, when=figures.generated_at
        ),
        organisation=figures.municipality,
        made_on=figures.generated_at,
        sections=(
            _summary(figures, lang),
            _rows_section(figures, _("Incidents by category"), _("Category"), lang),
            _rows_section(figures, _("Incidents by town"), _("Town"), lang, places=True),
            _months(figures, lang),
            _map(figures, points, spots, lang),
            _descriptions(figures, lang),
            _reporters(figures, lang),
        ),
    )


def _summary(figures: Lagesbild, lang: str) -> Section:
    compared = ", ".join(figures.earlier_months) or _("no earlier months with reports")
    rows = [
        (_("Reporters who answered"), f"{figures.answered} / {figures.asked}"),
        (_("Reports of incidents"), number(figures.with_incidents, lang)),
    ]
    if figures.events:
        rows.append((_("Of them, events reported at any time"), number(figures.events, lang)))
    rows += [
        (_("Incidents (the reports' number of times)"), number(figures.incidents, lang)),
        (_("Compared with"), compared),
    ]
    table = Table(_("The month in figures"), (_("What"), _("Number")), tuple(rows))
    return Section(_("Summary"), (table,))


def _trend(row: Row) -> str:
    return _(TRENDS[row.trend]) if row.trend != "new" else "–"


def _rows_section(
    figures: Lagesbild, heading: str, what: str, lang: str, places: bool = False
) -> Section:
    """A table of this month against the months before, as the lägesbild's HTML has it: by
    town (``places``: with the places the reports name) or by category."""
    from tsk_workflow.lagesbild.render import change

    rows = figures.by_town if places else figures.by_category

    if not rows:
        return Section(heading, (Paragraph(_("No incidents were reported.")),))
    columns = (
        what,
        _("Reports"),
        _("Incidents"),
        _("Previous"),
        _("Avg 3 mo"),
        _("Change"),
        _("Trend"),
        *((_("Places"),) if places else ()),
    )
    table = Table(
        f"{heading}, {figures.period_label}",
        columns,
        tuple(
            (
                row.label,
                number(row.reports, lang),
                number(row.count, lang),
                _maybe(row.previous, lang),
                _maybe(row.average, lang),
                change(row, lang),
                _trend(row),
                *((", ".join(row.details),) if places else ()),
            )
            for row in rows
        ),
        numeric=frozenset({1, 2, 3, 4, 5}),
    )
    note = Paragraph(
        _(
            "Change against the previous month with reports; trend against the average of the"
            " last three months with reports."
        ),
        note=True,
    )
    return Section(heading, (table, note))


def _maybe(value: float | None, lang: str) -> str:
    return number(value, lang) if value is not None else "–"


def _months(figures: Lagesbild, lang: str) -> Section:
    chart = Chart(
        str(svg(figures.months, figures.categories, lang)),
        _("Reported incidents per month"),
        chart_text(figures.months, figures, lang),
    )
    blocks: list[Block] = [chart]
    unreported = [month.label for month in figures.months if not month.reported]
    if unreported:
        said = _("No reports were asked for in: {months}.").format(months=", ".join(unreported))
        blocks.append(Paragraph(said, note=True))
    return Section(_("The last twelve months"), tuple(blocks))


def _map(
    figures: Lagesbild, points: Sequence[Point], spots: Sequence[HotSpot], lang: str
) -> Section:
    from tsk_workflow.lagesbild.map_svg import map_svg

    heading = _("Where the incidents were")
    blocks: list[Block] = []
    if points:
        colours = {category.label: category.colour for category in figures.categories}
        title = _("The incidents of {month} marked on the map").format(month=figures.period_label)
        blocks.append(Chart(str(map_svg(points, colours, title, lang)), title, _map_text(points)))
        blocks.append(
            Table(
                _("The marked incidents, numbered as on the map"),
                (_("No."), _("Category"), _("Where"), _("When"), _("Incidents")),
                tuple(
                    (
                        str(index),
                        ", ".join(point.categories),
                        ", ".join(part for part in (point.place, point.town) if part) or "–",
                        point.when or "–",
                        number(point.count, lang),
                    )
                    for index, point in enumerate(points, start=1)
                ),
                numeric=frozenset({0, 4}),
            )
        )
    else:
        blocks.append(Paragraph(_("No incident of the month was marked on a map.")))
    if spots:
        blocks.append(_spots(spots, lang))
    return Section(heading, tuple(blocks))


def _map_text(points: Sequence[Point]) -> str:
    """What the map shows, in words: how many marked incidents, per town."""
    towns: dict[str, int] = {}
    for point in points:
        where = point.town or "–"
        towns[where] = towns.get(where, 0) + 1
    said = ", ".join(f"{town} {count}" for town, count in sorted(towns.items()))
    return _("Incidents marked on the map: {n} (by town: {towns})").format(
        n=len(points), towns=said
    )


def _spots(spots: Sequence[HotSpot], lang: str) -> Table:
    return Table(
        _("The places with the most incidents, this month and the months before"),
        (_("Town"), _("Place"), _("In all"), _("This month"), _("Trend")),
        tuple(
            (
                spot.town,
                spot.place or "–",
                number(spot.total, lang),
                number(spot.month, lang),
                _(TRENDS[spot.trend]) if spot.trend != "new" else "–",
            )
            for spot in spots
        ),
        numeric=frozenset({2, 3}),
    )


def _descriptions(figures: Lagesbild, lang: str) -> Section:
    heading = _("Descriptions and suggestions by category")
    if not figures.groups:
        return Section(heading, (Paragraph(_("No incidents were reported.")),))
    return Section(
        heading,
        sections=tuple(
            Section(group.label, tuple(Paragraph(_entry(entry, lang)) for entry in group.entries))
            for group in figures.groups
        ),
    )


def _entry(entry: Entry, lang: str) -> str:
    """One reporter's entry as the lägesbild's HTML writes it, on one line."""
    where = ", ".join(part for part in (entry.town or "–", entry.place) if part)
    text = where + (f" ({entry.when})" if entry.when else "")
    if entry.count != 1:
        text += f", {number(entry.count, lang)} {_('times')}"
    text += f": {entry.description or ''}"
    if entry.action:
        text += f" {_('Suggestion')}: {entry.action}"
    if entry.reporter:
        text += f" – {entry.reporter}"
    return text


def _reporters(figures: Lagesbild, lang: str) -> Section:
    columns = (
        _("Department"),
        _("Asked"),
        _("Reports of incidents"),
        _("Nothing to report"),
        _("Not answered"),
        *((_("Names"),) if figures.show_names else ()),
    )
    n: Callable[[float], str] = lambda value: number(value, lang)  # noqa: E731
    rows = tuple(
        (
            d.name,
            n(d.asked),
            n(d.with_incidents),
            n(d.nothing_to_report),
            n(d.not_answered),
            *((", ".join(d.names),) if figures.show_names else ()),
        )
        for d in figures.departments
    )
    blocks: list[Block] = [
        Table(_("Who reported, per department"), columns, rows, numeric=frozenset({1, 2, 3, 4}))
    ]
    if not figures.show_names:
        blocks.append(
            Paragraph(
                _(
                    "The reporters' names are not shown (the organisation's"
                    " privacy.show_reporter_names)."
                ),
                note=True,
            )
        )
    return Section(_("Who reported"), tuple(blocks))

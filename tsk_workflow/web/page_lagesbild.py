"""``/lagesbild``: the lägesbild dashboard of a cycle the person may read.

The figures are the compiled lägesbild's (``tsk lagesbild``, the API's ``/cycles/REF/lagesbild``:
``lagesbild.collect.gather`` then ``lagesbild.build.build``); the dashboard adds the months'
trends, the hot spots and the points on the map (``lagesbild.dashboard``). The chart and the map
are drawn by ``static/lagesbild.js`` and ``static/lagesbild-map.js`` from JSON data islands
(the CSP allows no inline script); a table under each says the same for screen readers and
browsers without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from tsk_workflow import i18n
from tsk_workflow.lagesbild import dashboard
from tsk_workflow.lagesbild.build import build, place_names
from tsk_workflow.lagesbild.collect import gather
from tsk_workflow.lagesbild.model import TRENDS
from tsk_workflow.lagesbild.produce import has_reports, require_reports
from tsk_workflow.store.models import Cycle
from tsk_workflow.web.deps import Reading
from tsk_workflow.web.pages import PageReader, render
from tsk_workflow.web.sessions import state_of

router = APIRouter(include_in_schema=False)


@router.get("/lagesbild")
def lagesbild(
    request: Request,
    reader: PageReader,
    cycle: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    choices = _choices(reader)
    if cycle:
        chosen = next((c for c in choices if cycle in (c.ref, str(c.id))), None)
        if chosen is None:  # not one of the list: refused and recorded, or no reports
            chosen = reader.engine.readable_cycle(reader.session, reader.person, cycle)
    elif choices:
        chosen = choices[0]
    else:
        return render(request, "lagesbild_none.html", {})
    return render(request, "lagesbild_dashboard.html", _context(request, reader, chosen, choices))


def _choices(reader: Reading) -> list[Cycle]:
    """The cycles the person may read whose process has reporter tasks, newest first."""
    engine = reader.engine
    known: dict[tuple[str, str | None], bool] = {}
    found = []
    for cycle in engine.readable_cycles(reader.session, reader.person):
        key = (cycle.process, cycle.process_digest)
        if key not in known:
            definition = engine.definition_for(reader.session, *key)
            known[key] = has_reports(definition)
        if known[key]:
            found.append(cycle)
    found.sort(key=lambda c: (c.opened_at, c.id), reverse=True)
    return found


def _context(
    request: Request, reader: Reading, cycle: Cycle, choices: list[Cycle]
) -> dict[str, Any]:
    engine = reader.engine
    lang = i18n.language()
    definition = engine.definition_for(reader.session, cycle.process, cycle.process_digest)
    require_reports(definition, cycle)
    gathered = gather(reader.session, engine.org, definition, cycle)
    figures = build(gathered, engine.org, definition, lang=lang, now=engine.clock())
    town_name = place_names(engine.org, lang)
    labels = {category.key: category.label for category in figures.categories}
    months = dashboard.month_trends(figures.months)
    points = dashboard.map_points(gathered.reports, labels, town_name)
    config = state_of(request).config
    chart = {
        "title": i18n._("Incidents per month and category"),
        "labels": [month.label for month in figures.months],
        "datasets": [
            {
                "label": category.label,
                "colour": category.colour,
                "data": [dict(month.by_category).get(category.key, 0) for month in figures.months],
            }
            for category in figures.categories
        ],
    }
    map_data = {
        "tiles": config.map_tiles,
        "attribution": config.map_attribution,
        "points": [
            {
                "lat": point.lat,
                "lon": point.lon,
                "label": _point_label(point),
                "count": point.count,
            }
            for point in points
        ],
    }
    return {
        "figures": figures,
        "cycle": cycle,
        "choices": choices,
        "months": months,
        "hot_spots": dashboard.hot_spots(gathered, town_name),
        "points": points,
        "chart_json": _island(chart),
        "map_json": _island(map_data),
        "attribution": config.map_attribution,
        "trend": lambda key: i18n._(TRENDS[key]) if key != "new" else "–",
        "n": number,
    }


def _point_label(point: dashboard.Point) -> str:
    where = ", ".join(part for part in (point.place, point.town) if part)
    what = ", ".join(point.categories)
    return " – ".join(part for part in (what, where, point.when or "") if part)


def number(value: float | None) -> str:
    """A count as people read it: ``3``, ``2,5`` (a decimal comma in Swedish), ``–`` for none."""
    if value is None:
        return "–"
    if value == int(value):
        return str(int(value))
    text = f"{value:.1f}"
    return text.replace(".", ",") if i18n.language() == "sv" else text


def _island(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` element: ``<``, ``>``, ``&`` and ``'``
    escaped, so no text in it can end the element."""
    from jinja2.utils import htmlsafe_json_dumps

    return htmlsafe_json_dumps(data)

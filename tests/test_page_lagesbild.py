"""The lägesbild dashboard (``/lagesbild``): three EST months of Herrljunga reported in a known
pattern; the figures on the page are the compiled lägesbild's (``lagesbild_of``), the chart's
data island and the tables under the chart say the same, text that reporters typed shows as
text, a cycle the person may not read is refused (and recorded), and the map's tile server
from the settings is the one origin the CSP adds. On SQLite and PostgreSQL, through HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local, tasks
from tests.pagekit import table
from tests.webkit import demo_sign_in, herrljunga, service_client, service_config
from tsk_workflow import i18n
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import TskError
from tsk_workflow.lagesbild import dashboard
from tsk_workflow.lagesbild.model import TRENDS, Lagesbild, Month, Report
from tsk_workflow.lagesbild.produce import lagesbild_of
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct
from tsk_workflow.web.page_lagesbild import number
from tsk_workflow.web.security import csp

CLOCK_START = local(2027, 1, 4, 9)
CHAIR = "jessica.wahlstrom"
OUTSIDER = "petra.sjodin"  # SSPF, not EST
HTML = "<img src=x onerror=alert(1)>"

PATTERN: dict[str, dict[str, dict[str, Any] | None]] = {
    "2027-01": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "stationen", "antal": 2},
        "ida.wikstrom": {"kategori": "nedskrapning", "ort": "annelund"},
        "jonas.ek": None,
    },
    "2027-02": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "Stationen", "antal": 4},
        "ida.wikstrom": None,
        "jonas.ek": {"kategori": "hot_vald", "ort": "ljung"},
    },
    "2027-03": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "stationen", "antal": 8},
        "jonas.ek": {"kategori": "klotter", "ort": "herrljunga", "plats": HTML, "antal": 1},
        "ida.wikstrom": {"kategori": "nedskrapning", "ort": "annelund", "antal": 3},
    },
}  # fmt: skip


def _months(engine: Engine, clock: Clock) -> None:
    for period, reports in PATTERN.items():
        year, month = map(int, period.split("-"))
        clock.set(local(year, month, 4, 9))
        cycle = engine.open_cycle(CHAIR, "est", period).id
        clock.advance(days=2)
        for person, answers in reports.items():
            task = next(t for t in tasks(engine, cycle) if t.assignees == (person,))
            if answers is None:
                engine.complete_task(person, task.id, None, nothing_to_report=True)
            else:
                full = {"beskrivning": f"{answers['kategori']} {HTML}", **answers}
                engine.complete_task(person, task.id, None, full)


@pytest.fixture
def world(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    _months(engine, clock)
    with service_client(store, clock) as client:
        yield client, engine


def _figures(engine: Engine, ref: str, lang: str = "sv") -> Lagesbild:
    with engine.store.reading() as session:
        cycle = engine.find_cycle(session, ref)
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        return lagesbild_of(session, engine.org, definition, cycle, lang=lang, now=engine.clock())


def _island(html: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert found, f"no data island {element_id}"
    return json.loads(found.group(1))


def test_the_figures_on_the_page_are_the_lagesbilds(world: Any) -> None:
    client, engine = world
    demo_sign_in(client, CHAIR)
    page = client.get("/lagesbild")
    assert page.status_code == 200, page.text
    html = page.text
    figures = _figures(engine, "est-2027-03")
    assert '<option value="est-2027-03" selected>' in html  # the latest by default
    assert re.search(r'id="incidents">(\d+)<', html).group(1) == number(figures.incidents)  # type: ignore[union-attr]
    categories = table(html, "category-table")[1:]
    assert [(r[0], r[1], r[3], r[5]) for r in categories] == [
        (row.label, number(row.count), number(row.previous), _trend(row.trend))
        for row in figures.by_category
    ]
    assert categories[0][:2] == ["Klotter", "9"]
    towns = table(html, "town-table")[1:]
    assert [(r[0].split(" | ")[0], r[1]) for r in towns] == [
        (row.label, number(row.count)) for row in figures.by_town
    ]
    assert towns[0][0] == "Herrljunga | stationen (8), <img src=x onerror=alert(1)> (1)"
    months = table(html, "month-table")[1:]
    assert [r[0] for r in months] == [m.label for m in figures.months]
    reported = {r[0]: r[-2] for r in months if len(r) > 2}
    assert reported == {m.label: number(m.total) for m in figures.months if m.reported}
    chart = _island(html, "lagesbild-chart-data")
    assert chart["labels"] == [m.label for m in figures.months]
    for dataset, category in zip(chart["datasets"], figures.categories, strict=True):
        assert dataset["label"] == category.label
        assert dataset["data"] == [dict(m.by_category).get(category.key, 0) for m in figures.months]
    assert sum(sum(d["data"]) for d in chart["datasets"]) == 2 + 1 + 4 + 1 + 8 + 1 + 3


def test_the_trend_and_the_hot_spots(world: Any) -> None:
    client, _engine = world
    demo_sign_in(client, CHAIR)
    html = client.get("/lagesbild").text
    months = {r[0]: r for r in table(html, "month-table")[1:]}
    assert months["mar 27"][-2:] == ["12", "↑ ökar"]  # 12 against (3 + 5) / 2
    assert months["feb 27"][-2:] == ["5", "↑ ökar"]
    assert months["jan 27"][-1] == "–"
    spots = table(html, "hot-spot-table")[1:]
    assert spots[0] == ["stationen, Herrljunga", "14", "8", "3", "↑ ökar"]
    assert ["Annelund", "4", "3", "0,5", "↑ ökar"] in spots


def test_text_the_reporters_typed_shows_as_text(world: Any) -> None:
    client, _engine = world
    demo_sign_in(client, CHAIR)
    html = client.get("/lagesbild").text
    assert HTML not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    for tag in re.findall(r"<script[^>]*>", html):  # no inline script: files or data
        assert " src=" in tag or 'type="application/json"' in tag, tag


def test_an_earlier_cycle_in_english(world: Any) -> None:
    client, engine = world
    demo_sign_in(client, CHAIR)
    html = client.get("/lagesbild", params={"cycle": "est-2027-02", "lang": "en"}).text
    assert '<option value="est-2027-02" selected>' in html
    figures = _figures(engine, "est-2027-02", "en")
    assert [r[:2] for r in table(html, "category-table")[1:]] == [
        [row.label, number(row.count)] for row in figures.by_category
    ]
    assert "None of the month's incidents is marked on a map." in html
    assert "leaflet.js" not in html  # no points, no map


def test_a_cycle_the_person_may_not_read_is_refused_and_recorded(world: Any, store: Store) -> None:
    client, _engine = world
    demo_sign_in(client, OUTSIDER)
    assert "Det finns ingen lägesbild" in client.get("/lagesbild").text
    refused = client.get("/lagesbild", params={"cycle": "est-2027-03"})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    with store.reading() as session:
        last = session.scalars(select(RefusedAct).order_by(RefusedAct.id.desc())).first()
    assert last is not None
    assert (last.actor, last.action) == (OUTSIDER, "read")


def test_without_a_session_the_dashboard_sends_to_sign_in(world: Any) -> None:
    client, _engine = world
    answer = client.get("/lagesbild")
    assert (answer.status_code, answer.headers["location"]) == (303, "/signin")


def _trend(key: str) -> str:
    with i18n.speaking("sv"):
        return i18n._(TRENDS[key]) if key != "new" else "–"


# ---------------------------------------------------------------- the map's settings and the CSP


def _directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


@pytest.mark.parametrize(
    ("tiles", "origin"),
    [
        (None, "https://tile.openstreetmap.org"),
        ("https://karta.herrljunga.se/tiles/{z}/{x}/{y}.png", "https://karta.herrljunga.se"),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "https://*.tiles.example.org"),
        ("", None),
    ],
)
def test_the_csp_allows_images_from_the_tile_server_and_nothing_else_new(
    store: Store, clock: Clock, tiles: str | None, origin: str | None
) -> None:
    herrljunga(store, clock)
    environ = {} if tiles is None else {"TSK_MAP_TILES": tiles}
    with service_client(store, clock, environ) as client:
        policy = client.get("/signin").headers["content-security-policy"]
    assert service_config(environ).map_tiles == (tiles if tiles is not None else dashboard_tiles())
    given, strict = _directives(policy), _directives(csp())
    assert given.keys() == strict.keys()
    for name, values in strict.items():
        extra = [origin] if name == "img-src" and origin else []
        assert given[name] == values + extra, name


def dashboard_tiles() -> str:
    return "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@pytest.mark.parametrize(
    "tiles",
    [
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/tiles.png",
        "https://tiles.example.org/{z}/{x}/{y}.png; script-src *",
    ],
)
def test_a_bad_tile_server_is_refused_at_start(tiles: str) -> None:
    with pytest.raises(TskError, match="TSK_MAP_TILES"):
        service_config({"TSK_MAP_TILES": tiles})


def test_the_attribution_comes_from_the_settings() -> None:
    config = service_config({"TSK_MAP_ATTRIBUTION": "© Herrljunga kommun"})
    assert config.map_attribution == "© Herrljunga kommun"


# ---------------------------------------------------------------- the dashboard's own figures


def _report(period: str, town: str, place: str | None, count: float, **more: Any) -> Report:
    return Report(period, 1, "x", None, True, ("klotter",), town, place, None, count, **more)


def test_month_trends_compare_with_the_reported_months_before() -> None:
    months = [
        Month("2027-01", "jan", True, (), 2),
        Month("2027-02", "feb", False, (), 0),
        Month("2027-03", "mar", True, (), 4),
        Month("2027-04", "apr", True, (), 3),
    ]
    found = dashboard.month_trends(months)
    assert [(t.trend, t.average) for t in found] == [
        ("new", None),
        ("new", 2),
        ("up", 2),
        ("same", 3),
    ]


def test_map_points_are_the_months_incidents_with_a_point() -> None:
    reports = [
        _report("2027-03", "herrljunga", "stationen", 2, point=(57.98, 13.02)),
        _report("2027-03", "ljung", None, 1),
        Report("2027-03", 3, "y", None, True, (), point=(58.0, 13.0)),  # nothing to report
    ]
    points = dashboard.map_points(reports, {"klotter": "Klotter"}, str.upper)
    assert points == (
        dashboard.Point(57.98, 13.02, ("Klotter",), "HERRLJUNGA", "stationen", None, 2),
    )


def test_the_months_incidents_with_a_point_on_the_map(world: Any) -> None:
    """An event reported with a point on the map (``/report``) is drawn on the month's map;
    the monthly reports, without points, are not."""
    from tsk_workflow.engine.events import report_events

    client, engine = world
    report_events(
        engine,
        "johanna.falk",
        [
            {
                "category": "klotter",
                "when": "2027-03-05T21:30",
                "town": "herrljunga",
                "place": "stationen",
                "latitude": "57.97861",
                "longitude": "13.02250",
                "description": "Taggar på perrongen",
            }
        ],
    )
    station = (57.97861, 13.0225)
    demo_sign_in(client, CHAIR)
    html = client.get("/lagesbild").text
    assert '<script src="/static/vendor/leaflet/leaflet.js" defer></script>' in html
    assert '<script src="/static/lagesbild-map.js" defer></script>' in html
    assert re.search(r'<div id="lagesbild-map" class="map" role="region" aria-label="[^"]+">', html)
    data = _island(html, "lagesbild-map-data")
    assert data["tiles"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert [(p["lat"], p["lon"], p["count"]) for p in data["points"]] == [(*station, 1)]
    rows = table(html, "point-table")[1:]
    assert rows == [
        ["Klotter", "stationen, Herrljunga", "2027-03-05 21:30", "1", "57.97861, 13.02250"]
    ]

"""The compiled lägesbild: three EST months of Herrljunga on a virtual clock, with reports in a
known pattern (graffiti in Herrljunga town 2 -> 4 -> 8), checked as figures, as Markdown and
HTML (inline SVG, autoescaped, no names), with crime statistics from a CSV; the lägesbild the
engine attaches on entering the compile step (both databases), and a tampered one caught by
``tsk audit verify``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select, text

from tests.enginekit import Clock, Tsk, cycle_state, events, local, make_engine, set_up, tasks
from tsk_workflow import audit, i18n
from tsk_workflow.engine.service import Engine
from tsk_workflow.lagesbild.build import build
from tsk_workflow.lagesbild.chart import nice_top
from tsk_workflow.lagesbild.collect import gather, window
from tsk_workflow.lagesbild.model import Lagesbild, Row
from tsk_workflow.lagesbild.produce import lagesbild_of
from tsk_workflow.lagesbild.render import _environment as lagesbild_environment
from tsk_workflow.lagesbild.render import render
from tsk_workflow.lagesbild.stats import StatsError, parse_stats
from tsk_workflow.organisation.model import Privacy
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Document

CHAIR = "jessica.wahlstrom"
NAMES = ("Johanna Falk", "Viktor Holmberg", "Ida Wikström", "Jonas Ek", "Rachel Moore")
SCRIPT = "<script>alert('x')</script>"

Answers = dict[str, Any]

# Who reports what, month by month (None: done with a note, nothing to report).
PATTERN: dict[str, dict[str, Answers | None]] = {
    "2027-01": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "stationen", "antal": 2},
        "ida.wikstrom": {"kategori": "nedskrapning", "ort": "annelund"},
        "jonas.ek": {"kategori": "hot_vald", "ort": "ljung"},
        "viktor.holmberg": None,
        "rachel.moore": None,
    },
    "2027-02": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "Stationen", "antal": 4},
        "ida.wikstrom": {"kategori": "nedskrapning", "ort": "annelund", "antal": 2},
        "jonas.ek": None,
        "viktor.holmberg": None,
        "rachel.moore": None,
    },
    "2027-03": {
        "johanna.falk": {"kategori": "klotter", "ort": "herrljunga", "plats": "stationen", "antal": 3,
                         "tidpunkt": "2027-03-02 22:15"},
        "jonas.ek": {"kategori": "klotter", "ort": "herrljunga", "plats": "skolan", "antal": 5,
                     "beskrivning": f"Taggar på skolans gavel {SCRIPT}"},
        "ida.wikstrom": {"kategori": "nedskrapning", "ort": "annelund"},
        "rachel.moore": {"kategori": "hot_vald", "ort": "ljung",
                         "forslag": "Fler vuxna ute kvällstid"},
        "viktor.holmberg": None,
    },
}  # fmt: skip


def report(engine: Engine, cycle: int, person: str, answers: Answers | None) -> None:
    task = next(t for t in tasks(engine, cycle) if t.assignees == (person,))
    if answers is None:
        engine.complete_task(person, task.id, "inget att rapportera", nothing_to_report=True)
    else:
        full = {"beskrivning": f"{answers['kategori']} i {answers['ort']}", **answers}
        engine.complete_task(person, task.id, None, full)


def run_month(engine: Engine, clock: Clock, period: str) -> int:
    year, month = map(int, period.split("-"))
    clock.set(local(year, month, 4, 9))
    cycle = engine.open_cycle(CHAIR, "est", period).id
    clock.advance(days=2)
    for person, answers in PATTERN[period].items():
        report(engine, cycle, person, answers)
    return cycle


@dataclass
class World:
    store: Store
    engine: Engine
    clock: Clock

    def figures(self, ref: str = "est-2027-03", lang: str = "sv", **kwargs: Any) -> Lagesbild:
        with self.store.reading() as session:
            cycle = self.engine.find_cycle(session, ref)
            definition = self.engine.catalog.definition("est")
            return lagesbild_of(
                session, self.engine.org, definition, cycle, lang=lang, now=self.clock(), **kwargs
            )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Herrljunga with EST for January to March 2027 (SQLite; built once for the module)."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('lagesbild') / 'tsk.db'}")
    migrate.upgrade(store)
    clock = Clock(local(2027, 1, 4, 9))
    engine = set_up(make_engine(store, "herrljunga", clock))
    for period in PATTERN:
        run_month(engine, clock, period)
    try:
        yield World(store, engine, clock)
    finally:
        store.dispose()


def row(rows: tuple[Row, ...], key: str) -> Row:
    return next(r for r in rows if r.key == key)


# ---------------------------------------------------------------- the figures


def test_counts_by_category_against_the_months_before(world: World) -> None:
    figures = world.figures()

    assert (figures.asked, figures.answered, figures.with_incidents) == (5, 5, 4)
    assert figures.incidents == 10
    assert figures.earlier_months == ("2027-01", "2027-02")
    graffiti = row(figures.by_category, "klotter")
    assert (graffiti.label, graffiti.reports, graffiti.count) == ("Klotter", 2, 8)
    assert (graffiti.previous, graffiti.previous_period, graffiti.average) == (4, "2027-02", 3)
    assert (graffiti.change, graffiti.trend) == (4, "up")
    littering = row(figures.by_category, "nedskrapning")
    assert (littering.count, littering.previous, littering.average) == (1, 2, 1.5)
    assert (littering.change, littering.trend) == (-1, "down")
    threats = row(figures.by_category, "hot_vald")
    assert (threats.count, threats.previous, threats.average, threats.trend) == (1, 0, 0.5, "up")
    assert figures.by_category[0].key == "klotter", "most incidents first"


def test_counts_by_town_with_the_places_named(world: World) -> None:
    figures = world.figures()
    town = row(figures.by_town, "herrljunga")
    assert (town.label, town.reports, town.count, town.previous, town.average) == (
        "Herrljunga",
        2,
        8,
        4,
        3,
    )
    assert town.trend == "up"
    assert town.details == ("skolan (5)", "stationen (3)")
    assert row(figures.by_town, "ljung").count == 1


def test_the_trend_over_the_first_months(world: World) -> None:
    january = world.figures("est-2027-01")
    assert row(january.by_category, "klotter").trend == "new"
    assert january.earlier_months == ()
    february = world.figures("est-2027-02")
    graffiti = row(february.by_category, "klotter")
    assert (graffiti.count, graffiti.previous, graffiti.change, graffiti.trend) == (4, 2, 2, "up")
    assert row(february.by_category, "hot_vald").trend == "down"


def test_twelve_months_for_the_chart(world: World) -> None:
    months = world.figures().months
    assert [m.period for m in months] == window("2027-03")
    assert months[0].period == "2026-04"
    assert months[-1].label == "mar 27"
    assert [m.reported for m in months] == [False] * 9 + [True] * 3
    assert [m.total for m in months[-3:]] == [4, 6, 10]
    assert [dict(m.by_category).get("klotter") for m in months[-3:]] == [2, 4, 8]
    assert all(m.statistics is None for m in months)


def test_who_reported_counts_departments_without_names(world: World) -> None:
    figures = world.figures()
    departments = {d.name: d for d in figures.departments}
    assert len(departments) == 5
    school = departments["Bildning – högstadiet"]
    assert (school.asked, school.with_incidents, school.nothing_to_report) == (1, 0, 1)
    assert sum(d.with_incidents for d in figures.departments) == 4
    assert all(d.names == () for d in figures.departments)
    assert all(e.reporter is None for g in figures.groups for e in g.entries)
    dumped = json.dumps(figures.to_dict(), ensure_ascii=False)
    for name in NAMES:
        assert name not in dumped
    for person in PATTERN["2027-03"]:
        assert person not in dumped


def test_names_are_shown_when_the_organisation_allows(world: World) -> None:
    org = world.engine.org.model_copy(update={"privacy": Privacy(show_reporter_names=True)})
    with world.store.reading() as session:
        cycle = world.engine.find_cycle(session, "est-2027-03")
        definition = world.engine.catalog.definition("est")
        figures = build(
            gather(session, org, definition, cycle), org, definition, lang="sv", now=world.clock()
        )
    departments = {d.name: d.names for d in figures.departments}
    assert departments["Räddningstjänsten"] == ("Johanna Falk",)
    graffiti = next(g for g in figures.groups if g.key == "klotter")
    assert {e.reporter for e in graffiti.entries} == {"Johanna Falk", "Jonas Ek"}
    assert "Jonas Ek" in render(figures, "html")


# ---------------------------------------------------------------- rendering


def test_markdown_has_the_tables_and_the_descriptions(world: World) -> None:
    text = render(world.figures(), "md")

    assert text.startswith("# Lägesbild: EST – månatlig lägesbild – mars 2027\n")
    assert "| Klotter | 2 | 8 | 4 | 3 | +4 (+100 %) | ↑ ökar |" in text
    assert "| Nedskräpning | 1 | 1 | 2 | 1,5 | −1 (−50 %) | ↓ minskar |" in text
    assert (
        "| Herrljunga | 2 | 8 | 4 | 3 | +4 (+100 %) | ↑ ökar | skolan (5), stationen (3) |" in text
    )
    assert "| jul 26 | – |" in text
    assert "| mar 27 | 10 |" in text
    assert "### Klotter" in text
    assert "- **Herrljunga, stationen** (2027-03-02 22:15), 3 ggr: klotter i herrljunga" in text
    assert r"\<script\>" in text
    assert "<script>" not in text
    assert "*Förslag:* Fler vuxna ute kvällstid" in text
    assert "| Räddningstjänsten | 1 | 1 | 0 | 0 |" in text
    assert "Inrapportörernas namn visas inte" in text
    for name in NAMES:
        assert name not in text


def test_html_is_autoescaped_with_an_inline_svg_chart(world: World) -> None:
    html = render(world.figures(lang="en"), "html")

    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    (chart,) = re.findall(r"<svg.*?</svg>", html, re.DOTALL)
    root = ElementTree.fromstring(chart)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = [el for el in root.iter("{http://www.w3.org/2000/svg}rect") if el.find("*") is not None]
    titles = sorted(el.findtext("{http://www.w3.org/2000/svg}title") or "" for el in bars)
    assert "Mar 27: Graffiti 8" in titles
    assert "Jan 27: Graffiti 2" in titles
    assert len(bars) == 3 + 2 + 3  # January: 3 categories, February: 2, March: 3
    assert '<td>Graffiti</td><td class="n">2</td><td class="n">8</td>' in html
    assert '<td class="up">↑ rising</td>' in html
    for name in NAMES:
        assert name not in html


def test_the_mark_of_a_month_without_reporting_is_explained_apart(world: World) -> None:
    html = render(world.figures(lang="sv"), "html")
    (chart,) = re.findall(r"<svg.*?</svg>", html, re.DOTALL)
    texts = [
        (el.text or "", float(el.get("y") or 0))
        for el in ElementTree.fromstring(chart).iter("{http://www.w3.org/2000/svg}text")
    ]
    explained = [(t, y) for t, y in texts if "ingen rapportering" in t]
    assert explained == [("ingen rapportering den månaden", explained[0][1])]
    below = explained[0][1]
    categories = [y for t, y in texts if t in {"Annat", "Klotter"}]
    assert categories
    assert all(y < below for y in categories)  # a line of its own, under the swatches
    assert ("–", below) in texts  # beside the mark it explains


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_lagesbild_renders_in_the_sandbox(world: World, lang: str) -> None:
    env = lagesbild_environment(lang)
    assert isinstance(env, ImmutableSandboxedEnvironment)
    figures = world.figures(lang=lang)
    with pytest.raises(SecurityError, match="is unsafe"):
        env.from_string("{{ lb.__class__.__init__.__globals__ }}").render(lb=figures)
    assert "<svg" in render(figures, "html")  # the shipped templates still render in it


def test_nice_axis_tops() -> None:
    assert nice_top(0) == (4, 1)
    assert nice_top(3) == (4, 1)
    assert nice_top(10) == (10, 2)
    assert nice_top(23) == (25, 5)
    assert nice_top(87) == (100, 20)


# ---------------------------------------------------------------- crime statistics

STATS = """month;area;category;count
2027-01;herrljunga;Skadegörelse;5
2027-02;Herrljunga;Skadegörelse;7
2027-03;Herrljunga;Skadegörelse;9
2027-03;Herrljunga;skadegörelse;1
2027-02;Ljung;Misshandel;1
2027-03;Ljung;Misshandel;2
2027-03;Hudene;Stöld;3
"""


def test_statistics_by_category_and_area_against_the_months_before(world: World) -> None:
    figures = world.figures(statistics=parse_stats(STATS, "bra.csv"), statistics_source="bra.csv")

    stats = figures.statistics
    assert stats is not None
    assert stats.period_found
    assert stats.total == 15
    damage = row(stats.by_category, "skadegörelse")
    assert (damage.label, damage.count, damage.previous, damage.average) == (
        "Skadegörelse",
        10,
        7,
        6,
    )
    assert damage.trend == "up"
    assert row(stats.by_area, "Herrljunga").count == 10
    assert row(stats.by_area, "Hudene").count == 3  # not a town of the organisation: as given
    assert [m.statistics for m in figures.months[-3:]] == [5, 8, 15]
    text = render(figures, "md")
    assert "| Skadegörelse | 10 | 7 | 6 | +3 (+43 %) | ↑ ökar |" in text
    assert "<polyline" in render(figures, "html")


def test_statistics_without_the_month_say_so(world: World) -> None:
    rows = parse_stats("month,area,category,count\n2026-11,herrljunga,Stöld,4\n")
    figures = world.figures(statistics=rows, statistics_source="gammal.csv")
    assert figures.statistics is not None
    assert not figures.statistics.period_found
    assert "Statistiken har inga uppgifter för 2027-03." in render(figures, "md")


@pytest.mark.parametrize(
    ("csv", "problems"),
    [
        ("", ["s.csv:1: the file is empty: give a header month,area,category,count"]),
        ("month,area,antal\n", ["s.csv:1: missing columns category, count (the header must"]),
        (
            "month,area,category,count\n2027-3,x,y,1\n2027-03,,y,1\n2027-03,x,y,-2\n"
            "2027-03,x,y,many\n2027-03,x\n",
            [
                "s.csv:2: month '2027-3' is not a month (YYYY-MM)",
                "s.csv:3: area is empty",
                "s.csv:4: count -2 is negative",
                "s.csv:5: count 'many' is not a whole number",
                "s.csv:6: expected 4 columns (month, area, category, count), found 2",
            ],
        ),
    ],
)
def test_bad_statistics_are_refused_line_by_line(csv: str, problems: list[str]) -> None:
    with i18n.speaking("en"), pytest.raises(StatsError) as refused:
        parse_stats(csv, "s.csv")
    assert len(refused.value.problems) == len(problems)
    for found, expected in zip(refused.value.problems, problems, strict=True):
        assert found.startswith(expected)


def test_bad_statistics_are_refused_in_swedish_by_default() -> None:
    csv = "month,area,category,count\n2027-3,x,y,1\n2027-03,,y,1\n2027-03,x,y,many\n"
    with pytest.raises(StatsError) as refused:
        parse_stats(csv, "s.csv")
    assert refused.value.problems == [
        "s.csv:2: month '2027-3' är inte en månad (ÅÅÅÅ-MM)",
        "s.csv:3: kolumnen area är tom",
        "s.csv:4: count 'many' är inte ett heltal",
    ]
    with pytest.raises(StatsError) as missing:
        parse_stats("month,area\n", "s.csv")
    assert missing.value.problems == [
        "s.csv:1: kolumnerna category, count saknas (rubrikraden måste ange month, area,"
        " category, count)"
    ]


# ---------------------------------------------------------------- the command line


@pytest.fixture
def tsk(runner: CliRunner, world: World, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    return Tsk(runner, world.store, "herrljunga", world.clock, monkeypatch)


def test_tsk_lagesbild_writes_html_with_statistics(tsk: Tsk, tmp_path: Path) -> None:
    stats = tmp_path / "bra.csv"
    stats.write_text(STATS, encoding="utf-8")
    out = tmp_path / "lagesbild.html"

    printed = tsk.text("lagesbild", "est-2027-03", "--out", str(out), "--stats", str(stats))

    assert printed.startswith(f"Lägesbilden för est-2027-03 är skriven till {out} (html, ")
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html
    assert "Brottsstatistik" in html
    assert "bra.csv" in html
    markdown = tsk.text("lagesbild", "est-2027-03")
    assert markdown.startswith("# Lägesbild: EST")
    english = tsk.text("--lang", "en", "lagesbild", "est-2027-03", "--format", "md")
    assert english.startswith("# Situation report: EST – monthly situation report – March 2027")
    data = tsk.ok("lagesbild", "est-2027-03")
    assert data["format"] == "md"
    assert data["suggested_name"] == "lagesbild-est-2027-03.md"
    graffiti = next(r for r in data["by_category"] if r["key"] == "klotter")
    assert (graffiti["count"], graffiti["previous"], graffiti["trend"]) == (8, 4, "up")


def test_tsk_lagesbild_refusals(tsk: Tsk, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("month,area,category,count\n2027-13,x,y,1\n2027-03,x,y,z\n", encoding="utf-8")
    result = tsk("--lang", "en", "lagesbild", "est-2027-03", "--stats", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"tsk: {bad}:2: month '2027-13' is not a month (YYYY-MM)",
        f"tsk: {bad}:3: count 'z' is not a whole number",
    ]
    swedish = tsk("lagesbild", "est-2027-03", "--stats", str(bad))
    assert swedish.stderr.splitlines() == [
        f"tsk: {bad}:2: month '2027-13' är inte en månad (ÅÅÅÅ-MM)",
        f"tsk: {bad}:3: count 'z' är inte ett heltal",
    ]
    assert "no cycle 'est-2026-01'" in tsk.refused("--lang", "en", "lagesbild", "est-2026-01")
    missing = tmp_path / "nowhere" / "x.md"
    refused = tsk.refused("--lang", "en", "lagesbild", "est-2027-03", "--out", str(missing))
    assert "is not a folder" in refused
    assert "är ingen mapp" in tsk.refused("lagesbild", "est-2027-03", "--out", str(missing))
    sspf = tsk.ok("cycle", "open", "sspf", as_="hanna.nyberg")
    line = tsk.refused("--lang", "en", "lagesbild", sspf["ref"])
    assert line == (
        f"tsk: {sspf['ref']}: the process 'sspf' has no reporter form (a task form with a "
        "question that is the lägesbild's category)"
    )
    assert tsk.refused("lagesbild", sspf["ref"]) == (
        f"tsk: {sspf['ref']}: processen 'sspf' har inget formulär för inrapportörer (ett "
        "uppgiftsformulär med en fråga som är lägesbildens kategori)"
    )


# ---------------------------------------------------------------- produced by the engine


def test_entering_the_compile_step_attaches_the_lagesbild(
    store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(local(2027, 3, 4, 9))
    engine = make_engine(store, "herrljunga", clock)
    cycle = run_month(engine, clock, "2027-03")
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    for task in tasks(engine, cycle):  # each organisation's own lägesbild, then the common one
        engine.complete_task(task.assignees[0], task.id, "vår lägesbild")

    assert cycle_state(engine, cycle) == ("sammanstallning", "open")
    with store.reading() as session:
        (document,) = session.scalars(select(Document).where(Document.cycle_id == cycle)).all()
        content = document.content.decode("utf-8")
    assert (document.kind, document.step, document.attached_by) == (
        "lagesbild",
        "sammanstallning",
        "tsk",
    )
    assert (document.filename, document.media_type) == ("lagesbild-est-2027-03.html", "text/html")
    assert "<svg" in content
    assert "Klotter" in content
    assert "&lt;script&gt;" in content
    assert SCRIPT not in content
    for name in NAMES:
        assert name not in content
    (attached,) = events(store, "document.attached")
    with store.reading() as session:
        (row_,) = [r for r in audit.query(session, cycle_id=cycle) if r.seq == attached.seq]
    assert row_.payload is not None
    assert row_.payload["sha256"] == document.sha256
    assert row_.payload["automatic"] is True
    assert (row_.actor, row_.role) == ("tsk", "system")

    cli = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    assert cli.text("audit", "verify").startswith("OK: ")
    with store.transaction() as session:
        session.execute(
            text("UPDATE documents SET content = :content WHERE id = :id"),
            {"content": content.replace("Klotter", "Inget").encode(), "id": document.id},
        )
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"dokument {document.id} (lagesbild-est-2027-03.html, cykel {cycle})" in result.stderr

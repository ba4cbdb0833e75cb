"""``tsk report tjansteskrivelse`` and ``tsk report lagesbild``: the officials' covering report
of a decision and the lägesbild for print, built as reports and written by the same renderers as
the yearly report (python-docx reads the headings and tables back, ``pdftotext`` finds the
sections). A recorded decision says what was decided; English with ``--lang en``; an unknown
decision or cycle, a cycle without reports and a template that is not a Word document are
refused in one line, with nothing written. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import docx
import pytest

from tests.enginekit import Clock, Tsk, local, make_engine, set_up
from tests.test_reports import docx_headings, docx_tables, pdf_text, reported_month
from tests.webkit import herrljunga
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import documents
from tsk_workflow.engine.events import report_events
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.lagesbild.dashboard import Point
from tsk_workflow.lagesbild.map_svg import map_svg
from tsk_workflow.reports.docx_file import docx_file
from tsk_workflow.reports.lagesbild import lagesbild_report
from tsk_workflow.reports.pdf_file import html_page, pdf_file
from tsk_workflow.reports.tjansteskrivelse import tjansteskrivelse
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 3, 1, 9)
CHAIR, SECRETARY, SAMORDNARE = "jessica.wahlstrom", "nina.bergqvist", "erik.sundin"
STYRGRUPP_CHAIR = "gunilla.ahlberg"
STATION = (57.97861, 13.0225)

SECTIONS_SV = ["Ärende", "Beslutsförslag", "Sammanfattning", "Beslutsunderlag", "Föreslaget av"]
SECTIONS_EN = ["Matter", "Proposed decision", "Summary", "Decision documents", "Proposed by"]


@pytest.fixture
def herr(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


def _compiled_month(engine: Engine, clock: Clock) -> Any:
    """March 2027 of EST: three reports of graffiti in, the lägesbild compiled (and attached)."""
    cycle = reported_month(engine, clock, 4)
    engine.advance(SAMORDNARE, cycle.ref, "sammanstall_gemensam", "egna lägesbilder klara")
    return cycle


def pdf_info(pdf: bytes, *flags: str) -> str:
    """What ``pdfinfo`` (poppler-utils, as ``pdftotext``) says of ``pdf``."""
    tool = shutil.which("pdfinfo")
    if tool is None:
        reason = "pdfinfo is missing: apt-get install poppler-utils (.ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        found = subprocess.run(
            [tool, *flags, file.name], capture_output=True, check=True, text=True
        )
    return found.stdout


def _paragraphs(content: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]


# ---------------------------------------------------------------- the tjänsteskrivelse


def test_a_tjansteskrivelse_of_a_pending_decision(herr: Engine, clock: Clock) -> None:
    cycle = _compiled_month(herr, clock)
    decision, _route = Decisions(herr).propose(CHAIR, cycle.ref, "Belysning i parken", 40_000)
    made = tjansteskrivelse(herr, decision.id, "sv")
    content = docx_file(made)

    assert docx_headings(content) == [
        ("Title", "Tjänsteskrivelse: Belysning i parken"),
        *(("Heading 1", heading) for heading in SECTIONS_SV),
    ]
    said = _paragraphs(content)
    assert f"Till Kommunledningsgruppen – beslut {decision.id}" in said
    assert "Kommunledningsgruppen föreslås besluta: Belysning i parken." in said
    assert "Kostnaden beräknas till 40\xa0000 kr." in said
    assert any(
        line.startswith(f"Ärendet kommer från cykeln {cycle.ref} (EST – månatlig lägesbild")
        for line in said
    )
    assert decision.agenda_date is not None
    assert (
        "Ärendet står på dagordningen för sammanträdet med Kommunledningsgruppen"
        f" {decision.agenda_date.isoformat()}." in said
    )
    assert not any(line.startswith("Redan beslutat") for line in said)
    with herr.store.reading() as session:
        (lagesbild,) = documents(session, cycle)
    assert docx_tables(content)[f"Dokumenten i cykeln {cycle.ref}"] == [
        ["Fil", "Slag", "Bifogad", "SHA-256 (början)"],
        [f"lagesbild-{cycle.ref}.html", "lagesbild", "2027-03-01", lagesbild.sha256[:12]],
    ]
    assert said[-1] == "Jessica Wahlström, Kommunstyrelsens förvaltning, 2027-03-01"

    text = " ".join(pdf_text(pdf_file(made)).split())
    for heading in SECTIONS_SV:
        assert heading in text
    assert "Belysning i parken" in text


def test_a_recorded_decision_says_what_was_decided(herr: Engine, clock: Clock) -> None:
    cycle = _compiled_month(herr, clock)
    decisions = Decisions(herr)
    decision, _route = decisions.propose(CHAIR, cycle.ref, "Belysning i parken", 40_000)
    clock.advance(hours=1)
    day = clock.now.astimezone(herr.cal.zone).date()
    decisions.record(
        SECRETARY, decision.id, "klg", day, "§ 101", "approved", text="Belysning sätts upp."
    )
    said = _paragraphs(docx_file(tjansteskrivelse(herr, decision.id, "sv")))
    assert (
        f"Redan beslutat: Kommunledningsgruppen beslutade {day.isoformat()}, § 101: bifallet."
        in said
    )
    assert "Beslutet enligt protokollet: Belysning sätts upp." in said
    assert decision.agenda_date is not None
    assert (
        "Ärendet stod på dagordningen för sammanträdet med Kommunledningsgruppen"
        f" {decision.agenda_date.isoformat()}." in said
    )
    assert not any("står på dagordningen" in line for line in said)


def test_a_decision_from_a_cycle_without_documents(herr: Engine) -> None:
    cycle = herr.open_cycle(CHAIR, "est", "2027-03")
    decision, _route = Decisions(herr).propose(CHAIR, cycle.ref, "Klotterplank", None)
    content = docx_file(tjansteskrivelse(herr, decision.id, "sv"))
    said = _paragraphs(content)
    assert f"Inga dokument är bifogade till cykeln {cycle.ref}." in said
    assert "Förslaget anger ingen kostnad." in said
    assert docx_tables(content) == {}


def test_a_postponed_decision_is_on_the_agenda_again(herr: Engine, clock: Clock) -> None:
    cycle = _compiled_month(herr, clock)
    decisions = Decisions(herr)
    decision, _route = decisions.propose(CHAIR, cycle.ref, "Belysning i parken", 40_000)
    clock.advance(hours=1)
    day = clock.now.astimezone(herr.cal.zone).date()
    again = decisions.record(SECRETARY, decision.id, "klg", day, "§ 102", "postponed")
    assert again.agenda_date is not None
    said = _paragraphs(docx_file(tjansteskrivelse(herr, decision.id, "sv")))
    assert (
        f"Redan beslutat: Kommunledningsgruppen beslutade {day.isoformat()}, § 102: bordlagt."
        in said
    )
    assert (
        "Kommunledningsgruppen bordlade ärendet; det står på dagordningen igen"
        f" {again.agenda_date.isoformat()}." in said
    )


def test_a_delegate_decides_without_a_meeting(store: Store, clock: Clock) -> None:
    tingsryd = make_engine(store, "tingsryd", clock)
    cycle = tingsryd.open_cycle("malin.gustavsson", "samverkan")
    decision, _route = Decisions(tingsryd).propose(
        "malin.gustavsson", cycle.id, "Kameror", 500_000, {"delegerat": "ja"}
    )
    made = tjansteskrivelse(tingsryd, decision.id, "sv")
    assert made.subtitle == f"Till Delegat enligt delegationsordningen – beslut {decision.id}"
    said = _paragraphs(docx_file(made))
    assert "Delegat enligt delegationsordningen beslutar utan sammanträde." in said
    assert "Vad förslaget anger för dirigeringen: delegerat: ja." in said


def test_the_tjansteskrivelse_in_english(herr: Engine, clock: Clock) -> None:
    cycle = _compiled_month(herr, clock)
    decision, _route = Decisions(herr).propose(CHAIR, cycle.ref, "Kameror", 350_000)
    made = tjansteskrivelse(herr, decision.id, "en")
    assert made.title == "Official report: Kameror"
    assert [heading for _level, heading in made.headings()] == SECTIONS_EN
    said = _paragraphs(docx_file(made))
    assert (
        "The proposal is routed to Kommunstyrelsen by the rule 'kostnad_over_200000': The cost"
        " exceeds SEK 200,000 and needs a political decision" in " ".join(said)
    )
    assert '<html lang="en">' in html_page(made)


def test_an_unknown_decision_is_not_found(herr: Engine) -> None:
    with pytest.raises(NotFound, match="inget beslut 99 i Herrljunga kommun"):
        tjansteskrivelse(herr, 99, "sv")


# ---------------------------------------------------------------- the lägesbild


def test_the_lagesbild_for_print_with_its_chart_and_map(herr: Engine, clock: Clock) -> None:
    report_events(
        herr,
        "johanna.falk",
        [
            {
                "category": "klotter",
                "when": "2027-03-01T07:30",
                "town": "herrljunga",
                "place": "stationen",
                "latitude": str(STATION[0]),
                "longitude": str(STATION[1]),
                "description": "Taggar på perrongen",
            }
        ],
    )
    cycle = _compiled_month(herr, clock)
    made = lagesbild_report(herr, cycle.ref, "sv")
    assert made.title == "Lägesbild: EST – månatlig lägesbild – mars 2027"
    content = docx_file(made)
    headings = docx_headings(content)
    assert [text for style, text in headings if style == "Heading 1"] == [
        "Sammanfattning",
        "Händelser per kategori",
        "Händelser per ort",
        "De senaste tolv månaderna",
        "Var händelserna inträffade",
        "Beskrivningar och förslag per kategori",
        "Vem som rapporterat",
    ]
    assert ("Heading 2", "Klotter") in headings
    tables = docx_tables(content)
    assert tables["Händelser per kategori, mars 2027"][1][:3] == ["Klotter", "4", "13"]
    assert tables["De markerade händelserna, numrerade som på kartan"] == [
        ["Nr", "Kategori", "Var", "När", "Händelser"],
        ["1", "Klotter", "stationen, Herrljunga", "2027-03-01 07:30", "1"],
    ]
    document = docx.Document(io.BytesIO(content))
    chart, drawn_map = document.inline_shapes
    assert chart._inline.docPr.get("descr").startswith("Rapporterade händelser per månad")
    assert drawn_map._inline.docPr.get("descr") == (
        "Händelser markerade på kartan: 1 (per ort: Herrljunga 1)"
    )

    pdf = pdf_file(made)
    assert "Tagged:          yes" in pdf_info(pdf)
    assert 'pdfuaid:part="1"' in pdf_info(pdf, "-meta")  # PDF/UA-1
    text = " ".join(pdf_text(pdf).split())
    for heading in ("Händelser per kategori", "Var händelserna inträffade", "Vem som rapporterat"):
        assert heading in text
    assert "Taggar på perrongen" in text


def test_a_month_without_marked_incidents_says_so(herr: Engine, clock: Clock) -> None:
    cycle = _compiled_month(herr, clock)
    made = lagesbild_report(herr, cycle.ref, "en")
    assert made.title == "Situation report: EST – monthly situation report – March 2027"
    said = _paragraphs(docx_file(made))
    assert "No incident of the month was marked on a map." in said


def test_a_cycle_without_reporter_forms_is_refused(herr: Engine) -> None:
    cycle = herr.open_cycle(STYRGRUPP_CHAIR, "styrgrupp", "2027-t1")
    with pytest.raises(Refused, match="har inget formulär för inrapportörer"):
        lagesbild_report(herr, cycle.ref, "sv")


def test_the_map_numbers_its_points_and_names_their_towns() -> None:
    points = (
        Point(57.97861, 13.0225, ("Klotter",), "Herrljunga", "stationen", None, 2),
        Point(57.99, 13.04, ("Otrygg plats",), "Herrljunga", None, None, 1),
        Point(58.07, 13.12, (), "Ljung <by>", None, None, 1),
    )
    drawn = str(map_svg(points, {"Klotter": "#aa0000"}, "Mars & april", "sv"))
    assert '<title id="map-title">Mars &amp; april</title>' in drawn
    assert drawn.count("<circle") == 3
    assert 'fill="#aa0000"' in drawn  # the first point's category
    assert ">3</text>" in drawn
    assert "Ljung &lt;by&gt;" in drawn
    assert drawn.count("Herrljunga") == 1  # one name for the town's two points
    assert " km</text>" in drawn
    alone = str(map_svg(points[:1], {}, "En", "en"))
    assert "0.5 km" in alone  # a single point: the map spans two kilometres


# ---------------------------------------------------------------- the commands


@pytest.fixture
def cli(runner: Any, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    engine = set_up(herrljunga(store, clock))
    cycle = _compiled_month(engine, clock)
    Decisions(engine).propose(CHAIR, cycle.ref, "Belysning i parken", 40_000)
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_tsk_report_tjansteskrivelse_and_lagesbild_write_their_files(
    cli: Tsk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    written = cli("report", "tjansteskrivelse", "1")
    assert written.exit_code == 0, written.output
    assert written.output == "tjansteskrivelse-1.docx: Tjänsteskrivelse: Belysning i parken\n"
    assert docx_headings((tmp_path / "tjansteskrivelse-1.docx").read_bytes())[1] == (
        "Heading 1",
        "Ärende",
    )
    pdf = cli("--lang", "en", "report", "tjansteskrivelse", "1", "--format", "pdf")
    assert pdf.exit_code == 0, pdf.output
    assert "Proposed decision" in pdf_text((tmp_path / "tjansteskrivelse-1.pdf").read_bytes())
    picture = cli("report", "lagesbild", "est-2027-03")
    assert picture.exit_code == 0, picture.output
    assert picture.output.startswith("lagesbild-est-2027-03.pdf: Lägesbild: EST")
    assert "Händelser per ort" in pdf_text((tmp_path / "lagesbild-est-2027-03.pdf").read_bytes())
    as_word = cli("report", "lagesbild", "est-2027-03", "--format", "docx", "--out", "lb.docx")
    assert as_word.exit_code == 0, as_word.output
    assert docx_headings((tmp_path / "lb.docx").read_bytes())[1] == ("Heading 1", "Sammanfattning")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("tjansteskrivelse", "99"), "tsk: inget beslut 99 i Herrljunga kommun\n"),
        (
            ("lagesbild", "est-2099-01"),
            "tsk: ingen cykel 'est-2099-01' i Herrljunga kommun (menade du 'est-2027-03'?)\n",
        ),
        (
            ("tjansteskrivelse", "1", "--template", "{tmp}/mall.txt"),
            "tsk: mall.txt är inget Word-dokument: mallen måste vara en .docx-fil\n",
        ),
        (
            ("lagesbild", "est-2027-03", "--format", "docx", "--template", "{tmp}/mall.txt"),
            "tsk: mall.txt är inget Word-dokument: mallen måste vara en .docx-fil\n",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_and_nothing_is_written(
    cli: Tsk, tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    (tmp_path / "mall.txt").write_text("inte en mall")
    out = tmp_path / "out" / "rapport.docx"
    out.parent.mkdir()
    given = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    refused = cli("report", *given, "--out", str(out))
    assert refused.exit_code == 1, refused.output
    assert refused.output == said
    assert list(out.parent.iterdir()) == []


def test_a_cycle_without_reports_is_refused_in_one_line(cli: Tsk, tmp_path: Path) -> None:
    opened = cli("--as", STYRGRUPP_CHAIR, "cycle", "open", "styrgrupp", "--period", "2027-t1")
    assert opened.exit_code == 0, opened.output
    out = tmp_path / "lb.pdf"
    refused = cli("report", "lagesbild", "styrgrupp-2027-t1", "--out", str(out))
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1
    assert "har inget formulär för inrapportörer" in refused.output
    assert not out.exists()

"""``tsk report yearly``: the yearly report to KF, made from the record, as DOCX (python-docx
reads its headings and tables back) and as PDF (``pdftotext`` finds its sections). A year
without data says so; a template that is not a Word document is refused with a sentence; the
municipality's template restyles the headings. On SQLite and PostgreSQL where a store is used.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import docx
import pytest

from tests.enginekit import Clock, Tsk, local, meeting, set_up, tasks
from tests.webkit import herrljunga
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.reports.docx_file import check_template, docx_file
from tsk_workflow.reports.model import number
from tsk_workflow.reports.pdf_file import html_page, pdf_file
from tsk_workflow.reports.yearly import yearly
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 3, 1, 9)
CHAIR, SECRETARY, SAMORDNARE = "jessica.wahlstrom", "nina.bergqvist", "erik.sundin"

SECTIONS_SV = [
    "Sammanfattning",
    "Genomförda cykler",
    "Lägesbilder och trender",
    "Åtgärder, status och effekt",
    "Fattade beslut",
    "Lagens krav (lag 2023:196)",
]


def pdf_text(pdf: bytes) -> str:
    """The text of ``pdf`` as ``pdftotext`` (Debian's poppler-utils) reads it; skipped (failed
    on CI) where the tool is missing."""
    tool = shutil.which("pdftotext")
    if tool is None:
        reason = "pdftotext is missing: apt-get install poppler-utils (.ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return (
        subprocess.run([tool, "-", "-"], input=pdf, capture_output=True, check=True)
        .stdout.decode("utf-8")
        .replace("\f", "\n")
    )  # a page break: a line of its own


def docx_headings(content: bytes) -> list[tuple[str, str]]:
    document = docx.Document(io.BytesIO(content))
    return [
        (p.style.name, p.text)
        for p in document.paragraphs
        if p.style is not None and p.style.name.startswith(("Title", "Heading"))
    ]


def docx_tables(content: bytes) -> dict[str, list[list[str]]]:
    """Each table by the caption before it: its rows of cell texts, the header first."""
    document = docx.Document(io.BytesIO(content))
    body = document.element.body
    found: dict[str, list[list[str]]] = {}
    caption = ""
    tables = iter(document.tables)
    for child in body.iterchildren():
        if child.tag.endswith("}p"):
            paragraph = docx.text.paragraph.Paragraph(child, document)
            if paragraph.style is not None and paragraph.style.name == "Caption":
                caption = paragraph.text
        elif child.tag.endswith("}tbl"):
            table = next(tables)
            found[caption] = [[cell.text for cell in row.cells] for row in table.rows]
    return found


# ---------------------------------------------------------------- numbers and the empty year


def test_numbers_have_a_space_between_thousands_in_swedish() -> None:
    assert number(12345, "sv") == "12\xa0345"
    assert number(1234.56, "sv") == "1\xa0234,6"
    assert number(12345, "en") == "12,345"


@pytest.fixture
def herr(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


def test_a_year_without_data_gives_a_report_that_says_so(herr: Engine) -> None:
    made = yearly(herr, 2031, "sv")

    assert made.title == "Årsrapport om det trygghetsskapande och brottsförebyggande arbetet 2031"
    assert [heading for level, heading in made.headings() if level == 1] == [
        *SECTIONS_SV,
        "Planerat för 2032",
    ]
    content = docx_file(made)
    assert docx_headings(content)[:3] == [
        ("Title", made.title),
        ("Heading 1", "Sammanfattning"),
        ("Heading 1", "Genomförda cykler"),
    ]
    text = pdf_text(pdf_file(made))
    for said in (
        "Registret innehåller inget från 2031",
        "Ingen cykel öppnades 2031.",
        "Ingen lägesbild sammanställdes från rapporter 2031.",
        "Ingen åtgärd i registret pågick under 2031.",
        "Inget beslut registrerades under året.",
    ):
        assert said in " ".join(text.split()), said
    for heading in SECTIONS_SV:
        assert heading in text


# ---------------------------------------------------------------- a month of EST, with its acts


def reported_month(engine: Engine, clock: Clock, count: int) -> Any:
    """March 2027 of EST: three reports of ``count`` incidents of graffiti, the others' moved
    on by hand (the cycle, at its own lägesbilder)."""
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    for task in tasks(engine, cycle.id)[:3]:
        clock.advance(hours=1)
        engine.complete_task(
            task.assignees[0],
            task.id,
            None,
            {"kategori": "klotter", "ort": "herrljunga", "antal": count, "beskrivning": "Klotter."},
        )
    engine.advance(SAMORDNARE, cycle.ref, "sammanstall", "de övriga har inget att rapportera")
    return cycle


def _est_month(engine: Engine, clock: Clock) -> dict[str, Any]:
    """March 2027: reports in, the lägesbild compiled, an action added, a decision taken."""
    cycle = reported_month(engine, clock, 400)
    action = Actions(engine).add(
        CHAIR,
        {
            "title": "Klottersanering vid stationen",
            "cause": "Klotter vid stationen",
            "start": "2027-03-15",
            "due": "2027-05-31",
            "owner": SAMORDNARE,
            "category": "klotter",
            "town": "herrljunga",
            "cycle": cycle.ref,
        },
    )
    decisions = Decisions(engine)
    decision, _route = decisions.propose(CHAIR, cycle.ref, "Belysning i parken", 40_000)
    clock.advance(hours=1)
    day = meeting(engine, "klg", clock.now.astimezone(engine.cal.zone).date())  # KLG's Monday
    clock.now = max(clock.now, dt.datetime.combine(day, dt.time(10), engine.cal.zone))
    decisions.record(SECRETARY, decision.id, "klg", day, "§ 101", "approved")
    return {"cycle": cycle, "action": action, "decision": decision, "day": day}


def test_the_yearly_report_holds_the_years_record(herr: Engine, clock: Clock) -> None:
    story = _est_month(herr, clock)
    made = yearly(herr, 2027, "sv")
    content = docx_file(made)

    headings = docx_headings(content)
    assert ("Heading 2", "EST – månatlig lägesbild") in headings
    tables = docx_tables(content)
    cycles = tables["Cykler som öppnades 2027, per process"]
    assert cycles[0] == ["Process", "Öppnade cykler", "Varav avslutade", "Varav pågående"]
    assert ["EST – månatlig lägesbild", "1", "0", "1"] in cycles
    per_category = tables["Händelser per kategori 2027"]
    assert per_category[1][:2] == ["Klotter", "1\xa0200"]  # three reports of 400
    register = tables["Åtgärdsregistret 2027"]
    assert register[1][:6] == [
        f"#{story['action'].id}",
        "Klottersanering vid stationen",
        "Erik Sundin",
        "grön",
        "pågående",
        "2027-05-31",
    ]
    decided = tables["Beslut som registrerades under året"]
    assert decided[1] == [
        "Belysning i parken",
        "Kommunledningsgruppen",
        story["day"].isoformat(),
        "§ 101",
        "bifallet",
    ]
    law = tables["Lagens krav"]
    assert law[0] == ["Krav", "Läge", "Varför", "Lagrum"]
    assert len(law) >= 6
    planned = [caption for caption in tables if caption.startswith("Cykler som kalendern öppnar")]
    assert planned == ["Cykler som kalendern öppnar 2028"]
    document = docx.Document(io.BytesIO(content))
    (chart,) = document.inline_shapes
    assert "Rapporterade händelser per månad, EST – månatlig lägesbild: mar 27: 1\xa0200" in (
        chart._inline.docPr.get("descr")
    )

    text = " ".join(pdf_text(pdf_file(made)).split())
    for heading in SECTIONS_SV:
        assert heading in text
    assert "Klottersanering vid stationen" in text
    assert "Belysning i parken" in text
    page = html_page(made)
    assert '<html lang="sv">' in page
    assert 'alt="Rapporterade händelser per månad, EST' in page


def test_the_report_in_english(herr: Engine, clock: Clock) -> None:
    _est_month(herr, clock)
    made = yearly(herr, 2027, "en")
    assert made.title == "Yearly report on the safety and crime-prevention work 2027"
    assert [heading for level, heading in made.headings() if level == 1][:2] == [
        "Summary",
        "Cycles held",
    ]
    assert '<html lang="en">' in html_page(made)


# ---------------------------------------------------------------- the template


def _template(path: Path, font: str) -> Path:
    """A municipality's template: Heading 1 in its own font, and a body text to be replaced."""
    document = docx.Document()
    document.styles["Heading 1"].font.name = font
    document.add_paragraph("Mallens exempeltext som inte ska följa med.")
    document.save(str(path))
    return path


def test_a_template_restyles_the_headings_and_its_text_is_replaced(
    herr: Engine, tmp_path: Path
) -> None:
    template = _template(tmp_path / "kommunens-mall.docx", "Georgia")
    content = docx_file(yearly(herr, 2031, "sv"), template)
    document = docx.Document(io.BytesIO(content))
    assert document.styles["Heading 1"].font.name == "Georgia"
    texts = [p.text for p in document.paragraphs]
    assert "Mallens exempeltext som inte ska följa med." not in texts
    assert texts[0] == "Årsrapport om det trygghetsskapande och brottsförebyggande arbetet 2031"


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("mall.txt", b"text", "mall.txt är inget Word-dokument: mallen måste vara en .docx-fil"),
        (
            "mall.docx",
            b"not a zip",
            "mall.docx är inget Word-dokument: den går inte att öppna som en .docx-fil",
        ),
    ],
)
def test_a_template_that_is_not_a_word_document_is_refused(
    tmp_path: Path, name: str, content: bytes, said: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Refused) as refused:
        check_template(path)
    assert str(refused.value) == said


def test_a_workbook_posing_as_a_template_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "budget.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument'
            '.spreadsheetml.sheet.main+xml"/></Types>',
        )
    with pytest.raises(Refused, match="innehåller ingen Word-text"):
        check_template(path)


# ---------------------------------------------------------------- the command


@pytest.fixture
def cli(runner: Any, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    set_up(herrljunga(store, clock))
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_tsk_report_yearly_writes_docx_and_pdf(
    cli: Tsk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    written = cli("report", "yearly", "2027")
    assert written.exit_code == 0, written.output
    assert written.output.startswith("arsrapport-2027.docx: Årsrapport om")
    assert docx_headings((tmp_path / "arsrapport-2027.docx").read_bytes())[1] == (
        "Heading 1",
        "Sammanfattning",
    )
    pdf = cli("report", "yearly", "2027", "--format", "pdf", "--out", "kf.pdf")
    assert pdf.exit_code == 0, pdf.output
    assert (tmp_path / "kf.pdf").read_bytes().startswith(b"%PDF-")
    english = cli("--lang", "en", "report", "yearly", "2027", "--out", "en.docx")
    assert english.exit_code == 0, english.output
    assert docx_headings((tmp_path / "en.docx").read_bytes())[0] == (
        "Title",
        "Yearly report on the safety and crime-prevention work 2027",
    )


def test_tsk_report_refuses_a_bad_template_in_one_line(cli: Tsk, tmp_path: Path) -> None:
    bad = tmp_path / "mall.pdf"
    bad.write_bytes(b"%PDF-1.7")
    out = tmp_path / "r.docx"
    refused = cli("report", "yearly", "2027", "--template", str(bad), "--out", str(out))
    assert refused.exit_code == 1
    assert refused.output == (
        "tsk: mall.pdf är inget Word-dokument: mallen måste vara en .docx-fil\n"
    )
    assert not out.exists()
    usage = cli("report", "yearly", "2027", "--format", "pdf", "--template", str(bad))
    assert usage.exit_code == 2
    assert "--template gäller --format docx" in usage.output


def test_tsk_report_writes_no_file_over_another_nor_through_a_link(
    cli: Tsk, tmp_path: Path
) -> None:
    out = tmp_path / "kf.docx"
    assert cli("report", "yearly", "2027", "--out", str(out)).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600  # a report names people
    before = out.read_bytes()
    again = cli("report", "yearly", "2027", "--out", str(out))
    assert again.exit_code == 1
    assert again.output == f"tsk: {out} finns redan: ange --force för att skriva över den\n"
    assert out.read_bytes() == before
    assert cli("report", "yearly", "2027", "--out", str(out), "--force").exit_code == 0
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("orörd")
    link = tmp_path / "link.docx"
    link.symlink_to(elsewhere)
    through = cli("report", "yearly", "2027", "--out", str(link), "--force")
    assert through.exit_code == 1
    assert "är en symbolisk länk" in through.output
    assert elsewhere.read_text() == "orörd"
    nowhere = cli("report", "yearly", "2027", "--out", str(tmp_path / "saknas" / "r.docx"))
    assert nowhere.exit_code == 1
    assert "är ingen mapp" in nowhere.output

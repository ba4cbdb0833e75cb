"""The reports in the web app (``/reports``, ``web/page_reports.py``), the API
(``GET /api/v1/reports/yearly/{year}``) and ``tsk report yearly`` through the service: for those
``engine.compliance.may_read`` lets see them, in the page's language, as a file to download;
anyone else gets no entry in the menu and a page (or a problem) saying they may not, the refusal
recorded. On SQLite and PostgreSQL, through HTTP (Starlette's TestClient), the command against
the service on uvicorn."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient

from tests.enginekit import Clock, local
from tests.test_api_actions import as_, tsk_as
from tests.test_page_compliance import overdue_action, refusals, sign_in
from tests.test_reports import docx_headings, pdf_text
from tests.webkit import demo_sign_in, herrljunga, live_service, service_client
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 9, 1, 10)
KANSLICHEF = "marie.lind"  # an admin: owes KF its yearly report
MEMBER = "ida.wikstrom"  # a member of EST and SSPF, chair of none
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def test_the_kanslichef_makes_the_yearly_report_from_the_page(
    engine: Engine, client: TestClient
) -> None:
    overdue_action(engine)
    demo_sign_in(client, KANSLICHEF)
    page = client.get("/reports")
    assert page.status_code == 200, page.text
    assert '<a href="/reports" aria-current="page">Rapporter</a>' in page.text
    assert "<h1>Rapporter till KS och KF</h1>" in page.text
    assert '<option value="2027" selected>2027</option>' in page.text
    assert '<form method="get" action="/reports/yearly"' in page.text

    word = client.get("/reports/yearly", params={"year": "2027", "format": "docx"})
    assert word.status_code == 200, word.text
    assert word.headers["content-type"] == DOCX
    assert word.headers["content-disposition"] == (
        'attachment; filename="arsrapport-herrljunga-2027.docx"'
    )
    headings = docx_headings(word.content)
    assert headings[0] == (
        "Title",
        "Årsrapport om det trygghetsskapande och brottsförebyggande arbetet 2027",
    )
    assert "Belysning i gångtunneln" in "\n".join(
        cell.text
        for table in docx.Document(io.BytesIO(word.content)).tables
        for row in table.rows
        for cell in row.cells
    )
    pdf = client.get("/reports/yearly", params={"year": "2027"})  # PDF by default
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Åtgärder, status och effekt" in pdf_text(pdf.content)


def test_the_report_is_in_the_pages_language(engine: Engine, client: TestClient) -> None:
    sign_in(client, KANSLICHEF, "en")
    word = client.get("/reports/yearly", params={"year": "2027", "format": "docx"})
    assert docx_headings(word.content)[1] == ("Heading 1", "Summary")


def test_bad_parameters_are_refused_without_a_report(client: TestClient) -> None:
    demo_sign_in(client, KANSLICHEF)
    for params in ({"year": "1999"}, {"year": "tjugo"}, {"year": "2027", "format": "odt"}):
        assert client.get("/reports/yearly", params=params).status_code == 422, params


def test_someone_not_allowed_gets_no_entry_and_a_page_saying_so(
    engine: Engine, client: TestClient, store: Store
) -> None:
    sign_in(client, MEMBER, "en")
    assert 'href="/reports"' not in client.get("/").text
    page = client.get("/reports")
    assert page.status_code == 403
    assert "<h1>Not allowed</h1>" in page.text
    refused = client.get("/reports/yearly", params={"year": "2027"})
    assert refused.status_code == 403
    assert [(r.actor, r.action) for r in refusals(store)] == [
        (MEMBER, "read_compliance"),
        (MEMBER, "read_compliance"),
    ]


def test_the_api_sends_the_file(client: TestClient, store: Store) -> None:
    answer = client.get(
        "/api/v1/reports/yearly/2027", params={"format": "docx"}, headers=as_(store, KANSLICHEF)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == DOCX
    refused = client.get("/api/v1/reports/yearly/2027", headers=as_(store, MEMBER))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/reports/yearly/2027").status_code == 401


@pytest.fixture
def served(engine: Engine, clock: Clock) -> Iterator[str]:
    with live_service(engine.store, clock) as url:
        yield url


def test_tsk_report_yearly_through_the_service(
    served: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = engine.store
    kanslichef = tsk_as(served, store, KANSLICHEF, tmp_path / "k", monkeypatch)
    out = tmp_path / "kf.docx"
    written = kanslichef("report", "yearly", "2027", "--format", "docx", "--out", str(out))
    assert written.exit_code == 0, written.output
    assert docx_headings(out.read_bytes())[0][0] == "Title"
    member = tsk_as(served, store, MEMBER, tmp_path / "m", monkeypatch)
    refused = member("report", "yearly", "2027", "--out", str(tmp_path / "no.pdf"))
    assert refused.exit_code == 1
    assert not (tmp_path / "no.pdf").exists()


def test_tsk_report_of_a_decision_and_a_cycle_through_the_service(
    served: str, engine: Engine, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_reports import _est_month
    from tests.test_reports_more import SECTIONS_EN

    story = _est_month(engine, clock)
    chair = tsk_as(served, engine.store, "jessica.wahlstrom", tmp_path / "c", monkeypatch)
    paper = tmp_path / "ts.docx"
    written = chair("report", "tjansteskrivelse", str(story["decision"].id), "--out", str(paper))
    assert written.exit_code == 0, written.output
    assert [
        t for s, t in docx_headings(paper.read_bytes()) if s == "Heading 1"
    ] == SECTIONS_EN  # tsk_as speaks English
    printed = tmp_path / "lb.pdf"
    cycle = story["cycle"].ref
    assert chair("report", "lagesbild", cycle, "--out", str(printed)).exit_code == 0
    assert "Graffiti" in pdf_text(printed.read_bytes())
    outsider = tsk_as(served, engine.store, "amanda.lindh", tmp_path / "o", monkeypatch)
    refused = outsider("report", "lagesbild", cycle, "--out", str(tmp_path / "no.pdf"))
    assert refused.exit_code == 1
    assert not (tmp_path / "no.pdf").exists()


# ---------------------------------------------------------------- a decision's and a cycle's


def test_a_decisions_tjansteskrivelse_and_a_lagesbild_for_print_from_their_pages(
    engine: Engine, client: TestClient, clock: Clock, store: Store
) -> None:
    from tests.test_reports import _est_month
    from tests.test_reports_more import SECTIONS_SV

    story = _est_month(engine, clock)
    decision, cycle = story["decision"].id, story["cycle"].ref
    demo_sign_in(client, "jessica.wahlstrom")  # chairs EST
    page = client.get(f"/decisions/{decision}").text
    assert f'href="/reports/tjansteskrivelse/{decision}?format=pdf"' in page
    word = client.get(f"/reports/tjansteskrivelse/{decision}", params={"format": "docx"})
    assert word.status_code == 200, word.text
    assert word.headers["content-disposition"] == (
        f'attachment; filename="tjansteskrivelse-{decision}.docx"'
    )
    assert [t for s, t in docx_headings(word.content) if s == "Heading 1"] == SECTIONS_SV
    assert f'href="/reports/lagesbild/{cycle}?format=pdf"' in client.get("/lagesbild").text
    pdf = client.get(f"/reports/lagesbild/{cycle}")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Klotter" in pdf_text(pdf.content)
    assert client.get("/reports/tjansteskrivelse/999").status_code == 404

    sign_in(client, "amanda.lindh", "en")  # of no group of EST, and no task in it
    assert client.get(f"/reports/lagesbild/{cycle}").status_code == 403
    assert client.get(f"/reports/tjansteskrivelse/{decision}").status_code == 403
    assert [(r.actor, r.action) for r in refusals(store)][-2:] == [
        ("amanda.lindh", "read"),
        ("amanda.lindh", "read"),
    ]

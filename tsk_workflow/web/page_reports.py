"""``/reports``: the reports to KS and KF (``tsk report``) in the web app.

- The yearly report to KF, for the people who answer for the work
  (``engine.compliance.may_read``: the admins, the samordningsfunktion, the chairs; anyone else
  gets a page saying they may not, and the refusal is recorded);
- a decision's tjänsteskrivelse (``/reports/tjansteskrivelse/{id}``), for whom may read the
  decision (``Decisions.readable_one``), linked from the decision's page;
- a cycle's lägesbild for print (``/reports/lagesbild/{ref}``), for whom may read the cycle,
  linked from the lägesbild's page.

A report is made when it is asked for, from the record as it is then, in the language of the
page, and sent as a file to download (``GET``: making a report changes nothing).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tsk_workflow import i18n
from tsk_workflow.engine.compliance import require_read
from tsk_workflow.reports.model import FORMATS
from tsk_workflow.web.deps import Reading
from tsk_workflow.web.pages import PageReader, render
from tsk_workflow.web.problem import Problem

router = APIRouter(include_in_schema=False)

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
FIRST_YEAR = 2000


@router.get("/reports")
def reports_page(request: Request, reader: PageReader) -> Response:
    require_read(reader.engine, reader.person)
    this_year = reader.engine.clock().astimezone(reader.engine.cal.zone).year
    context = {
        "years": list(range(this_year, max(FIRST_YEAR, this_year - 5) - 1, -1)),
        "this_year": this_year,
        "formats": FORMATS,
    }
    return render(request, "reports.html", context)


@router.get("/reports/yearly")
def yearly_file(
    reader: PageReader,
    year: Annotated[int, Query(ge=FIRST_YEAR, le=2100)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    """The yearly report to KF of ``year`` as a file."""
    return yearly_download(reader, year, format)


def yearly_download(reader: Reading, year: int, fmt: str) -> Response:
    """The yearly report as a file to download, for the page and the API
    (``GET /api/v1/reports/yearly/{year}``, which ``tsk report yearly`` calls with ``TSK_URL``)."""
    from tsk_workflow.reports.yearly import yearly

    require_read(reader.engine, reader.person)
    made = yearly(reader.engine, year, i18n.language())
    name = f"arsrapport-{reader.engine.org.municipality}-{year}.{fmt}"
    return _file(made, fmt, name)


@router.get("/reports/tjansteskrivelse/{decision_id}")
def tjansteskrivelse_file(
    reader: PageReader,
    decision_id: Annotated[int, Path(ge=1)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    """The tjänsteskrivelse of a decision the person may read, as a file."""
    return tjansteskrivelse_download(reader, decision_id, format)


def tjansteskrivelse_download(reader: Reading, decision_id: int, fmt: str) -> Response:
    """A decision's tjänsteskrivelse as a file, for whom may read the decision: for the page
    and the API (``tsk report tjansteskrivelse`` through the service)."""
    from tsk_workflow.engine.decisions import Decisions
    from tsk_workflow.reports.tjansteskrivelse import tjansteskrivelse

    Decisions(reader.engine).readable_one(reader.session, reader.person, decision_id)
    made = tjansteskrivelse(reader.engine, decision_id, i18n.language())
    return _file(made, fmt, f"tjansteskrivelse-{decision_id}.{fmt}")


@router.get("/reports/lagesbild/{cycle_ref}")
def lagesbild_file(
    reader: PageReader,
    cycle_ref: Annotated[str, Path(max_length=200)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    """The lägesbild of a cycle the person may read, for print, as a file."""
    return lagesbild_download(reader, cycle_ref, format)


def lagesbild_download(reader: Reading, cycle_ref: str, fmt: str) -> Response:
    """A cycle's lägesbild for print as a file, for whom may read the cycle: for the page and
    the API (``tsk report lagesbild`` through the service)."""
    from tsk_workflow.reports.lagesbild import lagesbild_report

    cycle = reader.engine.readable_cycle(reader.session, reader.person, cycle_ref)
    made = lagesbild_report(reader.engine, cycle.ref, i18n.language())
    return _file(made, fmt, f"lagesbild-{cycle.ref}.{fmt}")


def _file(made: object, fmt: str, name: str) -> Response:
    from tsk_workflow.reports.model import Report

    assert isinstance(made, Report)
    if fmt == "pdf":
        from tsk_workflow.reports.pdf_file import PdfUnavailable, pdf_file

        try:
            content = pdf_file(made)
        except PdfUnavailable as exc:
            raise Problem(503, "pdf-unavailable", str(exc)) from None
    else:
        from tsk_workflow.reports.docx_file import docx_file

        content = docx_file(made)
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

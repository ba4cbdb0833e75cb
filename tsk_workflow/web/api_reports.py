"""The reports as files (DOCX or PDF), which ``tsk report`` through the service (``TSK_URL``)
calls: ``GET /api/v1/reports/yearly/{year}`` for whom ``engine.compliance.may_read`` lets see it,
``.../tjansteskrivelse/{decision}`` for whom may read the decision, ``.../lagesbild/{cycle}``
for whom may read the cycle; anyone else a 403 problem, the refusal recorded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from tsk_workflow.web.deps import Reader
from tsk_workflow.web.page_reports import (
    FIRST_YEAR,
    lagesbild_download,
    tjansteskrivelse_download,
    yearly_download,
)

router = APIRouter(prefix="/api/v1")


@router.get(
    "/reports/yearly/{year}",
    tags=["reports"],
    summary="The yearly report to KF, made from the record (DOCX or PDF)",
    response_class=Response,
)
def yearly(
    reader: Reader,
    year: Annotated[int, Path(ge=FIRST_YEAR, le=2100)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    return yearly_download(reader, year, format)


@router.get(
    "/reports/tjansteskrivelse/{decision_id}",
    tags=["reports"],
    summary="A decision's tjänsteskrivelse for the body it goes to (DOCX or PDF)",
    response_class=Response,
)
def tjansteskrivelse(
    reader: Reader,
    decision_id: Annotated[int, Path(ge=1)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    return tjansteskrivelse_download(reader, decision_id, format)


@router.get(
    "/reports/lagesbild/{cycle_ref}",
    tags=["reports"],
    summary="A cycle's lägesbild for print, with its chart and map (PDF or DOCX)",
    response_class=Response,
)
def lagesbild(
    reader: Reader,
    cycle_ref: Annotated[str, Path(max_length=200)],
    format: Annotated[str, Query(pattern="^(docx|pdf)$")] = "pdf",
) -> Response:
    return lagesbild_download(reader, cycle_ref, format)

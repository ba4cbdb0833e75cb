"""``GET /api/v1/reports/yearly/{year}``: the yearly report to KF as a file (DOCX or PDF), for
whom ``engine.compliance.may_read`` lets see it (anyone else a 403 problem, the refusal
recorded); ``tsk report yearly`` through the service (``TSK_URL``) calls it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from tsk_workflow.web.deps import Reader
from tsk_workflow.web.page_reports import FIRST_YEAR, yearly_download

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

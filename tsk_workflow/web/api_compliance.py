"""``GET /api/v1/compliance``: what Lag (2023:196) asks and where the municipality stands, the
JSON ``tsk compliance --json`` prints; for whom ``engine.compliance.may_read`` lets see it
(anyone else a 403 problem, the refusal recorded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tsk_workflow.engine.compliance import compliance as standing
from tsk_workflow.engine.compliance import require_read
from tsk_workflow.web.deps import Reader

router = APIRouter(prefix="/api/v1")


@router.get(
    "/compliance",
    tags=["compliance"],
    summary="What Lag (2023:196) asks, and where the municipality stands",
)
def compliance(reader: Reader) -> dict[str, Any]:
    require_read(reader.engine, reader.person)
    return standing(reader.engine).to_dict()

"""The API's events reported at any time (``engine.events``): report one or several, and list
the reports (one's own; with ``all``, everyone's, for who may read every task)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tsk_workflow import i18n
from tsk_workflow.engine.events import MAX_EVENTS, labelled, readable_reports, report_events
from tsk_workflow.web.deps import Actor, Reader

router = APIRouter(prefix="/api/v1")

Value = str | float | int | None


class EventGiven(BaseModel):
    """One event: as a form gives it (texts), or with numbers for the point."""

    model_config = ConfigDict(extra="forbid")

    category: Value = Field(None, description="The lägesbild's category (key or name)")
    when: Value = Field(None, description="2027-03-14 or 2027-03-14T22:15 (instead of date, time)")
    date: Value = Field(None, description="YYYY-MM-DD, local")
    time: Value = Field(None, description="HH:MM, local (optional)")
    town: Value = Field(None, description="A town or area of the organisation (key or name)")
    place: Value = Field(None, description="Where in the town (optional)")
    latitude: Value = Field(None, description="WGS 84 (optional, with longitude)")
    longitude: Value = Field(None, description="WGS 84 (optional, with latitude)")
    description: Value = Field(None, description="What happened: no names")


class EventsReport(BaseModel):
    form_id: str | None = Field(
        None, max_length=64, description="The form's one-time id: a second submit makes no report"
    )
    events: list[EventGiven] = Field(min_length=1, max_length=MAX_EVENTS)


@router.post(
    "/events",
    tags=["events"],
    status_code=201,
    summary="Report one or several events (200 with the first report for a form sent again)",
)
def report(body: EventsReport, actor: Actor, response: Response) -> dict[str, Any]:
    given = [
        {key: None if value is None else str(value) for key, value in e.model_dump().items()}
        for e in body.events
    ]
    made = report_events(actor.engine, actor.person, given, form_id=body.form_id)
    if made.repeated:
        response.status_code = 200
    return labelled(actor.engine, made, i18n.language())


@router.get("/events", tags=["events"], summary="Reports of events: mine, or everyone's")
def reports(
    reader: Reader,
    month: Annotated[
        str | None, Query(max_length=7, description="Only reports with an event in YYYY-MM")
    ] = None,
    everyone: Annotated[
        bool, Query(alias="all", description="Everyone's (read_all_tasks, or an admin)")
    ] = False,
) -> list[dict[str, Any]]:
    found = readable_reports(reader.engine, reader.person, month=month, everyone=everyone)
    return [labelled(reader.engine, r, i18n.language()) for r in found]

"""The API's record: the audit trail and the refused acts (``read_audit``), a cycle's
documents (download and attach, for those who may read the cycle), its lägesbild, the year
plan as JSON and iCalendar, and the state of the mail (the admins)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from tsk_workflow import audit as trail
from tsk_workflow import i18n
from tsk_workflow.engine import access
from tsk_workflow.engine import plan as planning
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.documents import MAX_BYTES, Upload, attach
from tsk_workflow.errors import Refused
from tsk_workflow.rows import document_row
from tsk_workflow.store import cycles as stored
from tsk_workflow.store.outbox import status_counts
from tsk_workflow.store.record import refused_acts
from tsk_workflow.web.deps import Actor, Reader
from tsk_workflow.web.problem import Problem

router = APIRouter(prefix="/api/v1")


# ---------------------------------------------------------------- the audit trail


@router.get("/audit", tags=["audit"], summary="The audit trail, oldest first (read_audit)")
def audit(
    reader: Reader,
    cycle: Annotated[
        str | None, Query(max_length=200, description="Only this cycle's events")
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=64, description="Only this person's events")
    ] = None,
    since: Annotated[dt.datetime | None, Query(description="From this time (ISO 8601)")] = None,
    until: Annotated[
        dt.datetime | None, Query(description="Up to, not including, this time")
    ] = None,
) -> list[dict[str, Any]]:
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit")
    cycle_id = engine.find_cycle(reader.session, cycle).id if cycle else None
    zone = engine.cal.zone
    rows = trail.query(
        reader.session, engine.org.municipality, cycle_id, actor, since, until, tz=zone
    )
    found: list[dict[str, Any]] = json.loads(trail.rows_to_json(rows))
    return found


@router.get("/audit/refused", tags=["audit"], summary="Acts refused, and why (read_audit)")
def refused(
    reader: Reader, actor: Annotated[str | None, Query(max_length=64)] = None
) -> list[dict[str, Any]]:
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit.refused")
    rows = refused_acts(reader.session, engine.org.municipality, actor or None)
    return [row.to_dict() for row in rows]


@router.get(
    "/audit/verify", tags=["audit"], summary="Check the whole record against its chain (read_audit)"
)
def verify(reader: Reader) -> dict[str, Any]:
    """What ``tsk audit verify --json`` says: whether every event, payload and row holds. The
    signed checkpoints are kept off the database: checking against them is ``tsk audit verify
    --checkpoints``, by whoever keeps them."""
    from tsk_workflow import replay

    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit.verify")
    result = replay.verify_record(reader.session)
    return {
        "ok": result.ok,
        "events": result.checked,
        "problems": [problem.to_dict() for problem in result.problems],
    }


# ---------------------------------------------------------------- documents


@router.get("/cycles/{ref}/documents", tags=["documents"], summary="A cycle's documents")
def documents(ref: str, reader: Reader) -> list[dict[str, Any]]:
    cycle = reader.engine.readable_cycle(reader.session, reader.person, ref)
    return [document_row(d) for d in stored.documents(reader.session, cycle.id)]


@router.get(
    "/cycles/{ref}/documents/{document_id}",
    tags=["documents"],
    summary="A document's content, as attached",
    response_class=Response,
)
def document(ref: str, document_id: int, reader: Reader) -> Response:
    cycle = reader.engine.readable_cycle(reader.session, reader.person, ref)
    found = next(
        (d for d in stored.documents(reader.session, cycle.id) if d.id == document_id), None
    )
    if found is None:
        raise Problem(
            404,
            "not-found",
            i18n._("no document {id} in {cycle}").format(id=document_id, cycle=cycle.ref),
        )
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": _attachment(found.filename),
            "Digest": f"sha-256={found.sha256}",
        },
    )


@router.post(
    "/cycles/{ref}/documents", tags=["documents"], status_code=201, summary="Attach a document"
)
async def attach_document(
    ref: str,
    actor: Actor,
    file: Annotated[UploadFile, File(description="The document")],
    kind: Annotated[str, Form(max_length=32, description="protokoll, atgardsplan, ...")],
) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    content = await file.read(MAX_BYTES + 1)
    upload = Upload(file.filename or "dokument", content)
    attached = await run_in_threadpool(attach, actor.engine, actor.person, ref, upload, kind)
    return document_row(attached)


def _attachment(filename: str) -> str:
    """``Content-Disposition`` for ``filename``, safe in a header (RFC 6266, RFC 5987)."""
    from urllib.parse import quote

    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


# ---------------------------------------------------------------- the lägesbild


@router.get("/cycles/{ref}/lagesbild", tags=["lägesbild"], summary="A cycle's lägesbild")
def lagesbild(
    ref: str,
    reader: Reader,
    fmt: Annotated[Literal["json", "md", "html"], Query(alias="format")] = "json",
) -> Any:
    from tsk_workflow.lagesbild.produce import lagesbild_of, require_reports
    from tsk_workflow.lagesbild.render import render

    engine = reader.engine
    cycle = engine.readable_cycle(reader.session, reader.person, ref)
    definition = engine.definition_for(reader.session, cycle.process, cycle.process_digest)
    require_reports(definition, cycle)
    figures = lagesbild_of(
        reader.session, engine.org, definition, cycle, lang=i18n.language(), now=engine.clock()
    )
    if fmt == "json":
        return figures.to_dict()
    media = "text/html" if fmt == "html" else "text/markdown"
    return Response(render(figures, fmt), media_type=f"{media}; charset=utf-8")


# ---------------------------------------------------------------- the year plan


PlanKind = Literal["cycle_open", "meeting", "due", "reminder", "report", "review"]
Roles = Annotated[
    list[str] | None, Query(max_length=64, description="Only what concerns this role (repeatable)")
]
Kinds = Annotated[list[PlanKind] | None, Query(description="Only items of this kind (repeatable)")]


@router.get("/plan/{year}", tags=["plan"], summary="The year: openings, meetings, deadlines")
def plan(
    year: int,
    reader: Reader,
    mine: Annotated[bool, Query(description="Only what concerns my roles")] = False,
    role: Roles = None,
    kind: Kinds = None,
) -> list[dict[str, Any]]:
    items, cal = _plan_items(reader, year, mine, role, kind)
    found: list[dict[str, Any]] = planning.to_json(items, i18n.language(), cal)
    return found


@router.get(
    "/plan/{year}/ics",
    tags=["plan"],
    summary="The year as an iCalendar file",
    response_class=Response,
)
def plan_ics(
    year: int,
    reader: Reader,
    mine: Annotated[bool, Query(description="Only my roles")] = False,
    role: Roles = None,
    kind: Kinds = None,
) -> Response:
    items, cal = _plan_items(reader, year, mine, role, kind)
    org = reader.engine.org
    body = planning.to_ics(items, org, year, i18n.language(), reader.engine.clock(), cal)
    name = f"tsk-{org.municipality}-{year}.ics"
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": _attachment(name)},
    )


def _plan_items(
    reader: Reader,
    year: int,
    mine: bool,
    roles: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> tuple[list[Any], Any]:
    """The year's items (``tsk plan``'s): mine, of ``roles`` (each one the year or the
    organisation knows), of ``kinds``."""
    if not 1970 <= year <= 2200:
        raise Problem(422, "invalid", i18n._("{year} is not a year tsk plans").format(year=year))
    engine = reader.engine
    org = engine.org
    items = planning.year_plan(org, engine.catalog.definitions, year, engine.cal)
    items = planning.sort_items(
        [
            *items,
            *planning.action_items(
                Actions(engine).plan_dates(), dt.date(year, 1, 1), dt.date(year, 12, 31)
            ),
        ]
    )
    if mine:
        person = org.person(reader.person)
        mine_roles = (*person.roles, *person.deputy_for) if person is not None else ()
        items = planning.with_person(items, reader.person, mine_roles)
    if roles:
        known = set(planning.roles_of(items)) | {
            role for person in org.people for role in (*person.roles, *person.deputy_for)
        }
        unknown = [role for role in roles if role not in known]
        if unknown:
            raise Refused(
                i18n._("unknown role '{role}' in {organisation}; roles: {roles}").format(
                    role=unknown[0], organisation=org.name, roles=", ".join(sorted(known))
                )
            )
        items = planning.with_roles(items, roles)
    if kinds:
        items = [item for item in items if item.kind in kinds]
    return items, engine.cal


# ---------------------------------------------------------------- mail


@router.get("/mail/status", tags=["mail"], summary="How much mail is queued, sent, failed")
def mail_status(reader: Reader) -> dict[str, int]:
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "mail.status")
    return status_counts(reader.session, engine.org.municipality)

"""``/audit``: the audit trail for those who hold ``read_audit`` (and the admins).

The trail filtered (dates, actor, cycle, kind of event) a page at a time, and exported as CSV
(``/audit.csv``: UTF-8 with a byte-order mark, ``;`` between the cells, as Swedish
spreadsheets open it); the acts refused, with the sentence the person was given; and
``/audit/verify``: the whole record checked (``tsk audit verify``), against the checkpoints the
service keeps when it keeps them. Anyone else gets a page saying they may not, and the refusal
is recorded, as the API does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tsk_workflow import audit as trail
from tsk_workflow import checkpoints, replay
from tsk_workflow.calendar import parse_date
from tsk_workflow.canonical import canonical
from tsk_workflow.engine import access
from tsk_workflow.errors import NotFound
from tsk_workflow.i18n import _
from tsk_workflow.store.record import refused_acts
from tsk_workflow.web.deps import Reading
from tsk_workflow.web.pages import PageReader, render
from tsk_workflow.web.sessions import state_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
REFUSED_SHOWN = 50
PAYLOAD_SHOWN = 300
"""Characters of a payload shown in the table (the CSV has it whole)."""

Text = Annotated[str, Query(max_length=200)]


@dataclass
class Filters:
    """The filters of the form as given, what they mean, and what is wrong with them."""

    given: dict[str, str]
    since: dt.date | None = None
    until: dt.date | None = None
    actor: str | None = None
    cycle_id: int | None = None
    action: str | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: Any) -> str:
        """The filters as a query string (with ``changes``), for the pages' links."""
        values = {k: v for k, v in {**self.given, **changes}.items() if v not in ("", None)}
        return urlencode({k: str(v) for k, v in values.items()})


@router.get("/audit")
def audit_page(
    request: Request,
    reader: PageReader,
    since: Text = "",
    until: Text = "",
    actor: Text = "",
    cycle: Text = "",
    action: Text = "",
    page: Text = "1",
) -> Response:
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit")
    filters = _filters(reader, since, until, actor, cycle, action, page)
    zone = engine.cal.zone
    municipality = engine.org.municipality
    rows: list[trail.AuditRow] = []
    total = 0
    if not filters.errors:
        criteria = _criteria(filters, municipality)
        total = trail.count(reader.session, **criteria, tz=zone)
        rows = trail.query(
            reader.session,
            **criteria,
            tz=zone,
            limit=PAGE_SIZE,
            offset=(filters.page - 1) * PAGE_SIZE,
        )
    refused = refused_acts(reader.session, municipality, filters.actor)[-REFUSED_SHOWN:][::-1]
    pages = max(1, -(-total // PAGE_SIZE))
    kept = checkpoints.kept(state_of(request).config.environ)
    context = {
        "filters": filters,
        "given": filters.given,
        "errors": filters.errors,
        "actions": trail.actions(reader.session, municipality),
        "rows": [_row(row, reader, zone) for row in rows],
        "total": total,
        "pages": pages,
        "page": filters.page,
        "previous": filters.query(page=filters.page - 1) if filters.page > 1 else None,
        "next": filters.query(page=filters.page + 1) if filters.page < pages else None,
        "csv": filters.query(page=None),
        "refused": [
            {
                "at": _local(act.at, zone),
                "actor": act.actor,
                "name": _name(reader, act.actor),
                "action": act.action,
                "subject": act.subject,
                "reason": act.reason,
            }
            for act in refused
        ],
        "kept": kept,
        "last": _checkpoint(kept.last, zone),
    }
    return render(request, "audit_trail.html", context, status_code=422 if filters.errors else 200)


@router.get("/audit.csv")
def audit_csv(
    request: Request,
    reader: PageReader,
    since: Text = "",
    until: Text = "",
    actor: Text = "",
    cycle: Text = "",
    action: Text = "",
) -> Response:
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit")
    filters = _filters(reader, since, until, actor, cycle, action, "1")
    if filters.errors:
        return audit_page(request, reader, since, until, actor, cycle, action)
    rows = trail.query(
        reader.session, **_criteria(filters, engine.org.municipality), tz=engine.cal.zone
    )
    body = "\ufeff" + trail.rows_to_csv(rows, delimiter=";")
    name = f"tsk-audit-{engine.org.municipality}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/audit/verify")
def verify_page(request: Request, reader: PageReader) -> Response:
    """The whole record checked now: the chain, the documents, the state replayed, and the
    service's checkpoints with its key (when it has them)."""
    engine = reader.engine
    engine.require_permission(reader.person, access.READ_AUDIT, "audit.verify")
    environ = state_of(request).config.environ
    kept = checkpoints.kept(environ)
    key = checkpoints.service_public_key(environ) if kept.checkpoints else None
    wanted = checkpoints.seqs_wanted(kept.checkpoints) if key is not None else set()
    with engine.store.reading() as session:  # a fresh session: one snapshot
        result = replay.verify_record(session, hashes_at=wanted)
    if key is not None:
        anchored, found = checkpoints.check(
            kept.checkpoints, key, result.hashes, result.head_seq or 0
        )
        result = trail.with_problems(
            replace(result, anchored_to=anchored), [*kept.unreadable, *found]
        )
    zone = engine.cal.zone
    context = {
        "result": result,
        "checked_with_key": key is not None,
        "kept": kept,
        "last": _checkpoint(kept.last, zone),
        "now": _local(engine.clock(), zone),
    }
    return render(request, "audit_verify.html", context)


def _filters(
    reader: Reading, since: str, until: str, actor: str, cycle: str, action: str, page: str
) -> Filters:
    given = {
        "since": since.strip(),
        "until": until.strip(),
        "actor": actor.strip(),
        "cycle": cycle.strip(),
        "action": action.strip(),
    }
    found = Filters(given)
    for name in ("since", "until"):
        text = given[name]
        if text:
            try:
                setattr(found, name, parse_date(text))  # the years tsk takes, too
            except ValueError:
                found.errors[name] = _("Give a date as YYYY-MM-DD, such as 2027-03-14.")
    if found.since and found.until and found.until < found.since:
        found.errors["until"] = _("The last day comes before the first.")
    if len(given["actor"]) > 64:
        found.errors["actor"] = _("A person's id is at most 64 characters.")
    found.actor = given["actor"] or None
    if given["cycle"]:
        try:
            found.cycle_id = reader.engine.find_cycle(reader.session, given["cycle"]).id
        except NotFound as exc:
            found.errors["cycle"] = str(exc)
    found.action = given["action"] or None
    try:
        found.page = max(1, int(page))
    except ValueError:
        found.page = 1
    return found


def _criteria(filters: Filters, municipality: str) -> dict[str, Any]:
    return {
        "municipality": municipality,
        "cycle_id": filters.cycle_id,
        "actor": filters.actor,
        "since": filters.since,
        "until": filters.until,
        "action": filters.action,
    }


def _row(row: trail.AuditRow, reader: Reading, zone: dt.tzinfo) -> dict[str, Any]:
    if row.payload is None:
        payload = _("(missing)")
    elif row.purged_at is not None:
        payload = _("(purged {when})").format(when=_local(row.purged_at, zone))
    else:
        payload = canonical(row.payload).decode()
        if len(payload) > PAYLOAD_SHOWN:
            payload = payload[:PAYLOAD_SHOWN] + "…"
    return {
        "seq": row.seq,
        "at": _local(row.at, zone),
        "actor": row.actor,
        "name": _name(reader, row.actor),
        "role": row.role,
        "action": row.action,
        "subject": row.subject,
        "payload": payload,
    }


def _name(reader: Reading, person_id: str) -> str | None:
    person = reader.engine.org.person(person_id)
    return person.name if person is not None and person.name != person_id else None


def _local(at: dt.datetime, zone: dt.tzinfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _checkpoint(found: checkpoints.Checkpoint | None, zone: dt.tzinfo) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"seq": found.seq, "at": _local(found.at, zone), "key_id": found.key_id}

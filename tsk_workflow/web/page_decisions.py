"""The decisions' pages: the register (filtered, exported as CSV), a decision, proposing one
from a cycle (its route shown first) and recording its outcome.

The engine decides (``engine/decisions.py``): where a proposal goes and why, who may propose
and record, which values it refuses (the field named, so the form says so next to it) and the
meeting date's checks. The pages parse, show and send. A person sees the decisions of the
cycles they may read, and those they may record (``Decisions.readable``).

Proposing and recording carry a one-time ``form_id`` (``web/onetime.py``): sent twice, they
act once. Recording also carries the decision's state when the page was shown: recorded by
someone else meanwhile, the form gets a conflict page instead of recording it again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tsk_workflow import i18n
from tsk_workflow.calendar import parse_date
from tsk_workflow.engine.decisions import OUTCOMES, Decisions, normalise_paragraph
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import BODIES
from tsk_workflow.routing import Route, sek
from tsk_workflow.web import onetime
from tsk_workflow.web.deps import Acting, Reading
from tsk_workflow.web.pages import PageActor, PageReader, render
from tsk_workflow.web.problem import Problem

router = APIRouter(include_in_schema=False)

STATUSES = {
    "proposed": N_("proposed"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "postponed": N_("postponed"),
}
"""A decision's status as people read it (``approved``... are also its outcomes)."""

OPEN = ("proposed", "postponed")
"""The statuses of a decision whose outcome may still be recorded."""

Text = Annotated[str, Query(max_length=300)]


# ---------------------------------------------------------------- the register


@dataclass(frozen=True)
class Filters:
    """The register's filters, as the query string gives them ("" is no filter)."""

    body: str = ""
    status: str = ""
    year: str = ""
    process: str = ""
    q: str = ""

    def query(self) -> str:
        return urlencode({k: v for k, v in vars(self).items() if v})

    def keep(self, decision: Any, process: str, zone: Any) -> bool:
        if self.body and (decision.body or decision.routed_to) != self.body:
            return False
        if self.status and decision.status != self.status:
            return False
        if self.year and str(year_of(decision, zone)) != self.year:
            return False
        if self.process and process != self.process:
            return False
        return not self.q or self.q.casefold() in decision.title.casefold()


def year_of(decision: Any, zone: Any) -> int:
    """The year a decision is filed under: of its meeting once recorded, else of its
    proposal."""
    if decision.decided_on is not None:
        return int(decision.decided_on.year)
    return int(decision.proposed_at.astimezone(zone).year)


@dataclass(frozen=True)
class Row:
    decision: Any
    cycle: Any
    readable: bool
    """Whether the person may read the cycle (else its ref is shown without a link)."""


def register(reader: Reading, filters: Filters | None = None) -> list[Row]:
    """The decisions ``reader`` may read (``Decisions.readable``), filtered, newest first."""
    engine = reader.engine
    cycles = {c.id: c for c in engine.cycles(reader.session)}
    read = {c.id for c in engine.readable_cycles(reader.session, reader.person)}
    listed = Decisions(engine).readable(reader.session, reader.person)
    rows = [Row(d, cycles[d.cycle_id], d.cycle_id in read) for d in listed]
    if filters is not None:
        zone = engine.cal.zone
        rows = [r for r in rows if filters.keep(r.decision, r.cycle.process, zone)]
    return sorted(rows, key=lambda r: r.decision.id, reverse=True)


def _filters(body: str, status: str, year: str, process: str, q: str) -> Filters:
    return Filters(body.strip(), status.strip(), year.strip(), process.strip(), " ".join(q.split()))


@router.get("/decisions")
def decisions(
    request: Request,
    reader: PageReader,
    body: Text = "",
    status: Text = "",
    year: Text = "",
    process: Text = "",
    q: Text = "",
) -> Response:
    filters = _filters(body, status, year, process, q)
    everything = register(reader)
    rows = register(reader, filters)
    engine = reader.engine
    zone = engine.cal.zone
    context = {
        "rows": rows,
        "filters": filters,
        "query": filters.query(),
        "total": len(everything),
        "bodies": _bodies(engine),
        "statuses": {key: _(label) for key, label in STATUSES.items()},
        "years": sorted({year_of(r.decision, zone) for r in everything}, reverse=True),
        "processes": _processes(engine, {r.cycle.process for r in everything}),
        "zone": zone,
        "may_propose": any(_proposable(reader)),
    }
    return render(request, "decisions_list.html", context)


@router.get("/decisions.csv")
def decisions_csv(
    reader: PageReader,
    body: Text = "",
    status: Text = "",
    year: Text = "",
    process: Text = "",
    q: Text = "",
) -> Response:
    """The register as filtered, for Excel as Swedish offices have it: UTF-8 with a BOM,
    ``;`` between fields, dates as 2027-03-14."""
    rows = register(reader, _filters(body, status, year, process, q))
    data = to_csv(rows, reader.engine)
    name = f"beslut-{reader.engine.org.municipality}.csv"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


CSV_COLUMNS = (
    N_("Decision"),
    N_("Title"),
    N_("Process"),
    N_("Cycle"),
    N_("Cost (kr)"),
    N_("Routed to"),
    N_("Rule"),
    N_("Reason"),
    N_("Agenda date"),
    N_("Proposed by"),
    N_("Proposed"),
    N_("Status"),
    N_("Body"),
    N_("Meeting date"),
    N_("Paragraph"),
    N_("Decision text"),
    N_("Recorded by"),
    N_("Override reason"),
)


def to_csv(rows: Iterable[Row], engine: Engine) -> bytes:
    zone = engine.cal.zone
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_(name) for name in CSV_COLUMNS])
    for row in rows:
        d = row.decision
        writer.writerow(
            _cells(
                [
                    str(d.id),
                    d.title,
                    row.cycle.process,
                    row.cycle.ref,
                    _amount(d.cost),
                    d.routed_to.upper(),
                    d.rule,
                    d.reason,
                    _day(d.agenda_date),
                    d.proposed_by,
                    d.proposed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    _(STATUSES.get(d.status, d.status)),
                    (d.body or "").upper(),
                    _day(d.decided_on),
                    d.paragraph or "",
                    d.decision_text or "",
                    d.recorded_by or "",
                    d.override_reason or "",
                ]
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cells(values: list[str]) -> list[str]:
    """Text a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) kept as
    text with a leading apostrophe (OWASP's advice on CSV injection)."""
    return [f"'{v}" if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in values]


def _amount(cost: float | None) -> str:
    if cost is None:
        return ""
    return f"{cost:.0f}" if cost == int(cost) else f"{cost:.2f}".replace(".", ",")


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


# ---------------------------------------------------------------- a decision


@router.get("/decisions/new")
def new(request: Request, reader: PageReader, cycle: Text = "") -> Response:
    return _new_page(request, reader, {"cycle": cycle.strip()})


@router.post("/decisions/new")
async def propose(request: Request, actor: PageActor) -> Response:
    form = await request.form()
    given = {name: _one(form, name).strip() for name in ("cycle", "title", "cost", "form_id")}
    decisions = Decisions(actor.engine)
    attrs = {
        key: value
        for key in decisions.attributes()
        if (value := " ".join(_one(form, f"attr.{key}").split()))
    }
    errors: dict[str, str] = {}
    if not given["cycle"]:
        errors["cycle"] = _("Choose the cycle the decision comes from.")
    if not given["title"]:
        errors["title"] = _("Write what is to be decided.")
    cost = _cost(given["cost"], errors)
    route: Route | None = None
    if not errors:
        try:
            route = decisions.preview(given["title"], cost, attrs)
        except Refused as exc:
            errors[exc.field or "title"] = str(exc)
    if errors or route is None or _one(form, "action") != "propose":
        return await run_in_threadpool(
            lambda: _reading_page(request, actor, given, attrs, route, errors, cost)
        )
    if not given["form_id"]:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))

    def act() -> str:
        made, _route = decisions.propose(actor.person, given["cycle"], given["title"], cost, attrs)
        return f"/decisions/{made.id}?proposed=1"

    key = onetime.key(actor.engine.org.municipality, actor.person, "propose", given["form_id"])
    try:
        where, _ran = await run_in_threadpool(lambda: onetime.of(request).once(key, act))
    except Refused as exc:  # PermissionDenied too, about the cycle
        errors[exc.field or "cycle"] = str(exc)
    except NotFound as exc:
        errors["cycle"] = str(exc)
    if errors:
        return await run_in_threadpool(
            lambda: _reading_page(request, actor, given, attrs, None, errors)
        )
    return RedirectResponse(where, status_code=303)


def _reading_page(
    request: Request,
    actor: Acting,
    given: dict[str, str],
    attrs: dict[str, str],
    route: Route | None,
    errors: dict[str, str],
    cost: float | None = None,
) -> Response:
    with actor.engine.store.reading() as session:
        reader = Reading(actor.someone, actor.engine, session)
        return _new_page(request, reader, given, attrs, route, errors, cost)


def _new_page(
    request: Request,
    reader: Reading,
    given: Mapping[str, str],
    attrs: Mapping[str, str] | None = None,
    route: Route | None = None,
    errors: Mapping[str, str] | None = None,
    cost: float | None = None,
) -> Response:
    engine = reader.engine
    lang = i18n.language()
    context = {
        "cycles": list(_proposable(reader)),
        "given": {"title": "", "cost": "", "cycle": "", **given},
        "attributes": Decisions(engine).attributes(),
        "attrs": attrs or {},
        "route": route,
        "route_body": _bodies(engine).get(route.body, route.body.upper()) if route else None,
        "route_reason": route.reason(lang) if route else None,
        "errors": errors or {},
        "form_id": given.get("form_id") or onetime.new_form_id(),
        "cost_text": sek(cost) if route is not None and cost is not None else None,
    }
    return render(request, "decisions_new.html", context, status_code=422 if errors else 200)


def _proposable(reader: Reading) -> Iterable[Any]:
    """The open cycles the person may read and propose a decision from."""
    decisions = Decisions(reader.engine)
    for cycle in reader.engine.readable_cycles(reader.session, reader.person, only_open=True):
        if decisions.may_propose(reader.person, cycle):
            yield cycle


def _cost(text: str, errors: dict[str, str]) -> float | None:
    if not text:
        return None
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".").removesuffix("kr")
    try:
        value = float(cleaned)
    except ValueError:
        errors["cost"] = _("Write the cost in kronor as a number, such as 250000.")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        errors["cost"] = _("Write the cost in kronor as a number, such as 250000.")
        return None
    return value


@router.get("/decisions/{decision_id}")
def show(request: Request, reader: PageReader, decision_id: int) -> Response:
    return _show(request, reader, decision_id, {}, {})


@router.get("/decisions/{decision_id}/record")
def show_to_record(request: Request, reader: PageReader, decision_id: int) -> Response:
    """The decision's page at its form's address: where a browser comes back to after
    signing in when the form was sent after the session ended."""
    return _show(request, reader, decision_id, {}, {})


def _show(
    request: Request,
    reader: Reading,
    decision_id: int,
    given: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    engine = reader.engine
    decision = _readable(reader, decision_id)
    cycle = engine.find_cycle(reader.session, decision.cycle_id)
    zone = engine.cal.zone
    context = {
        "decision": decision,
        "cycle": cycle,
        "cycle_readable": any(
            c.id == cycle.id for c in engine.readable_cycles(reader.session, reader.person)
        ),
        "status": _(STATUSES.get(decision.status, decision.status)),
        "bodies": _bodies(engine),
        "without_meeting": _without_meeting(engine),
        "outcomes": {key: _(STATUSES[key]) for key in OUTCOMES},
        "open": decision.status in OPEN,
        "proposed_at": decision.proposed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "recorded_at": (
            decision.recorded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            if decision.recorded_at
            else None
        ),
        "cost_text": sek(decision.cost) if decision.cost is not None else None,
        "given": {"body": decision.routed_to, "date": "", "paragraph": "", **given},
        "errors": errors,
        "refused": refused,
        "form_id": given.get("form_id") or onetime.new_form_id(),
        "seen": _seen(decision),
        "proposed": request.query_params.get("proposed") == "1",
        "recorded": request.query_params.get("recorded") == "1",
        "names": {p.id: p.name for p in engine.org.people},
    }
    return render(request, "decisions_show.html", context, status_code=status_code)


def _readable(reader: Reading, decision_id: int) -> Any:
    """The decision, if the person may read it (a refusal is recorded otherwise)."""
    return Decisions(reader.engine).readable_one(reader.session, reader.person, decision_id)


def _seen(decision: Any) -> str:
    """The state of a decision as a page showed it: changed, a form from it is stale."""
    recorded = decision.recorded_at.isoformat() if decision.recorded_at else ""
    return f"{decision.status}:{recorded}"


RECORD_FIELDS = (
    "body",
    "date",
    "paragraph",
    "outcome",
    "decision_text",
    "override_reason",
    "extra_meeting",
    "form_id",
    "seen",
)


@router.post("/decisions/{decision_id}/record")
async def record(request: Request, actor: PageActor, decision_id: int) -> Response:
    form = await request.form()
    given = {name: _one(form, name).strip() for name in RECORD_FIELDS}
    return await run_in_threadpool(lambda: _record(request, actor, decision_id, given))


def _record(request: Request, actor: Acting, decision_id: int, given: dict[str, str]) -> Response:
    engine = actor.engine
    errors: dict[str, str] = {}
    bodies = _bodies(engine)
    if given["body"] not in bodies:
        errors["body"] = _("Choose the body that decided.")
    day: dt.date | None = None
    if not given["date"]:
        errors["date"] = _("Write the date of the meeting, such as 2027-03-14.")
    else:
        try:
            day = parse_date(given["date"])  # the years tsk takes, too
        except ValueError:
            errors["date"] = _("{text} is not a date: write it as 2027-03-14.").format(
                text=given["date"]
            )
    if not given["paragraph"]:
        errors["paragraph"] = _("Write the paragraph of the minutes, such as § 160.")
    else:
        try:
            normalise_paragraph(given["paragraph"], Decisions(engine).meets(given["body"]))
        except Refused as exc:
            errors["paragraph"] = str(exc)
    if given["outcome"] not in OUTCOMES:
        errors["outcome"] = _("Choose the outcome.")
    if not given["form_id"]:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))

    def page(**extra: Any) -> Response:
        with engine.store.reading() as session:
            reader = Reading(actor.someone, engine, session)
            return _show(request, reader, decision_id, given, errors, **extra)

    if errors or day is None:
        return page(status_code=422)
    key = onetime.key(
        engine.org.municipality, actor.person, f"record:{decision_id}", given["form_id"]
    )

    def act() -> str:
        with engine.store.reading() as session:
            now = _seen(_readable(Reading(actor.someone, engine, session), decision_id))
        if now != given["seen"]:
            raise _Changed
        Decisions(engine).record(
            actor.person,
            decision_id,
            given["body"],
            day,
            given["paragraph"],
            given["outcome"],
            override_reason=given["override_reason"] or None,
            text=given["decision_text"] or None,
            extra_meeting=given["extra_meeting"] == "1",
        )
        return f"/decisions/{decision_id}?recorded=1"

    try:
        where, _ran = onetime.of(request).once(key, act)
    except _Changed:
        raise Problem(
            409,
            "conflict",
            _(
                "Someone else recorded this decision while you had the page open; nothing was"
                " recorded from your form. Open the decision again to see its outcome."
            ),
        ) from None
    except PermissionDenied as exc:
        return page(refused=str(exc), status_code=403)
    except Refused as exc:
        if exc.field is None:
            return page(refused=str(exc), status_code=409)
        errors[exc.field] = str(exc)
        return page(status_code=422)
    return RedirectResponse(where, status_code=303)


class _Changed(Exception):
    """The decision changed after the page was shown."""


# ---------------------------------------------------------------- helpers


def _bodies(engine: Engine) -> dict[str, str]:
    """The bodies a decision can be routed to and recorded for, by key: their names, in the
    order of ``BODIES`` (KLG, KS, KF, the styrgrupp, the department, a delegate)."""
    bodies = engine.org.bodies
    return {key: bodies[key].name for key in BODIES if key in bodies}


def _without_meeting(engine: Engine) -> list[str]:
    """The bodies that decide without a meeting: their decisions have a number, not a §."""
    return [key for key, body in engine.org.bodies.items() if not body.meets]


def _processes(engine: Engine, keys: Iterable[str]) -> dict[str, str]:
    lang = i18n.language()
    names = {}
    for key in sorted(keys):
        try:
            names[key] = engine.catalog.definition(key).title.get(lang)
        except NotFound:  # a process no longer defined: its key
            names[key] = key
    return names


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""

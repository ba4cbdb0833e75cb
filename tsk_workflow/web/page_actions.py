"""The action register's pages: the register (filtered, exported as CSV), an action in full
with its follow-ups and forms, adding an action, and the decided åtgärdsplan.

The engine decides (``engine/actions.py``, ``engine/action_plans.py``): who may add, change
and follow up an action, which values it refuses (each by its field, so that the form says so
next to it) and that a change of status needs a note. The pages parse, show and send. Everyone
of the organisation may read the register: it is the municipality's plan, not personal data.

The forms that act carry a one-time ``form_id`` (``web/onetime.py``): sent twice, they act
once. The edit form also carries the action's fields as the page showed them (a digest):
changed by someone else meanwhile, the form gets a conflict instead of overwriting it.
"""

from __future__ import annotations

import csv
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
from tsk_workflow.canonical import digest
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import (
    FIELDS,
    PROMISE_PROCESS,
    STATE_WORDS,
    STATUS_WORDS,
    Actions,
    ActionView,
    InvalidAction,
    may_manage,
)
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.events import categories, places
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.routing import sek
from tsk_workflow.web import onetime
from tsk_workflow.web.deps import Acting, Reading
from tsk_workflow.web.page_decisions import _amount, _cells
from tsk_workflow.web.pages import PageActor, PageReader, render
from tsk_workflow.web.problem import Problem

router = APIRouter(include_in_schema=False)

STATUS_MEANING = {
    "green": N_("on track"),
    "yellow": N_("at risk"),
    "red": N_("off track"),
}
STATE_CHOICES = {
    "active": N_("Active"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
    "all": N_("All"),
}
EDITED = tuple(name for name in FIELDS if name != "status")
"""The fields of the edit form: a status changes with a follow-up that says why."""

Text = Annotated[str, Query(max_length=300)]


# ---------------------------------------------------------------- the register


@dataclass(frozen=True)
class Filters:
    """The register's filters, as the query string gives them ("" is no filter)."""

    state: str = "active"
    status: str = ""
    owner: str = ""
    mine: str = ""
    overdue: str = ""
    cycle: str = ""

    def query(self) -> str:
        values = {k: v for k, v in vars(self).items() if v and not (k == "state" and v == "active")}
        return urlencode(values)


def _filters(state: str, status: str, owner: str, mine: str, overdue: str, cycle: str) -> Filters:
    state = state.strip() or "active"
    return Filters(
        state if state in STATE_CHOICES else "active",
        status.strip() if status.strip() in STATUS_WORDS else "",
        owner.strip(),
        "1" if mine.strip() else "",
        "1" if overdue.strip() else "",
        cycle.strip(),
    )


def register(engine: Engine, person: str, filters: Filters) -> list[ActionView]:
    """The actions the filters keep, by due date (none for a cycle that does not exist)."""
    try:
        return Actions(engine).listing(
            states=None if filters.state == "all" else (filters.state,),
            owner=person if filters.mine else (filters.owner or None),
            cycle=filters.cycle or None,
            status=filters.status or None,
            overdue=bool(filters.overdue),
        )
    except NotFound:
        return []


@router.get("/actions")
def actions(
    request: Request,
    reader: PageReader,
    state: Text = "",
    status: Text = "",
    owner: Text = "",
    mine: Text = "",
    overdue: Text = "",
    cycle: Text = "",
) -> Response:
    filters = _filters(state, status, owner, mine, overdue, cycle)
    engine = reader.engine
    everything = Actions(engine).listing(states=None)
    rows = register(engine, reader.person, filters)
    cycles = _cycle_refs(reader)
    context = {
        "rows": rows,
        "filters": filters,
        "query": filters.query(),
        "total": len(everything),
        "statuses": _words(STATUS_WORDS),
        "states": _words(STATE_CHOICES),
        "owners": _owners(engine, everything),
        "cycles": {
            ref: ref for ref in sorted({cycles[a.cycle_id] for a in everything if a.cycle_id})
        },
        "cycle_refs": cycles,
        "readable": _readable_cycles(reader),
        "may_add": _may_add(engine, reader.person),
        "late": {a.id: _overdue_text(a, engine) for a in rows},
        **_shown(engine),
    }
    return render(request, "actions_list.html", context)


@router.get("/actions.csv")
def actions_csv(
    reader: PageReader,
    state: Text = "",
    status: Text = "",
    owner: Text = "",
    mine: Text = "",
    overdue: Text = "",
    cycle: Text = "",
) -> Response:
    """The register as filtered, for Excel as Swedish offices have it: UTF-8 with a BOM,
    ``;`` between fields, dates as 2027-03-14, formulas kept as text."""
    filters = _filters(state, status, owner, mine, overdue, cycle)
    rows = register(reader.engine, reader.person, filters)
    data = to_csv(rows, reader.engine, _cycle_refs(reader))
    name = f"atgarder-{reader.engine.org.municipality}.csv"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


CSV_COLUMNS = (
    N_("Action no."),
    N_("Action"),
    N_("Cause"),
    N_("Operative goal"),
    N_("Start"),
    N_("Due"),
    N_("Owner"),
    N_("Organisation"),
    N_("Follow-up plan"),
    N_("Status"),
    N_("State"),
    N_("Overdue"),
    N_("Cost (kr)"),
    N_("Category"),
    N_("Town or area"),
    N_("Place"),
    N_("Cycle"),
    N_("Decision"),
    N_("Medborgarlöfte"),
    N_("Last follow-up"),
    N_("Last note"),
)


def to_csv(rows: Iterable[ActionView], engine: Engine, cycles: Mapping[int, str]) -> bytes:
    shown = _shown(engine)
    names, labels, towns = shown["names"], shown["labels"], shown["towns"]
    zone = engine.cal.zone
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_(name) for name in CSV_COLUMNS])
    for a in rows:
        last = a.last_followup
        writer.writerow(
            _cells(
                [
                    str(a.id),
                    a.title,
                    a.cause,
                    a.goal or "",
                    a.start.isoformat(),
                    a.due.isoformat(),
                    names.get(a.owner, a.owner),
                    a.owner_organisation or "",
                    a.followup_plan or "",
                    _(STATUS_WORDS.get(a.status, a.status)),
                    _(STATE_WORDS.get(a.state, a.state)),
                    _("yes") if a.overdue else "",
                    _amount(a.cost),
                    labels.get(a.category, a.category or "") if a.category else "",
                    towns.get(a.town, a.town or "") if a.town else "",
                    a.place or "",
                    cycles.get(a.cycle_id, "") if a.cycle_id else "",
                    str(a.decision_id or ""),
                    cycles.get(a.promise_cycle_id, "") if a.promise_cycle_id else "",
                    last.at.astimezone(zone).strftime("%Y-%m-%d") if last else "",
                    (last.note or "") if last else "",
                ]
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- adding an action


@router.get("/actions/new")
def new(request: Request, reader: PageReader, cycle: Text = "") -> Response:
    given = {"cycle": cycle.strip()} if cycle.strip() else {}
    return _new_page(request, reader, given, {})


@router.post("/actions/new")
async def add(request: Request, actor: PageActor) -> Response:
    form = await request.form()
    given = {name: _one(form, name) for name in (*FIELDS, "form_id")}
    return await run_in_threadpool(lambda: _add(request, actor, given))


def _add(request: Request, actor: Acting, given: dict[str, str]) -> Response:
    if not given["form_id"]:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))
    engine = actor.engine
    sent = {name: given[name] for name in FIELDS if given[name].strip()}
    key = onetime.key(engine.org.municipality, actor.person, "action.add", given["form_id"])

    def act() -> str:
        made = Actions(engine).add(actor.person, sent)
        return f"/actions/{made.id}?added=1"

    def page(errors: Mapping[str, str], refused: str | None, status: int) -> Response:
        with engine.store.reading() as session:
            reader = Reading(actor.someone, engine, session)
            return _new_page(request, reader, given, errors, refused=refused, status_code=status)

    try:
        where, _ran = onetime.of(request).once(key, act)
    except InvalidAction as exc:
        return page(exc.by_field(), None, 422)
    except PermissionDenied as exc:
        return page({}, str(exc), 403)
    except Refused as exc:
        if exc.field is not None:
            return page({exc.field: str(exc)}, None, 422)
        return page({}, str(exc), 409)
    return RedirectResponse(where, status_code=303)


def _new_page(
    request: Request,
    reader: Reading,
    given: Mapping[str, str],
    errors: Mapping[str, str],
    *,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    engine = reader.engine
    may = _may_add(engine, reader.person)
    if not may and refused is None:
        refused = _(
            "Only the coordinators, the chairs of the groups and the samordningsfunktion may"
            " add actions; the members of a group, to its cycles."
        )
        status_code = 403
    today = engine.clock().astimezone(engine.cal.zone).date().isoformat()
    context = {
        "given": dict.fromkeys(FIELDS, "") | {"start": today, "status": "green"} | dict(given),
        "errors": errors,
        "refused": refused,
        "may": may,
        "form_id": given.get("form_id") or onetime.new_form_id(),
        **_choices(reader, given),
        **_shown(engine),
    }
    return render(request, "actions_new.html", context, status_code=status_code)


# ---------------------------------------------------------------- the åtgärdsplan


@router.get("/actions/plan")
def plan(request: Request, reader: PageReader) -> Response:
    engine = reader.engine
    versions = action_plans.versions(engine)
    by_id = {a.id: a for a in Actions(engine).listing(states=None)}
    readable_decisions = {d.id for d in Decisions(engine).readable(reader.session, reader.person)}
    context = {
        "versions": [
            (v, [by_id[n] for n in v.action_ids if n in by_id], _plan_status(v)) for v in versions
        ],
        "readable_decisions": readable_decisions,
        "in_force": next((v for v in versions if v.in_force), None),
        "late": {n: _overdue_text(a, engine) for n, a in by_id.items()},
        **_shown(engine),
    }
    return render(request, "actions_plan.html", context)


def _plan_status(version: action_plans.PlanVersion) -> str:
    body = (version.body or version.routed_to or "").upper()
    if version.status == "approved":
        return _("adopted by {body} {date} {paragraph}").format(
            body=body,
            date=version.decided_on.isoformat() if version.decided_on else "",
            paragraph=version.paragraph or "",
        )
    return {
        "proposed": _("proposed to {body}"),
        "rejected": _("rejected by {body}"),
        "postponed": _("postponed by {body}"),
    }.get(version.status, version.status).format(body=body)


# ---------------------------------------------------------------- an action


@router.get("/actions/review")
def review_page(request: Request, reader: PageReader) -> Response:
    """The styrgrupp's follow-up (``tsk action review``): the plan in force, each of its
    actions with its last follow-up and its effect, and how many are carried out."""
    from tsk_workflow.lagesbild.effect import review
    from tsk_workflow.routing import sek

    engine = reader.engine
    found = review(engine)
    context = {
        "found": found,
        "plan_status": _plan_status(found.plan) if found.plan is not None else None,
        "late": {item.action.id: _overdue_text(item.action, engine) for item in found.items},
        "cost": sek(found.cost) if found.cost is not None else None,
        "cost_done": sek(found.cost_done or 0) if found.cost is not None else None,
        **_shown(engine),
    }
    return render(request, "actions_review.html", context)


@router.get("/actions/{action_id}")
def show(request: Request, reader: PageReader, action_id: int) -> Response:
    return _show(request, reader, action_id)


def _show(
    request: Request,
    reader: Reading,
    action_id: int,
    *,
    followup: Mapping[str, str] | None = None,
    edit: Mapping[str, str] | None = None,
    followup_errors: Mapping[str, str] | None = None,
    edit_errors: Mapping[str, str] | None = None,
    refused: str | None = None,
    status_code: int = 200,
) -> Response:
    engine = reader.engine
    register = Actions(engine)
    view = register.show(action_id)
    cycles = _cycle_refs(reader)
    may_change = register.may_change(reader.person, view)
    readable_decisions = {d.id for d in Decisions(engine).readable(reader.session, reader.person)}
    shown = edit if edit is not None else _current(view, cycles)
    context = {
        "action": view,
        "cycle_refs": cycles,
        "readable": _readable_cycles(reader),
        "decision_readable": view.decision_id in readable_decisions,
        "may_follow_up": register.may_follow_up(reader.person, view),
        "may_change": may_change,
        "followup": {"status": "", "state": "", "note": "", **(followup or {})},
        "followup_errors": followup_errors or {},
        "followup_form_id": (followup or {}).get("form_id") or onetime.new_form_id(),
        "edit": shown,
        "edit_errors": edit_errors or {},
        "edit_form_id": (edit or {}).get("form_id") or onetime.new_form_id(),
        "seen": _seen(_current(view, cycles)),
        "refused": refused,
        "overdue_text": _overdue_text(view, engine),
        "cost_text": sek(view.cost) if view.cost is not None else None,
        "added": request.query_params.get("added") == "1",
        "followed_up": request.query_params.get("followed_up") == "1",
        "changed": request.query_params.get("changed") == "1",
        "effect": effect(engine, view),
        # The action's own cycle stays a choice even where the editor may not read it.
        **(_choices(reader, shown) if may_change else {}),
        **_shown(engine),
    }
    return render(request, "actions_show.html", context, status_code=status_code)


def effect(engine: Engine, view: ActionView) -> dict[str, Any]:
    """The effect follow-up of the action (``lagesbild/effect.py``) as its page shows it: the
    judgement in words, the windows compared, and the safety survey's rounds."""
    from tsk_workflow.lagesbild.effect import effect_of

    found = effect_of(engine, view)
    return {
        "summary": found.summary,
        "windows": found.window_lines(),
        "survey": found.survey.line() if found.survey is not None else None,
    }


FOLLOWUP_FIELDS = ("status", "state", "note", "form_id")


def _again(
    request: Request,
    actor: Acting,
    action_id: int,
    form: str,
    given: Mapping[str, str],
    errors: Mapping[str, str],
    refused: str | None,
    status: int,
) -> Response:
    """The action's page again after its ``form`` (``followup`` or ``edit``) was sent: the
    values kept, each problem by its field, or the refusal."""
    with actor.engine.store.reading() as session:
        reader = Reading(actor.someone, actor.engine, session)
        shown: dict[str, Any] = {form: given, f"{form}_errors": errors}
        return _show(request, reader, action_id, refused=refused, status_code=status, **shown)


@router.post("/actions/{action_id}/followup")
async def follow_up(request: Request, actor: PageActor, action_id: int) -> Response:
    form = await request.form()
    given = {name: _one(form, name) for name in FOLLOWUP_FIELDS}
    return await run_in_threadpool(lambda: _follow_up(request, actor, action_id, given))


def _follow_up(request: Request, actor: Acting, action_id: int, given: dict[str, str]) -> Response:
    if not given["form_id"]:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))
    engine = actor.engine
    key = onetime.key(
        engine.org.municipality, actor.person, f"action.followup:{action_id}", given["form_id"]
    )

    def act() -> str:
        Actions(engine).followup(
            actor.person,
            action_id,
            status=given["status"].strip() or None,
            state=given["state"].strip() or None,
            note=given["note"] or None,
        )
        return f"/actions/{action_id}?followed_up=1#followups"

    def page(errors: Mapping[str, str], refused: str | None, status: int) -> Response:
        return _again(request, actor, action_id, "followup", given, errors, refused, status)

    try:
        where, _ran = onetime.of(request).once(key, act)
    except InvalidAction as exc:
        return page(exc.by_field(), None, 422)
    except PermissionDenied as exc:
        return page({}, str(exc), 403)
    except Refused as exc:
        return page({}, str(exc), 409)
    return RedirectResponse(where, status_code=303)


@router.post("/actions/{action_id}/edit")
async def edit(request: Request, actor: PageActor, action_id: int) -> Response:
    form = await request.form()
    given = {name: _one(form, name) for name in (*EDITED, "form_id", "seen")}
    return await run_in_threadpool(lambda: _edit(request, actor, action_id, given))


def _edit(request: Request, actor: Acting, action_id: int, given: dict[str, str]) -> Response:
    if not given["form_id"]:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))
    engine = actor.engine
    register = Actions(engine)
    key = onetime.key(
        engine.org.municipality, actor.person, f"action.update:{action_id}", given["form_id"]
    )

    def act() -> str:
        with engine.store.reading() as session:
            current = _current(register.show(action_id), _cycle_refs_of(engine, session))
        if _seen(current) != given["seen"]:
            raise _Changed
        changed = {name: given[name] for name in EDITED if given[name] != current[name]}
        if "latitude" in changed or "longitude" in changed:  # a point is given whole
            changed |= {"latitude": given["latitude"], "longitude": given["longitude"]}
        if changed:
            register.update(actor.person, action_id, changed)
        return f"/actions/{action_id}?changed=1"

    def page(errors: Mapping[str, str], refused: str | None, status: int) -> Response:
        return _again(request, actor, action_id, "edit", given, errors, refused, status)

    try:
        where, _ran = onetime.of(request).once(key, act)
    except _Changed:
        raise Problem(
            409,
            "conflict",
            _(
                "Someone else changed this action while you had the page open; nothing was"
                " changed from your form. Open the action again to see it as it is now."
            ),
        ) from None
    except InvalidAction as exc:
        return page(exc.by_field(), None, 422)
    except PermissionDenied as exc:
        return page({}, str(exc), 403)
    except Refused as exc:
        if exc.field is not None:
            return page({exc.field: str(exc)}, None, 422)
        return page({}, str(exc), 409)
    return RedirectResponse(where, status_code=303)


class _Changed(Exception):
    """The action changed after the page was shown."""


def _seen(current: Mapping[str, str]) -> str:
    """The fields of an action as a page showed them, as a digest: changed since, the edit
    form from that page is stale (a follow-up meanwhile is not a change of its fields)."""
    return digest({name: current[name] for name in EDITED})


# ---------------------------------------------------------------- helpers


def _current(view: ActionView, cycles: Mapping[int, str]) -> dict[str, str]:
    """An action's fields as its edit form shows them (and as :func:`_edit` compares them)."""
    return {
        "title": view.title,
        "cause": view.cause,
        "goal": view.goal or "",
        "start": view.start.isoformat(),
        "due": view.due.isoformat(),
        "owner": view.owner,
        "owner_organisation": view.owner_organisation or "",
        "followup_plan": view.followup_plan or "",
        "status": view.status,
        "cost": _amount(view.cost),
        "category": view.category or "",
        "town": view.town or "",
        "place": view.place or "",
        "latitude": f"{view.point[0]:g}" if view.point else "",
        "longitude": f"{view.point[1]:g}" if view.point else "",
        "window_days": str(view.window_days),
        "cycle": cycles.get(view.cycle_id, "") if view.cycle_id else "",
        "decision": str(view.decision_id or ""),
        "promise": cycles.get(view.promise_cycle_id, "") if view.promise_cycle_id else "",
    }


def _overdue_text(view: ActionView, engine: Engine) -> str | None:
    """How late an active action is, in words: ``3 days overdue``."""
    if not view.overdue:
        return None
    today = engine.clock().astimezone(engine.cal.zone).date()
    days = (today - view.due).days
    return ngettext("{n} day overdue", "{n} days overdue", days).format(n=days)


def _shown(engine: Engine) -> dict[str, Any]:
    """What the pages show by name: people, categories, towns and areas; the words of the
    statuses and states; the day it is."""
    lang = i18n.language()
    today = engine.clock().astimezone(engine.cal.zone).date()
    return {
        "names": {p.id: p.name for p in engine.org.people},
        "labels": {key: label.get(lang) for key, label in categories(engine).items()},
        "towns": places(engine.org),
        "status_words": _words(STATUS_WORDS),
        "status_meaning": _words(STATUS_MEANING),
        "state_words": _words(STATE_WORDS),
        "zone": engine.cal.zone,
        "today": today,
    }


def _choices(reader: Reading, given: Mapping[str, str]) -> dict[str, Any]:
    """The choices of the add and edit forms: people, cycles, medborgarlöften, decisions."""
    engine = reader.engine
    readable = engine.readable_cycles(reader.session, reader.person)
    if not may_manage(engine, reader.person):  # a member adds to their group's cycles only
        readable = [c for c in readable if may_manage(engine, reader.person, c.group_key)]
    cycles = [c.ref for c in sorted(readable, key=lambda c: c.id, reverse=True)]
    promises = [c.ref for c in readable if c.process == PROMISE_PROCESS]
    for name, listed in (("cycle", cycles), ("promise", promises)):
        wanted = given.get(name, "")
        if wanted and wanted not in listed:  # kept as given: the engine says what is wrong
            listed.insert(0, wanted)
    decisions = Decisions(engine).readable(reader.session, reader.person)
    return {
        "people": sorted(engine.org.people, key=lambda p: p.name),
        "cycle_choices": cycles,
        "promise_choices": promises,
        "decision_choices": [(str(d.id), d.title) for d in sorted(decisions, key=lambda d: -d.id)],
        "category_choices": list(categories(engine)),
    }


def _may_add(engine: Engine, person: str) -> bool:
    """Whether the person may add an action: a manager, or a member of a group (to its
    cycles; the engine checks the cycle when the form is sent)."""
    groups = [None, *(g.key for g in engine.org.groups if person in g.members)]
    return any(may_manage(engine, person, group) for group in groups)


def _cycle_refs(reader: Reading) -> dict[int, str]:
    return _cycle_refs_of(reader.engine, reader.session)


def _cycle_refs_of(engine: Engine, session: Any) -> dict[int, str]:
    """Every cycle's ref by id: an action names its cycle whether or not one may read it."""
    return {c.id: c.ref for c in engine.cycles(session)}


def _readable_cycles(reader: Reading) -> set[int]:
    return {c.id for c in reader.engine.readable_cycles(reader.session, reader.person)}


def _owners(engine: Engine, views: Iterable[ActionView]) -> dict[str, str]:
    """The people who own an action, by id: their names, sorted by name."""
    names = {p.id: p.name for p in engine.org.people}
    owners = {v.owner: names.get(v.owner, v.owner) for v in views}
    return dict(sorted(owners.items(), key=lambda item: item[1]))


def _words(words: Mapping[str, str]) -> dict[str, str]:
    return {key: _(label) for key, label in words.items()}


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:10_000] if isinstance(value, str) else ""

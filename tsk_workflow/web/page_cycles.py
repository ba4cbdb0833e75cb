"""The cycle pages: ``/cycles`` (the cycles a person may read, filtered) and ``/cycles/{ref}``
(its steps, tasks and documents, what can fire now and why not), with the chair's forms to
advance and close it.

The engine decides everything, as for ``tsk cycle``: who may read a cycle
(``Engine.readable_cycle``), what can fire and why not (``Engine.possible_transitions``), and
whether an advance or a close is allowed (``Engine.advance``, ``Engine.close_cycle``: a refusal
is shown in the engine's words, a permission refusal recorded by it). Each form carries the
step the page showed (``step``): the engine refuses with a ``Conflict`` when the cycle is no
longer there (someone acted meanwhile, or the same form was sent twice), and the page says so
(409) with a link to the cycle as it is now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tsk_workflow import audit as trail
from tsk_workflow import forms, i18n
from tsk_workflow.engine.actions import Actions, may_manage
from tsk_workflow.engine.directory import SYSTEM, PermissionDenied
from tsk_workflow.engine.documents import documents
from tsk_workflow.engine.plan import cycle_title
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Conflict, Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.web.deps import Acting
from tsk_workflow.web.pages import PageActor, PageReader, pending_fields, render

if TYPE_CHECKING:
    from tsk_workflow.definitions.model import ProcessDefinition
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle

router = APIRouter(include_in_schema=False)

NOTE_MAX = 10_000
"""The longest note a form takes (as the API)."""
FLASH = "cycles_flash"
"""The session's key for what the last act did, shown once on the cycle's page."""

_STATUSES = {"open": N_("open"), "done": N_("done"), "cancelled": N_("cancelled")}
_CYCLE_STATUSES = {"open": N_("open"), "closed": N_("closed")}


# ---------------------------------------------------------------- the list


@router.get("/cycles")
def cycle_list(request: Request, reader: PageReader) -> Response:
    engine = reader.engine
    org = engine.org
    lang = i18n.language()
    given = {name: request.query_params.get(name, "").strip() for name in ("process", "status")}
    given["year"] = request.query_params.get("year", "").strip()
    errors: dict[str, str] = {}
    process = given["process"] or None
    if process is not None and process not in org.processes:
        errors["process"] = _("{organisation} does not run the process '{process}'").format(
            organisation=org.name, process=process
        )
        process = None
    status = given["status"] or "all"
    if status not in ("all", "open", "closed"):
        errors["status"] = _("Choose open, closed or all.")
        status = "all"
    year = None
    if given["year"]:
        if given["year"].isdigit() and 2000 <= int(given["year"]) <= 2100:
            year = int(given["year"])
        else:
            errors["year"] = _("Give a year such as 2027.")
    found = engine.readable_cycles(
        reader.session, reader.person, only_open=status == "open", process=process
    )
    rows = []
    for cycle in found:
        if status == "closed" and cycle.status != "closed":
            continue
        if year is not None and _year(cycle, engine) != year:
            continue
        definition = engine.definition_for(reader.session, cycle.process, cycle.process_digest)
        rows.append(
            {
                "ref": cycle.ref,
                "title": _cycle_title(engine, definition, cycle, lang),
                "period": cycle.period,
                "step": _step_title(definition, cycle.state, lang),
                "status": _(_CYCLE_STATUSES.get(cycle.status, cycle.status)),
                "open": cycle.status == "open",
                "open_tasks": sum(task.status == "open" for task in cycle.tasks),
            }
        )
    processes = [
        (key, engine.catalog.definition(key).title.get(lang)) for key in sorted(org.processes)
    ]
    context = {
        "rows": rows,
        "given": given,
        "errors": errors,
        "processes": processes,
        "status": status,
    }
    return render(request, "cycles_list.html", context, status_code=422 if errors else 200)


def _year(cycle: Cycle, engine: Engine) -> int:
    """The year a cycle is of: its period's (``2027-03``, ``2027-t2``, ``2027``), else the
    year it was opened in, in the organisation's time."""
    head = (cycle.period or "")[:4]
    if head.isdigit():
        return int(head)
    return cycle.opened_at.astimezone(engine.cal.zone).year


# ---------------------------------------------------------------- one cycle


@dataclass(frozen=True)
class Failed:
    """A form the engine refused: which (``advance:TRIGGER`` or ``close``), why, the field it
    is about (None: the whole form), and what was given, to show again."""

    form: str
    message: str
    field: str | None = None
    note: str = ""
    force: bool = False


@router.get("/cycles/{ref}")
def cycle_page(request: Request, ref: str, reader: PageReader) -> Response:
    flash = request.session.pop(FLASH, None)
    return _show(request, reader.engine, reader.session, reader.person, ref, flash=flash)


def _show(
    request: Request,
    engine: Engine,
    session: Session,
    person: str,
    ref: str,
    *,
    failed: Failed | None = None,
    flash: str | None = None,
    status_code: int = 200,
    kept: bool = False,
) -> Response:
    lang = i18n.language()
    cycle = engine.readable_cycle(session, person, ref)
    definition = engine.definition_for(session, cycle.process, cycle.process_digest)
    zone = engine.cal.zone
    now = engine.clock()
    org = engine.org
    group = org.group(cycle.group_key)
    chair = group is not None and engine.directory.is_chair(person, group)
    keys = [step.key for step in definition.steps]
    here = keys.index(cycle.state) if cycle.state in keys else -1
    entered = _entered(engine, session, cycle)
    steps = []
    for index, step in enumerate(definition.steps):
        if cycle.status == "closed" or index < here:
            where = "done"
        elif index == here:
            where = "current"
        else:
            where = "ahead"
        steps.append(
            {
                "key": step.key,
                "title": step.title.get(lang),
                "where": where,
                "entered": entered.get(step.key),
            }
        )
    tasks = []
    for task in sorted(cycle.tasks, key=lambda t: t.id):
        overdue = task.status == "open" and task.due_at is not None and task.due_at < now
        tasks.append(
            {
                "id": task.id,
                "title": _task_title(definition, task, lang),
                "step": _step_title(definition, task.step, lang),
                "who": ", ".join(_name(engine, a.person) for a in task.assignees),
                "due": _local(task.due_at, zone),
                "status": _(_STATUSES.get(task.status, task.status)),
                "overdue": overdue,
                "done_by": _name(engine, task.done_by) if task.done_by else None,
                "done_at": _local(task.done_at, zone),
            }
        )
    docs = [
        {
            "id": d.id,
            "name": d.filename,
            "kind": d.kind,
            "size": d.size,
            "by": _name(engine, d.attached_by),
            "at": _local(d.attached_at, zone),
            "sha256": d.sha256,
        }
        for d in documents(session, cycle)
    ]
    possible = [
        {
            **p.as_dict(),
            "to_title": _step_title(definition, p.target, lang),
            "by": ", ".join(_name(engine, who) for who in p.people) or ", ".join(p.roles),
        }
        for p in engine.possible_transitions(cycle.id, person)
    ]
    register = Actions(engine)
    actions = [
        {"id": a.id, "title": a.title, "status": a.status, "due": a.due.isoformat()}
        for a in register.listing(states=None, cycle=str(cycle.id))
    ]
    context = {
        "cycle": cycle,
        "actions": actions,
        "actions_step": cycle.status == "open" and definition.step(cycle.state).actions,
        "may_add_action": cycle.status == "open" and may_manage(engine, person, cycle.group_key),
        "title": _cycle_title(engine, definition, cycle, lang),
        "process": definition.title.get(lang),
        "status": _(_CYCLE_STATUSES.get(cycle.status, cycle.status)),
        "step_title": _step_title(definition, cycle.state, lang),
        "steps": steps,
        "tasks": tasks,
        "open_tasks": sum(t.status == "open" for t in cycle.tasks),
        "documents": docs,
        "possible": possible,
        "may_close": chair and cycle.status == "open",
        "opened_by": _name(engine, cycle.opened_by),
        "opened_at": _local(cycle.opened_at, zone),
        "closed_by": _name(engine, cycle.closed_by) if cycle.closed_by else None,
        "closed_at": _local(cycle.closed_at, zone),
        "failed": failed,
        "flash": flash,
        "kept": kept,
    }
    return render(request, "cycles_show.html", context, status_code=status_code)


@dataclass(frozen=True)
class Entered:
    """When a step was entered, by whom (None: by itself), and the note given."""

    at: str
    by: str | None
    note: str | None


def _entered(engine: Engine, session: Session, cycle: Cycle) -> dict[str, Entered]:
    """When the cycle entered each of its steps (the last time, for a step entered again), as
    its audit trail says: opened, advanced by a person or by itself."""
    zone = engine.cal.zone
    found: dict[str, Entered] = {}
    for row in trail.query(session, engine.org.municipality, cycle.id, tz=zone):
        payload = row.payload if isinstance(row.payload, dict) else {}
        if row.action == "cycle.opened" and isinstance(payload.get("step"), str):
            step = payload["step"]
        elif row.action == "cycle.advanced" and isinstance(payload.get("to"), str):
            step = payload["to"]
        else:
            continue
        automatic = bool(payload.get("automatic")) or row.actor == SYSTEM
        note = payload.get("note") if row.action == "cycle.advanced" else None
        found[step] = Entered(
            at=_local(row.at, zone) or "",
            by=None if automatic else _name(engine, row.actor),
            note=note if isinstance(note, str) and note.strip() else None,
        )
    return found


# ---------------------------------------------------------------- acting on it


@router.get("/cycles/{ref}/advance")
@router.get("/cycles/{ref}/close")
def back_to_cycle(request: Request, ref: str, reader: PageReader) -> Response:
    """A form's address asked for with GET: after signing in again, when the session had
    ended while the page was open. The form posted then is not lost: the cycle's page as it
    is now, with what was written filled in again (``pages.pending_fields``), to be checked
    and sent anew; without it, the cycle's page."""
    kept = pending_fields(request)
    if kept is None:
        return RedirectResponse(f"/cycles/{quote(ref, safe='')}", status_code=303)
    fields = dict(kept)
    which = (
        "close" if request.url.path.endswith("/close") else f"advance:{fields.get('trigger', '')}"
    )
    again = Failed(which, "", None, fields.get("note", ""), fields.get("force") == "1")
    return _show(
        request, reader.engine, reader.session, reader.person, ref, failed=again, kept=True
    )


@router.post("/cycles/{ref}/advance")
async def advance(request: Request, ref: str, actor: PageActor) -> Response:
    form = await request.form()
    trigger = _one(form, "trigger")
    note = _one(form, "note").strip()
    step = _one(form, "step") or None
    failed_as = f"advance:{trigger}"
    if len(note) > NOTE_MAX:
        return await _refused(request, actor, ref, Failed(failed_as, _too_long(), "note", note))
    engine = actor.engine

    def act() -> str:
        moved = engine.advance(actor.person, ref, trigger, note or None, expected_step=step)
        return moved.ref

    return await _act(request, actor, ref, act, failed_as, note, False, "advanced")


@router.post("/cycles/{ref}/close")
async def close(request: Request, ref: str, actor: PageActor) -> Response:
    form = await request.form()
    note = _one(form, "note").strip()
    force = _one(form, "force") == "1"
    step = _one(form, "step") or None
    if len(note) > NOTE_MAX:
        return await _refused(
            request, actor, ref, Failed("close", _too_long(), "note", note, force)
        )
    engine = actor.engine

    def act() -> str:
        closed = engine.close_cycle(
            actor.person, ref, note or None, force=force, expected_step=step
        )
        return closed.ref

    return await _act(request, actor, ref, act, "close", note, force, "closed")


async def _act(
    request: Request,
    actor: Acting,
    ref: str,
    act: Callable[[], str],
    failed_as: str,
    note: str,
    force: bool,
    done: str,
) -> Response:
    """Do ``act`` (the engine's); then the cycle's page (303), or why not."""
    try:
        moved_ref = await run_in_threadpool(act)
    except Conflict as exc:
        context = {"message": str(exc), "ref": ref}
        return render(request, "cycles_conflict.html", context, status_code=409)
    except Refused as exc:  # PermissionDenied too, recorded by the engine
        field = exc.field
        failed = Failed(failed_as, str(exc), field, note, force)
        status = 403 if isinstance(exc, PermissionDenied) else (422 if field else 409)
        return await _refused(request, actor, ref, failed, status)
    request.session[FLASH] = _done_message(done)
    return RedirectResponse(f"/cycles/{quote(moved_ref, safe='')}", status_code=303)


def _done_message(done: str) -> str:
    if done == "closed":
        return _("The cycle is closed.")
    return _("The cycle has moved on.")


async def _refused(
    request: Request, actor: Acting, ref: str, failed: Failed, status_code: int = 422
) -> Response:
    engine = actor.engine

    def page() -> Response:
        with engine.store.reading() as session:
            return _show(
                request, engine, session, actor.person, ref, failed=failed, status_code=status_code
            )

    return await run_in_threadpool(page)


def _too_long() -> str:
    return _("The note is too long: at most {n} characters.").format(n=NOTE_MAX)


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------- words


def _cycle_title(engine: Engine, definition: ProcessDefinition, cycle: Cycle, lang: str) -> str:
    """The cycle's title in ``lang``: the stored (Swedish) one, else from its definition."""
    if lang == "sv":
        return cycle.title
    return cycle_title(engine.org, definition, cycle.period, cycle.subject or "").get(lang)


def _task_title(definition: ProcessDefinition, task: Any, lang: str) -> str:
    if lang == "sv":
        return str(task.title)
    found = forms.task_definition(definition, task.step, task.key)
    return found.title.get(lang) if found is not None else str(task.title)


def _step_title(definition: ProcessDefinition, key: str, lang: str) -> str:
    if key not in definition.step_keys:
        return key
    return definition.step(key).title.get(lang)


def _name(engine: Engine, person_id: str) -> str:
    """A person's name; the scheduler's acts (``tsk``) are the system's."""
    person = engine.org.person(person_id)
    if person is None and person_id == SYSTEM:
        return _("system")
    return person.name if person is not None else person_id


def _local(moment: dt.datetime | None, zone: dt.tzinfo) -> str | None:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment is not None else None

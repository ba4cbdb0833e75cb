"""The pages of a person's work: the start page, the inbox (``/tasks``) and a task
(``/tasks/{id}``) with its form, attachments, note and Done.

A task is completed with the same act as from the command line or a mail link
(``Engine.complete_task``); a document is attached to the task's cycle with the same act as
``tsk cycle attach`` (``engine.documents.attach``), whose rules (who, size, type, file name)
the page only reports. Everything works without JavaScript: forms post and the browser is
sent back to the task (POST, then 303 to GET).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from tsk_workflow import forms, i18n, titles
from tsk_workflow.definitions.model import DOCUMENT_KINDS
from tsk_workflow.engine import access, privacy
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.documents import ACCEPTED, MAX_BYTES, Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused, collecting_warnings
from tsk_workflow.forms import InvalidAnswers
from tsk_workflow.i18n import N_, _
from tsk_workflow.store import cycles as stored
from tsk_workflow.web.deps import Reading
from tsk_workflow.web.pages import PageActor, PageReader, pending_fields, render

router = APIRouter(include_in_schema=False)

SHOWS = {
    "open": N_("Open"),
    "overdue": N_("Overdue"),
    "all": N_("All, done and cancelled too"),
}
"""The inbox's filter on a task's state."""

STATUSES = {
    "open": N_("open"),
    "done": N_("done"),
    "cancelled": N_("cancelled"),
}

SOON = dt.timedelta(days=14)
"""What the start page counts as due soon."""


@dataclass(frozen=True)
class TaskLine:
    """A task as a line of the inbox."""

    id: int
    title: str
    cycle_ref: str
    cycle_title: str
    process: str
    due_at: dt.datetime | None
    status: str
    overdue: bool
    done_at: dt.datetime | None


@router.get("/")
def start(request: Request, reader: PageReader) -> Response:
    """A person's start page: what is overdue, what is due soon, and where to go."""
    now = reader.engine.clock()
    lines = _lines(reader, reader.engine.tasks(reader.session, person=reader.person), now)
    overdue = [line for line in lines if line.overdue]
    soon = [
        line
        for line in lines
        if not line.overdue and line.due_at is not None and line.due_at <= now + SOON
    ]
    person = reader.engine.org.person(reader.person)
    context = {
        "name": person.name if person is not None else reader.person,
        "open": len(lines),
        "overdue": overdue,
        "soon": soon,
        "zone": reader.engine.cal.zone,
    }
    return render(request, "tasks_start.html", context)


@router.get("/tasks")
def inbox(
    request: Request,
    reader: PageReader,
    show: Annotated[str, Query(max_length=16)] = "open",
    process: Annotated[str, Query(max_length=64)] = "",
    whose: Annotated[str, Query(max_length=16)] = "mine",
) -> Response:
    """The inbox: mine (or everyone's, for ``read_all_tasks``), open, overdue or all."""
    engine = reader.engine
    show = show if show in SHOWS else "open"
    everyone_allowed = access.has_permission(engine.org, reader.person, access.READ_ALL_TASKS)
    whose = "everyone" if whose == "everyone" and everyone_allowed else "mine"
    now = engine.clock()
    found = engine.tasks(
        reader.session,
        person=reader.person if whose == "mine" else None,
        overdue=show == "overdue",
        only_open=show != "all",
        now=now,
    )
    lines = _lines(reader, found, now)
    processes = sorted({line.process for line in lines} | set(engine.org.processes))
    if process:
        lines = [line for line in lines if line.process == process]
    lines.sort(key=lambda line: (line.status != "open", line.due_at is None, line.due_at or now))
    context = {
        "lines": lines,
        "show": show,
        "shows": {key: _(label) for key, label in SHOWS.items()},
        "process": process,
        "processes": [(key, _process_title(engine, key)) for key in processes],
        "whose": whose,
        "everyone_allowed": everyone_allowed,
        "statuses": {key: _(label) for key, label in STATUSES.items()},
        "zone": engine.cal.zone,
    }
    return render(request, "tasks_inbox.html", context)


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, reader: PageReader) -> Response:
    given: dict[str, Any] = {}
    note = ""
    kept = pending_fields(request)
    if kept is not None:
        given, note = _answers_of(kept), _text_of(kept, "note")
    return _task_page(request, reader, task_id, given=given, note=note, kept=kept is not None)


@router.post("/tasks/{task_id}")
async def complete(request: Request, task_id: int, actor: PageActor) -> Response:
    """Done: the answers and the note, through the engine; a refusal or a wrong answer shows
    the page again with what was given, and changes nothing."""
    engine = actor.engine
    form = await request.form()
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    nothing = _text_of(fields, "nothing_to_report") == "1"
    note = _text_of(fields, "note").strip() or None
    answers = None if nothing else (_answers_of(fields) or None)

    def done() -> None:
        engine.complete_task(actor.person, task_id, note, answers, nothing_to_report=nothing)

    try:
        with collecting_warnings() as warnings:
            await run_in_threadpool(done)
    except InvalidAnswers as exc:
        errors = {p.key: p.message for p in exc.problems}
        return _read_page(request, actor.engine, actor.someone, task_id, answers, note, errors)
    except (NotFound, PermissionDenied):
        raise  # the problem page; the engine has recorded a refusal
    except Refused as exc:
        with engine.store.reading() as session:
            task = engine.readable_task(session, actor.person, task_id)
            if task.status == "done" and task.done_by == actor.person:
                # The same form sent twice: the first made the act; show it.
                return RedirectResponse(f"/tasks/{task_id}?done=1", status_code=303)
        return _read_page(
            request, engine, actor.someone, task_id, answers, note, {}, refused=str(exc)
        )
    warned = "&warned=1" if warnings else ""  # the engine let it through with a warning
    return RedirectResponse(f"/tasks/{task_id}?done=1{warned}", status_code=303)


@router.post("/tasks/{task_id}/attachments")
async def attach_document(request: Request, task_id: int, actor: PageActor) -> Response:
    """A document attached to the task's cycle, at its step; refused next to the field when
    it is too large, of a type not taken, or named with a path."""
    engine = actor.engine
    form = await request.form()
    with engine.store.reading() as session:
        ref = engine.readable_task(session, actor.person, task_id).cycle.ref
    kind = form.get("kind")
    kind = kind if isinstance(kind, str) and kind in DOCUMENT_KINDS else "other"
    upload = await _upload(form)
    if isinstance(upload, str):
        return _read_page(request, engine, actor.someone, task_id, file_error=upload)
    try:
        await run_in_threadpool(attach, engine, actor.person, ref, upload, kind)
    except Refused as exc:
        return _read_page(request, engine, actor.someone, task_id, file_error=str(exc))
    return RedirectResponse(f"/tasks/{task_id}?attached=1#documents", status_code=303)


async def _upload(form: FormData) -> Upload | str:
    """The uploaded file, or why there is none to attach."""
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _("Choose a file to attach.")
    content = await file.read(MAX_BYTES + 1)
    return Upload(file.filename, content)


def _read_page(
    request: Request,
    engine: Engine,
    someone: Any,
    task_id: int,
    given: dict[str, Any] | None = None,
    note: str | None = None,
    errors: dict[str, str] | None = None,
    *,
    refused: str | None = None,
    file_error: str | None = None,
) -> Response:
    with engine.store.reading() as session:
        reader = Reading(someone, engine, session)
        return _task_page(
            request,
            reader,
            task_id,
            given=given or {},
            note=note or "",
            errors=errors or {},
            refused=refused,
            file_error=file_error,
        )


def _task_page(
    request: Request,
    reader: Reading,
    task_id: int,
    *,
    given: dict[str, Any],
    note: str,
    errors: dict[str, str] | None = None,
    refused: str | None = None,
    file_error: str | None = None,
    kept: bool = False,
) -> Response:
    engine, session = reader.engine, reader.session
    lang = i18n.language()
    task = engine.readable_task(session, reader.person, task_id)
    cycle = task.cycle
    definition = engine.definition_for(session, cycle.process, cycle.process_digest)
    task_def = forms.task_definition(definition, task.step, task.key)
    form = task_def.form if task_def is not None else None
    group = engine.org.group(cycle.group_key)
    chair = group is not None and engine.directory.is_chair(reader.person, group)
    now = engine.clock()
    documents = [d for d in stored.documents(session, cycle.id) if d.step == task.step]
    context = {
        "task": task,
        "cycle": cycle,
        "title": titles.task_title(engine, session, task, lang),
        "cycle_title": titles.cycle_title(engine, session, cycle, lang),
        "description": (
            task_def.description.get(lang) if task_def and task_def.description else None
        ),
        "form": forms.form_json(form, engine.org, lang) if form is not None else None,
        "answers": _shown_answers(form, task.answers, engine, lang) if form else [],
        "may_complete": task.status == "open" and (reader.person in task.assignee_ids or chair),
        "assignees": [_name(engine, a) for a in task.assignee_ids],
        "done_by": _name(engine, task.done_by) if task.done_by else None,
        "overdue": task.status == "open" and task.due_at is not None and task.due_at < now,
        "status": _(STATUSES.get(task.status, task.status)),
        "given": given,
        "errors": errors or {},
        "note": note,
        "refused": refused,
        "kept": kept,
        "completed": request.query_params.get("done") == "1",
        "warned": request.query_params.get("warned") == "1",
        "privacy_warning": privacy.page_warning(reader.engine.org),
        "attached": request.query_params.get("attached") == "1",
        "file_error": file_error,
        "documents": documents,
        "kinds": DOCUMENT_KINDS,
        "max_mb": MAX_BYTES // (1024 * 1024),
        "accepted": ", ".join(sorted(ACCEPTED)),
        "zone": engine.cal.zone,
    }
    status = 422 if (errors or file_error) else (409 if refused else 200)
    return render(request, "tasks_task.html", context, status_code=status)


def _shown_answers(
    form: Any, answers: dict[str, Any] | None, engine: Engine, lang: str
) -> list[tuple[str, str]]:
    """A done task's answers as label and text, in the form's order."""
    if not answers:
        return []
    shown = forms.form_json(form, engine.org, lang)
    out = []
    for question in shown["questions"]:
        value = answers.get(question["key"])
        if value in (None, "", []):
            continue
        labels = {c["key"]: c["label"] for c in question.get("choices") or []}
        if isinstance(value, dict):  # per_town: each town's name with its figure
            figures = (f"{labels.get(town, town)} {figure}" for town, figure in value.items())
            out.append((question["label"], ", ".join(figures)))
            continue
        values = value if isinstance(value, list) else [value]
        out.append((question["label"], ", ".join(labels.get(str(v), str(v)) for v in values)))
    return out


def _lines(reader: Reading, found: list[Any], now: dt.datetime) -> list[TaskLine]:
    lang = i18n.language()
    engine, session = reader.engine, reader.session
    lines = []
    for task in found:
        cycle = task.cycle
        lines.append(
            TaskLine(
                id=task.id,
                title=titles.task_title(engine, session, task, lang),
                cycle_ref=cycle.ref,
                cycle_title=titles.cycle_title(engine, session, cycle, lang),
                process=cycle.process,
                due_at=task.due_at,
                status=task.status,
                overdue=task.status == "open" and task.due_at is not None and task.due_at < now,
                done_at=task.done_at,
            )
        )
    return lines


def _process_title(engine: Engine, key: str) -> str:
    try:
        return engine.catalog.definition(key).title.get(i18n.language())
    except KeyError:
        return key


def _name(engine: Engine, person_id: str) -> str:
    person = engine.org.person(person_id)
    return person.name if person is not None else person_id


def _text_of(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


def _answers_of(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """The form's answers as the engine takes them: ``a.KEY`` fields, the values ticked of a
    ``choices`` question as a list."""
    found: dict[str, list[str]] = {}
    for key, value in fields:
        if key.startswith("a.") and value.strip():
            found.setdefault(key[2:], []).append(value.strip())
    return {key: values if len(values) > 1 else values[0] for key, values in found.items()}

"""The JSON API, ``/api/v1``: the CLI's acts and reads, as the person signed in.

The routes parse and present; the engine decides, checks permissions and records refusals,
exactly as for the CLI. The JSON of a task, cycle or decision is what ``--json`` prints
(``tsk_workflow.rows``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tsk_workflow import forms, i18n
from tsk_workflow.engine import access
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.organisation.model import Body
from tsk_workflow.rows import cycle_detail, cycle_row, decision_row, document_row, task_row
from tsk_workflow.web.deps import Actor, Reader
from tsk_workflow.web.sessions import csrf_token

router = APIRouter(prefix="/api/v1")


# ---------------------------------------------------------------- the person


@router.get("/me", tags=["people"], summary="The person signed in, and the session's CSRF token")
def me(request: Request, reader: Reader) -> dict[str, Any]:
    org = reader.engine.org
    person = org.person(reader.person)
    assert person is not None  # the session's person is checked on every request
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "language": person.language,
        "municipality": org.municipality,
        "organisation": org.name,
        "roles": list(person.roles),
        "deputy_for": list(person.deputy_for),
        "groups": [g.key for g in org.groups if person.id in (g.chair, g.deputy, *g.members)],
        "permissions": [
            name
            for name in (access.READ_AUDIT, access.READ_ALL_TASKS, access.ACT_FOR)
            if access.has_permission(org, person.id, name)
        ],
        "csrf_token": csrf_token(request),
    }


@router.get("/org", tags=["people"], summary="The organisation: people, roles, groups, towns")
def organisation(reader: Reader) -> dict[str, Any]:
    from tsk_workflow.rows import organisation_json

    return organisation_json(reader.engine.org)


@router.get("/processes", tags=["processes"], summary="The processes the organisation runs")
def processes(reader: Reader) -> list[dict[str, Any]]:
    from tsk_workflow.rows import process_row

    engine = reader.engine
    lang = i18n.language()
    return [
        process_row(engine.catalog.definition(key), lang) for key in sorted(engine.org.processes)
    ]


# ---------------------------------------------------------------- tasks


class TaskDone(BaseModel):
    """Completing a task: its form's answers (each question's key to its answer), or
    ``nothing_to_report`` for a form that is not required, and a note for the record."""

    note: str | None = Field(None, max_length=10_000)
    answers: dict[str, Any] | None = None
    nothing_to_report: bool = False


@router.get("/tasks", tags=["tasks"], summary="Tasks: mine by default")
def tasks(
    reader: Reader,
    mine: Annotated[bool, Query(description="Only mine; false needs read_all_tasks")] = True,
    overdue: Annotated[bool, Query(description="Only open tasks past their due time")] = False,
    everything: Annotated[
        bool, Query(alias="all", description="Also done and cancelled tasks")
    ] = False,
) -> list[dict[str, Any]]:
    engine = reader.engine
    if not mine:
        engine.require_permission(reader.person, access.READ_ALL_TASKS, "tasks")
    found = engine.tasks(
        reader.session,
        person=reader.person if mine else None,
        overdue=overdue,
        only_open=not everything,
    )
    return [task_row(task, task.cycle.ref) for task in found]


@router.get("/tasks/{task_id}", tags=["tasks"], summary="A task, with its form and answers")
def task(task_id: int, reader: Reader) -> dict[str, Any]:
    found = reader.engine.readable_task(reader.session, reader.person, task_id)
    return task_json(reader.engine, reader, found)


def task_json(engine: Engine, reader: Reader, found: Any) -> dict[str, Any]:
    """A task as the API shows it: its row, note and answers, and its form, if any."""
    cycle = found.cycle
    definition = engine.definition_for(reader.session, cycle.process, cycle.process_digest)
    task_def = forms.task_definition(definition, found.step, found.key)
    lang = i18n.language()
    form = task_def.form if task_def is not None else None
    return {
        **task_row(found, cycle.ref),
        "note": found.note,
        "answers": found.answers,
        "description": task_def.description.get(lang)
        if task_def and task_def.description
        else None,
        "form": forms.form_json(form, engine.org, lang) if form is not None else None,
    }


@router.post("/tasks/{task_id}/done", tags=["tasks"], summary="Complete a task")
def task_done(task_id: int, body: TaskDone, actor: Actor) -> dict[str, Any]:
    engine = actor.engine
    engine.complete_task(
        actor.person,
        task_id,
        body.note,
        body.answers,
        nothing_to_report=body.nothing_to_report,
    )
    with engine.store.reading() as session:
        found = engine.find_task(session, task_id)
        return task_row(found, found.cycle.ref) | {"note": found.note, "answers": found.answers}


# ---------------------------------------------------------------- cycles


class CycleOpen(BaseModel):
    process: str = Field(max_length=64)
    period: str | None = Field(None, max_length=32)
    subject: str | None = Field(None, max_length=64)
    group: str | None = Field(
        None,
        max_length=64,
        description="Another group that also runs the process (its chair opens the cycle for"
        " it); the process's own group by default",
    )


_EXPECTED_STEP = (
    "The step the cycle is expected at (as the caller last saw it): if it has moved on, or"
    " closed, the act is refused with 409 (conflict) and nothing is done"
)


class CycleAdvance(BaseModel):
    trigger: str = Field(max_length=64)
    note: str | None = Field(None, max_length=10_000)
    expected_step: str | None = Field(None, max_length=64, description=_EXPECTED_STEP)


class CycleClose(BaseModel):
    note: str | None = Field(None, max_length=10_000)
    force: bool = False
    expected_step: str | None = Field(None, max_length=64, description=_EXPECTED_STEP)


@router.get("/cycles", tags=["cycles"], summary="The cycles I may read")
def cycles(
    reader: Reader,
    only_open: Annotated[bool, Query(alias="open")] = False,
    process: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    found = reader.engine.readable_cycles(
        reader.session, reader.person, only_open=only_open, process=process
    )
    return [cycle_row(cycle) for cycle in found]


@router.get("/cycles/{ref}", tags=["cycles"], summary="A cycle: its tasks, documents, next steps")
def cycle(ref: str, reader: Reader) -> dict[str, Any]:
    engine = reader.engine
    found = engine.readable_cycle(reader.session, reader.person, ref)
    compiled = engine.compiled_for(reader.session, found.process, found.process_digest)
    data = cycle_detail(found, compiled.allowed_triggers(found.state))
    data["documents"] = [document_row(d) for d in engine_documents(engine, reader, found)]
    data["possible"] = [p.as_dict() for p in engine.possible_transitions(found.id, reader.person)]
    return data


def engine_documents(engine: Engine, reader: Reader, found: Any) -> list[Any]:
    from tsk_workflow.engine.documents import documents

    return documents(reader.session, found)


@router.post("/cycles", tags=["cycles"], status_code=201, summary="Open a cycle (the chair)")
def cycle_open(body: CycleOpen, actor: Actor) -> dict[str, Any]:
    opened = actor.engine.open_cycle(
        actor.person, body.process, body.period, body.subject, group=body.group
    )
    return _cycle_now(actor, opened.id)


@router.post("/cycles/{ref}/advance", tags=["cycles"], summary="Fire a transition")
def cycle_advance(ref: str, body: CycleAdvance, actor: Actor) -> dict[str, Any]:
    moved = actor.engine.advance(
        actor.person, ref, body.trigger, body.note, expected_step=body.expected_step
    )
    return _cycle_now(actor, moved.id)


@router.post("/cycles/{ref}/close", tags=["cycles"], summary="Close a cycle (the chair)")
def cycle_close(ref: str, body: CycleClose, actor: Actor) -> dict[str, Any]:
    closed = actor.engine.close_cycle(
        actor.person, ref, body.note, force=body.force, expected_step=body.expected_step
    )
    return _cycle_now(actor, closed.id)


def _cycle_now(actor: Actor, cycle_id: int) -> dict[str, Any]:
    engine = actor.engine
    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle_id)
        compiled = engine.compiled_for(session, found.process, found.process_digest)
        return cycle_detail(found, compiled.allowed_triggers(found.state))


# ---------------------------------------------------------------- decisions


class DecisionPropose(BaseModel):
    cycle: str = Field(max_length=200, description="The cycle's id or ref")
    title: str = Field(min_length=1, max_length=300)
    cost: float | None = Field(None, ge=0)
    attrs: dict[str, str] = Field(default_factory=dict)


class DecisionRecord(BaseModel):
    body: Body
    date: dt.date
    paragraph: str = Field(min_length=1, max_length=32)
    outcome: Literal["approved", "rejected", "postponed"]
    override_reason: str | None = Field(None, max_length=10_000)
    text: str | None = Field(None, max_length=10_000, description="The decision's wording")
    extra_meeting: bool = Field(
        False, description="Decided at a meeting the body's meeting calendar does not list"
    )


@router.get(
    "/decisions",
    tags=["decisions"],
    summary="Decisions of the cycles I may read, and those I may record",
)
def decisions(reader: Reader) -> list[dict[str, Any]]:
    listed = Decisions(reader.engine).readable(reader.session, reader.person)
    return [decision_row(d) for d in listed]


@router.post("/decisions", tags=["decisions"], status_code=201, summary="Propose a decision")
def decision_propose(body: DecisionPropose, actor: Actor) -> dict[str, Any]:
    made, found = Decisions(actor.engine).propose(
        actor.person, body.cycle, body.title, body.cost, body.attrs
    )
    # The stored reason is Swedish (the record); the caller reads it in their language.
    return decision_row(made) | {"route_reason": found.reason(i18n.language())}


@router.post("/decisions/{decision_id}/record", tags=["decisions"], summary="Record the outcome")
def decision_record(decision_id: int, body: DecisionRecord, actor: Actor) -> dict[str, Any]:
    recorded = Decisions(actor.engine).record(
        actor.person,
        decision_id,
        body.body,
        body.date,
        body.paragraph,
        body.outcome,
        override_reason=body.override_reason,
        text=body.text,
        extra_meeting=body.extra_meeting,
    )
    return decision_row(recorded)

"""Entering and leaving steps: the tasks, timers, mail and audit events a step change causes.

Everything here decides in memory: it changes the act's ``CycleState`` and adds to its effects
(``ctx.act.effects``), which the store writes at the end of the act. It takes ``now`` from the
act and reads the database only through the store's queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tsk_workflow.definitions.model import Step, Transition
from tsk_workflow.definitions.model import Task as TaskDef
from tsk_workflow.engine import mailctx, notify, timing
from tsk_workflow.engine.context import StepContext as StepContext  # where acts take it from
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.i18n import _
from tsk_workflow.messages import Queued
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import actions as action_counts
from tsk_workflow.store import acts
from tsk_workflow.store.acts import CycleState, Effects, TaskState


def enter_step(ctx: StepContext, cycle: CycleState, step_key: str, actor: str) -> None:
    """Put ``cycle`` in ``step_key`` and create what the step asks for."""
    step = ctx.process.definition.step(step_key)
    ctx.act.effects.change_cycle(cycle, state=step_key, step_entered_at=ctx.now)
    for task_def in step.tasks:
        create_tasks(ctx, cycle, task_def, step)
    plan_timed_transitions(ctx, cycle, step_key)
    if step.meeting is not None:
        invite_to_meeting(ctx, cycle, step)
    for listener in ctx.listeners:  # the lägesbild, when the step produces one from reports
        listener.on_enter_step(ctx, cycle, step)


def create_tasks(
    ctx: StepContext, cycle: CycleState, task_def: TaskDef, step: Step
) -> list[TaskState]:
    """The tasks of ``task_def`` (one shared, or one per person), their timers and mail; the
    mail keeps the order the tasks were made in."""
    group = ctx.group(cycle)
    if task_def.per_person:
        people_sets = [[person] for person in ctx.directory.holders(task_def.role, group)]
    else:
        people_sets = [ctx.directory.assignees(task_def.role, group)]
    due = timing.due_at(ctx.now, task_def.due, ctx.cal) if task_def.due else None
    people_sets = [people for people in people_sets if people]
    if not people_sets:
        return []
    made = _new_tasks(ctx, cycle, task_def, step, people_sets, due)
    planned = timing.task_timers(task_def, due, ctx.now, ctx.cal)
    timers = [
        NewTimer(f"task:{task.id}:{p.key_suffix}", p.kind, p.fire_at, p.payload, task.id)
        for task in made
        for p in planned
    ]
    add_timers(ctx.act.effects, ctx.municipality, ctx.now, timers, cycle_id=cycle.id)
    mails = [
        Queued(
            ctx.org,
            people,
            task_def.template,
            f"task:{task.id}:assigned",
            mailctx.task_mail(ctx.org, ctx.process.definition, cycle, task, ctx.cal),
            cycle.id,
            task.id,
        )
        for task, people in zip(made, people_sets, strict=True)
    ]
    notify.queue_many(ctx.act.effects, mails, ctx.now)
    return made


def _new_tasks(
    ctx: StepContext,
    cycle: CycleState,
    task_def: TaskDef,
    step: Step,
    people_sets: list[list[str]],
    due: dt.datetime | None,
) -> list[TaskState]:
    """New tasks of the cycle, one per set of people, with those people as assignees."""
    made = [
        TaskState(
            id=task_id,
            cycle_id=cycle.id,
            municipality=ctx.municipality,
            step=step.key,
            key=task_def.key,
            role=task_def.role,
            title=task_def.title.sv,
            required=task_def.required,
            status="open",
            created_at=ctx.now,
            due_at=due,
            assignee_ids=list(people),
        )
        for task_id, people in zip(
            ctx.act.new_ids("tasks", len(people_sets)), people_sets, strict=True
        )
    ]
    for task in made:
        ctx.act.effects.add_task(task)
    cycle.tasks.extend(made)
    return made


@dataclass(frozen=True)
class NewTimer:
    """A timer to plan: its unique key, kind, time and payload."""

    key: str
    kind: str
    fire_at: dt.datetime
    payload: dict[str, Any] | None = None
    task_id: int | None = None
    """The task it is about, when not the one ``add_timers`` is given."""


def add_timer(
    effects: Effects,
    municipality: str,
    now: dt.datetime,
    key: str,
    kind: str,
    fire_at: dt.datetime,
    *,
    cycle_id: int | None = None,
    task_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """A durable timer, once: a timer with the same ``key`` is not planned twice."""
    add_timers(
        effects,
        municipality,
        now,
        [NewTimer(key, kind, fire_at, payload)],
        cycle_id=cycle_id,
        task_id=task_id,
    )


def add_timers(
    effects: Effects,
    municipality: str,
    now: dt.datetime,
    timers: list[NewTimer],
    *,
    cycle_id: int | None = None,
    task_id: int | None = None,
) -> None:
    """``add_timer`` for several timers (of two with one key, the first)."""
    effects.add_timers(
        {
            "key": timer.key,
            "kind": timer.kind,
            "municipality": municipality,
            "fire_at": timer.fire_at,
            "status": "pending",
            "cycle_id": cycle_id,
            "task_id": timer.task_id if timer.task_id is not None else task_id,
            "payload": timer.payload or {},
            "created_at": now,
        }
        for timer in timers
    )


def plan_timed_transitions(ctx: StepContext, cycle: CycleState, step_key: str) -> None:
    for transition in ctx.process.definition.transitions:
        if transition.after is None or step_key not in transition.source:
            continue
        fire_at = timing.due_at(ctx.now, transition.after, ctx.cal)
        key = f"cycle:{cycle.id}:{step_key}:{cycle.version}:{transition.trigger}"
        payload = {"trigger": transition.trigger, "step": step_key}
        add_timer(
            ctx.act.effects,
            ctx.municipality,
            ctx.now,
            key,
            "transition",
            fire_at,
            cycle_id=cycle.id,
            payload=payload,
        )


def invite_to_meeting(ctx: StepContext, cycle: CycleState, step: Step) -> None:
    meeting = step.meeting
    assert meeting is not None
    group = ctx.group(cycle)
    start = timing.meeting_at(ctx.now, meeting.within, meeting.start, ctx.cal)
    end = timing.escalation_at(start, meeting.length, ctx.cal)
    context = {
        "cycle": mailctx.cycle_ctx(cycle),
        "process": mailctx.process_ctx(ctx.process.definition),
        "step": {"title": mailctx.label(step.title)},
        "chair": mailctx.name_of(ctx.org, group.chair),
        "meeting": {
            "title": mailctx.label(meeting.title),
            "start": mailctx.local(start, ctx.cal),
            "end": mailctx.local(end, ctx.cal),
            "location": mailctx.meeting_place(ctx.org, group),
            "agenda": [mailctx.label(item) for item in meeting.agenda],
            "uid": f"{ctx.municipality}-cycle{cycle.id}-{step.key}@tsk-workflow",
            "organizer": _email_of(ctx.org, group.chair),
        },
    }
    people = [*ctx.directory.chairs(group), *group.members]
    notify.queue(
        ctx.act.effects,
        ctx.org,
        people,
        "meeting_invitation",
        f"cycle:{cycle.id}:meeting:{step.key}",
        context,
        ctx.now,
        cycle.id,
    )
    ctx.record(
        cycle,
        SYSTEM,
        "meeting.planned",
        {"step": step.key, "start": start.isoformat(), "end": end.isoformat()},
        "system",
    )


def required_done(cycle: CycleState) -> bool:
    """Whether the current step has required tasks and all of them are done."""
    live = [
        t.status
        for t in cycle.tasks
        if t.step == cycle.state and t.required and t.status != "cancelled"
    ]
    return bool(live) and all(status == "done" for status in live)


def unmet_conditions(
    ctx: StepContext,
    cycle: CycleState,
    transition: Transition,
    note: str | None,
    *,
    check_note: bool = True,
) -> list[str]:
    """The conditions of ``transition`` that do not hold, said for people (without the note's
    when not ``check_note``: a note is given with the act, not found in the cycle)."""
    unmet = []
    if "tasks_done" in transition.conditions and not required_done(cycle):
        unmet.append(_("the step's required tasks are not all done"))
    if check_note and "note_given" in transition.conditions and not (note or "").strip():
        unmet.append(_("a note is required (--note)"))
    if "documents_produced" in transition.conditions:
        missing = missing_documents(ctx, cycle)
        if missing:
            unmet.append(_("documents missing: {documents}").format(documents=", ".join(missing)))
    if "actions_recorded" in transition.conditions and not action_counts.of_cycle(
        ctx.session, ctx.org.municipality, cycle.id
    ):
        unmet.append(
            _(
                "no action has been added to the register from this cycle"
                " (tsk action add --cycle {ref})"
            ).format(ref=cycle.ref)
        )
    return unmet


def missing_documents(ctx: StepContext, cycle: CycleState) -> list[str]:
    """The documents the cycle's step produces that are not attached (nor being attached by
    this act)."""
    step = ctx.process.definition.step(cycle.state)
    if not step.produces:
        return []
    attached = acts.document_kinds(ctx.session, cycle.id)
    attached |= {
        (d["step"], d["kind"]) for d in ctx.act.effects.documents if d["cycle_id"] == cycle.id
    }
    return [kind for kind in step.produces if (cycle.state, kind) not in attached]


def _email_of(org: Organisation, person_id: str) -> str:
    person = org.person(person_id)
    return person.email if person is not None else org.mail.sender

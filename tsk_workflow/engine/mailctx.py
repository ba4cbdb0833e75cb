"""The contexts the engine stores with each outbox row, as ``notifications/README.md`` lists them.

They are JSON: dates as ISO strings in the municipality's time zone, texts in both languages as
``{"sv": ..., "en": ...}``; ``tsk_workflow.mail.outbox`` picks the recipient's language when it
renders. ``{person}`` in a command is replaced by the recipient's id when the mail is queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.definitions.model import Label, ProcessDefinition
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.models import Cycle, Decision


class TaskFields(Protocol):
    """What a task's mail says of it: a stored ``Task``, or one just written (``NewTask``)."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def due_at(self) -> dt.datetime | None: ...


class AssignedTaskFields(TaskFields, Protocol):
    """What an escalation says of a task: its fields and who it is assigned to."""

    @property
    def assignee_ids(self) -> Sequence[str]: ...


class CycleFields(Protocol):
    """What a mail says of a cycle: a stored ``Cycle``, or a row the scheduler read."""

    @property
    def id(self) -> int: ...
    @property
    def ref(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def subject(self) -> str: ...


def label(value: Label | None) -> dict[str, str] | str:
    return {"sv": value.sv, "en": value.en} if value is not None else ""


def local(moment: dt.datetime | None, cal: WorkCalendar) -> str | None:
    return moment.astimezone(cal.zone).isoformat() if moment is not None else None


def tsk(org: Organisation, *args: str) -> str:
    """A command line the recipient can run as it stands."""
    return " ".join(["tsk", "--org", org.municipality, "--as", "{person}", *args])


def name_of(org: Organisation, person_id: str | None) -> dict[str, str]:
    person = org.person(person_id) if person_id else None
    return {"id": person_id or "", "name": person.name if person else (person_id or "tsk-workflow")}


def cycle_ctx(cycle: CycleFields) -> dict[str, Any]:
    return {
        "id": cycle.id,
        "ref": cycle.ref,
        "title": cycle.title,
        "period": cycle.period or "",
        "subject": cycle.subject or "",
    }


def process_ctx(definition: ProcessDefinition) -> dict[str, Any]:
    return {"key": definition.key, "title": label(definition.title)}


def task_ctx(definition: ProcessDefinition, task: TaskFields, cal: WorkCalendar) -> dict[str, Any]:
    step = definition.step(task.step)
    task_def = next((t for t in step.tasks if t.key == task.key), None)
    return {
        "id": task.id,
        "key": task.key,
        "title": label(task_def.title) if task_def else task.title,
        "description": label(task_def.description) if task_def else "",
        "role": task.role,
        "due": local(task.due_at, cal),
        "step": label(step.title),
    }


def task_mail(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: CycleFields,
    task: TaskFields,
    cal: WorkCalendar,
) -> dict[str, Any]:
    """``task_assigned``, ``task_reminder`` and ``task_overdue``."""
    return {
        "task": task_ctx(definition, task, cal),
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition),
        "command": tsk(org, "task", "done", str(task.id), "--note", '"..."'),
    }


def escalation_mail(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: CycleFields,
    task: AssignedTaskFields,
    cal: WorkCalendar,
    now: dt.datetime,
) -> dict[str, Any]:
    first = task.assignee_ids[0] if task.assignee_ids else None
    person = org.person(first) if first else None
    days = (now - task.due_at).days if task.due_at else 0
    return {
        **task_mail(org, definition, cycle, task, cal),
        "assignee": {
            "name": person.name if person else "-",
            "email": person.email if person else "",
        },
        "assignees": [name_of(org, p)["name"] for p in task.assignee_ids],
        "days_overdue": max(days, 0),
        "command": tsk(org, "cycle", "show", cycle.ref),
    }


def cycle_opened_mail(
    org: Organisation, definition: ProcessDefinition, cycle: Cycle, chair: str
) -> dict[str, Any]:
    return {
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition),
        "chair": name_of(org, chair),
        "step": {"title": label(definition.step(definition.initial_step).title)},
        "late": cycle.late,
        "command": tsk(org, "task", "list", "--mine"),
    }


def cycle_closed_mail(
    org: Organisation, definition: ProcessDefinition, cycle: Cycle
) -> dict[str, Any]:
    return {
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition),
        "closed_by": name_of(org, cycle.closed_by),
        "note": cycle.close_note or "",
        "forced": cycle.forced,
        "command": tsk(org, "cycle", "show", cycle.ref),
    }


def decision_mail(
    org: Organisation, definition: ProcessDefinition | None, cycle: Cycle, decision: Decision
) -> dict[str, Any]:
    body = decision.body or decision.routed_to
    meeting = decision.decided_on or decision.agenda_date
    return {
        "decision": {
            "id": decision.id,
            "title": decision.title,
            "cost": decision.cost,
            "body": body,
            "reason": decision.reason,
            "meeting_date": meeting.isoformat() if meeting else None,
            "paragraph": decision.paragraph or "",
            "outcome": decision.outcome or "",
        },
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition)
        if definition
        else {"key": cycle.process, "title": cycle.title},
        "proposed_by": name_of(org, decision.proposed_by),
        "command": tsk(
            org,
            "decision",
            "record",
            str(decision.id),
            "--body",
            decision.routed_to,
            "--date",
            "YYYY-MM-DD",
            "--paragraph",
            '"§ N"',
            "--outcome",
            "approved|rejected|postponed",
        ),
    }


def yearly_report_mail(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: Cycle,
    cal: WorkCalendar,
    now: dt.datetime,
) -> dict[str, Any] | None:
    """``yearly_report_due``: the report of a ``yearly_deadline`` cycle, or None without one.

    ``due`` is the deadline of the cycle's year (its period), or the next deadline from today;
    ``meeting_date`` the last meeting of the receiving body (KF) from today to the deadline,
    else its first meeting after it. The bodies are the first and last ``reports_to`` of the
    process's steps (KS and KF for the shipped ``arsrapport``).
    """
    from tsk_workflow.meetings import meeting_dates, next_meeting
    from tsk_workflow.organisation.validate import effective_schedule
    from tsk_workflow.recurrence import occurrences

    settings = org.processes.get(definition.key)
    schedule = effective_schedule(definition, settings.schedule if settings else None)
    today = now.astimezone(cal.zone).date()
    found = [
        occurrence
        for year in (today.year, today.year + 1)
        for occurrence in occurrences(schedule, cal, year)
        if occurrence.deadline is not None and occurrence.deadline >= today
    ]
    mine = [o for o in found if o.period == cycle.period] or found
    if not mine or mine[0].deadline is None:
        return None
    due = mine[0].deadline
    bodies = [step.reports_to for step in definition.steps if step.reports_to]
    to_body: str = bodies[-1] if bodies else "kf"
    meeting: dt.date | None = None
    body = next((settings for key, settings in org.bodies.items() if key == to_body), None)
    if body is not None:
        before = meeting_dates(body.meetings, today, due, cal)
        meeting = before[-1] if before else next_meeting(body.meetings, due, cal)
    return {
        "report": {
            "title": label(settings.title if settings and settings.title else definition.title),
            "year": due.year,
            "from_body": (bodies[0] if len(bodies) > 1 else "ks").upper(),
            "to_body": to_body.upper(),
            "due": due.isoformat(),
            "meeting_date": meeting.isoformat() if meeting else None,
        },
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition),
        "command": tsk(org, "cycle", "show", cycle.ref),
    }

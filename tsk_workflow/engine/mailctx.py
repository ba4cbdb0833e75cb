"""The contexts the engine stores with each outbox row, as ``notifications/README.md`` lists them.

They are JSON: dates as ISO strings in the municipality's time zone, texts in both languages as
``{"sv": ..., "en": ...}``; ``tsk_workflow.mail.outbox`` picks the recipient's language when it
renders. ``{person}`` in a command is replaced by the recipient's id when the mail is queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tsk_workflow import i18n
from tsk_workflow.calendar import WorkCalendar
from tsk_workflow.definitions.model import Label, ProcessDefinition
from tsk_workflow.forms import answers_file
from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import Group, Organisation


class CycleFields(Protocol):
    """What a task's mail says of its cycle: a stored ``Cycle``, or the row the scheduler read
    (``store.timers.CycleRow``). The contexts are made from plain values, so this module does
    not import the store."""

    @property
    def id(self) -> int: ...
    @property
    def ref(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def process(self) -> str: ...
    @property
    def period(self) -> str | None: ...
    @property
    def subject(self) -> str | None: ...


class CycleRecord(CycleFields, Protocol):
    """What the mails about a cycle itself say of it (opened, closed, decided): a stored
    ``Cycle``."""

    @property
    def late(self) -> bool: ...
    @property
    def closed_by(self) -> str | None: ...
    @property
    def close_note(self) -> str | None: ...
    @property
    def forced(self) -> bool: ...


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


class AssignedTask(TaskFields, Protocol):
    """A stored task, with the people it is assigned to (an escalation names them)."""

    @property
    def assignee_ids(self) -> Sequence[str]: ...


class DecisionFields(Protocol):
    """What mail says of a decision (a stored ``Decision`` has these)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def cost(self) -> float | None: ...
    @property
    def body(self) -> str | None: ...
    @property
    def routed_to(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def decided_on(self) -> dt.date | None: ...
    @property
    def agenda_date(self) -> dt.date | None: ...
    @property
    def paragraph(self) -> str | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def proposed_by(self) -> str: ...


def label(value: Label | None) -> dict[str, str] | str:
    """A definition's text in each language (the outbox picks the reader's), or ``""``."""
    return {lang: value.get(lang) for lang in i18n.LANGUAGES} if value is not None else ""


def in_each_language(say: Callable[[], str]) -> dict[str, str]:
    """What ``say`` says in each language (it translates with ``_``): stored with the mail,
    which is rendered in its reader's language later."""
    said = {}
    for lang in i18n.LANGUAGES:
        with i18n.speaking(lang):
            said[lang] = say()
    return said


def local(moment: dt.datetime | None, cal: WorkCalendar) -> str | None:
    return moment.astimezone(cal.zone).isoformat() if moment is not None else None


def tsk(org: Organisation, *args: str) -> str:
    """A command line the recipient can run as it stands."""
    return " ".join(["tsk", "--org", org.municipality, "--as", "{person}", *args])


def name_of(org: Organisation, person_id: str | None) -> dict[str, str]:
    person = org.person(person_id) if person_id else None
    return {"id": person_id or "", "name": person.name if person else (person_id or "tsk-workflow")}


def meeting_place(org: Organisation, group: Group) -> dict[str, str] | str:
    """Where ``group`` meets: its ``place`` in the organisation file; without one, who will
    tell (the group's name is no place, and an invitation is no place to guess one)."""
    if group.place:
        return group.place
    chair = name_of(org, group.chair)["name"]
    return in_each_language(lambda: _("To be announced by the chair, {chair}").format(chair=chair))


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
    """``task_assigned``, ``task_reminder`` and ``task_overdue``.

    A task with a form gets ``form`` (else None): the commands that answer it, and ``command``
    is the first of them. A reporter who ran ``task done N --note`` was recorded as having
    nothing to report, so the mail of a form task never shows that command.
    """
    step = definition.step(task.step)
    task_def = next((t for t in step.tasks if t.key == task.key), None)
    form = task_def.form if task_def is not None else None
    done = tsk(org, "task", "done", str(task.id), "--note", '"..."')
    answers = form_commands(org, task.id, form.required) if form is not None else None
    return {
        "task": task_ctx(definition, task, cal),
        "cycle": cycle_ctx(cycle),
        "process": process_ctx(definition),
        "command": answers["command"] if answers else done,
        "form": answers,
    }


def form_commands(org: Organisation, task_id: int, required: bool) -> dict[str, Any]:
    """How a task's form is answered: ``command`` writes it as a file to fill in, ``answers``
    hands the file in, ``nothing`` (empty for a required form) says there is nothing to report.
    The file is named in the recipient's language."""
    task = str(task_id)
    files = in_each_language(lambda: answers_file(task_id))
    return {
        "command": {
            lang: tsk(org, "task", "form", task, "--template", file) for lang, file in files.items()
        },
        "answers": {
            lang: tsk(org, "task", "done", task, "--answers", file) for lang, file in files.items()
        },
        "nothing": "" if required else tsk(org, "task", "done", task, "--nothing-to-report"),
    }


def escalation_mail(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: CycleFields,
    task: AssignedTask,
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
    org: Organisation, definition: ProcessDefinition, cycle: CycleRecord, chair: str
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
    org: Organisation, definition: ProcessDefinition, cycle: CycleRecord
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
    org: Organisation,
    definition: ProcessDefinition | None,
    cycle: CycleFields,
    decision: DecisionFields,
) -> dict[str, Any]:
    body = decision.body or decision.routed_to
    meeting = decision.decided_on or decision.agenda_date
    settings = next((s for key, s in org.bodies.items() if key == body), None)
    return {
        "decision": {
            "id": decision.id,
            "title": decision.title,
            "cost": decision.cost,
            "body": body,
            "body_name": settings.name if settings else body.upper(),
            "meets": settings is None or settings.meets,
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
            '"§ N"' if settings is None or settings.meets else '"D N"',
            "--outcome",
            "approved|rejected|postponed",
        ),
    }


def yearly_report_mail(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: CycleFields,
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

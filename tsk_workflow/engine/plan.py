"""The year of a municipality, computed: cycle openings, meetings, deadlines, reminders, reports.

Pure: the organisation, the process definitions, the calendar and the year are passed in; nothing
here reads the clock or the database (``tsk plan`` and the scheduler's ``plan`` timers use it).

What it does, and the simplifications it makes:

* **Openings** come from each process's effective schedule (``recurrence.occurrences``) at
  ``OPEN_TIME`` local time, as the scheduler's ``cycle_open`` timers fire. Cycles opened by hand
  (``manual``), restarting cycles (``restart``) and cycles another cycle opens (``opens:``) are
  not planned: their dates are not known in advance.
* **The happy path.** From each opening the cycle is simulated through its steps *in the order
  the definition lists them*, from the initial step to the first final step; nobody is late,
  nothing is sent back. A step lasts until the latest of its tasks' due times, the end of its
  meeting and, for a step that reports to KS, KF or KLG, that body's meeting; a step with none of
  these lasts until its first timed transition (``after``), else takes no time.
* **Tasks** are due ``timing.due_at`` after the step starts; their reminders fall at
  ``timing.reminder_at``, only those after the step starts (as the engine plans them);
  escalations are not listed (they happen only when someone is late); a ``per_person`` task is
  listed once, for its role. The pseudo-role ``chair`` is shown as the process's chair role.
* **Meetings** of steps fall at ``timing.meeting_at``. KS's and KF's own meetings are listed from
  the organisation's meeting rules (``meetings.meeting_dates``), as ``BODY_MEETING_LENGTH`` long
  (the organisation does not say); KLG's are not (it meets every week).
* **Reports.** A step that reports to a body is taken up at the body's first meeting that leaves
  its lead time after the step starts (as decisions are put on agendas); a step that reports to
  the kommunchef reports when the step ends. A ``yearly_deadline`` schedule adds its deadline
  (the yearly report to the council) as a ``report`` item.
* Cycles opened the year before whose steps reach into the year are included: the simulation
  covers openings from the year before to the year after, and items are kept by their date.
* **Reviews** of the municipality's own policy documents (``policies:``): each follow-up and
  each periodic revision falling in the year, a period after the last one as if each were done
  on its day (``Policy.follow_ups``), for the document's owner. They are dates by which, not
  meetings: they are not moved off non-working days. A document revised on demand has no
  revision in the plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tsk_workflow import i18n
from tsk_workflow.calendar import WorkCalendar, format_date_sv
from tsk_workflow.definitions.model import CHAIR, Label, ProcessDefinition, Step
from tsk_workflow.definitions.model import Task as TaskDef
from tsk_workflow.engine import periods, timing
from tsk_workflow.i18n import N_, _
from tsk_workflow.meetings import meeting_dates, next_meeting
from tsk_workflow.organisation.model import BodySettings, Organisation
from tsk_workflow.organisation.validate import effective_schedule
from tsk_workflow.recurrence import Occurrence, occurrences

OPEN_TIME = dt.time(7, 0)
"""Scheduled cycles open at this local time on their day."""

BODY_MEETING_LENGTH = dt.timedelta(hours=2)
KINDS = ("cycle_open", "meeting", "due", "reminder", "report", "review")
BODIES = ("ks", "kf", "klg")
LISTED_BODIES = ("ks", "kf")
"""The bodies whose own meetings are listed (KLG meets every week)."""

KIND_LABELS = {
    "cycle_open": N_("opens"),
    "meeting": N_("meeting"),
    "due": N_("due"),
    "reminder": N_("reminder"),
    "report": N_("report"),
    "review": N_("review"),
}
"""The kinds of items as people read them (translate with ``_`` when shown)."""
OFFICERS = {"kommunchef": N_("the chief executive")}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
"""The weekdays as ``tsk plan`` abbreviates them."""


@dataclass(frozen=True)
class Opening:
    """A scheduled opening of a cycle of ``process``."""

    process: str
    occurrence: Occurrence

    @property
    def date(self) -> dt.date:
        return self.occurrence.date


@dataclass(frozen=True)
class PlanItem:
    """One thing that happens on a day of the year.

    ``start`` and ``end`` (aware, UTC) are set for meetings and reports taken up at a meeting;
    other items are whole days. ``process`` is None for a body's own meeting.
    """

    date: dt.date
    kind: str
    title: Label
    roles: tuple[str, ...]
    process: str | None = None
    cycle: str | None = None
    cycle_title: Label | None = None
    step: str | None = None
    step_title: Label | None = None
    task: str | None = None
    body: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    policy: str | None = None
    action: int | None = None
    person: str | None = None
    """The one person the item is for (an action's owner), beside or instead of roles."""

    @property
    def timed(self) -> bool:
        return self.start is not None

    def uid(self, municipality: str) -> str:
        """A stable identifier: the same item gets the same UID in every export."""
        parts = (
            municipality,
            self.kind,
            self.date.isoformat(),
            self.process or "",
            self.cycle or "",
            self.step or "",
            self.task or "",
            self.body or "",
            self.title.sv,
        )
        digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]
        return f"{municipality}-{self.date.year}-{digest}@tsk-workflow"


# ---------------------------------------------------------------- openings


def openings(
    org: Organisation,
    definitions: Mapping[str, ProcessDefinition],
    cal: WorkCalendar,
    start: dt.date,
    end: dt.date,
) -> list[Opening]:
    """Every scheduled opening from ``start`` to ``end`` (both included), in date order.

    An occurrence is taken by its date, whatever its schedule year: a yearly report opening in
    December for next year's deadline is in December's plan.
    """
    towns = [t.key for t in org.towns]
    areas = [a.key for a in org.areas]
    found: list[Opening] = []
    for key, settings in org.processes.items():
        definition = definitions.get(key)
        if definition is None:
            continue
        schedule = effective_schedule(definition, settings.schedule)
        for year in range(start.year - 1, end.year + 2):
            for occ in occurrences(schedule, cal, year, towns=towns, areas=areas):
                if start <= occ.date <= end:
                    found.append(Opening(key, occ))
    return sorted(found, key=lambda o: (o.date, o.process))


# ---------------------------------------------------------------- the year


def year_plan(
    org: Organisation,
    definitions: Mapping[str, ProcessDefinition],
    year: int,
    cal: WorkCalendar | None = None,
) -> list[PlanItem]:
    """Everything of ``year``, sorted by date and time."""
    cal = cal or timing.work_calendar(org)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    items: list[PlanItem] = []
    for opening in openings(org, definitions, cal, dt.date(year - 1, 1, 1), last):
        items += simulate(org, definitions[opening.process], opening, cal)
    items += body_meetings(org, first, last, cal)
    items += policy_reviews(org, first, last)
    return sort_items(item for item in items if first <= item.date <= last)


def sort_items(items: Iterable[PlanItem]) -> list[PlanItem]:
    """By date, whole-day items first, then by time, process, kind and title."""

    def key(item: PlanItem) -> tuple[dt.date, float, str, int, str, str]:
        moment = item.start.timestamp() if item.start is not None else float("-inf")
        return (
            item.date,
            moment,
            item.process or "",
            KINDS.index(item.kind),
            item.cycle or "",
            item.title.sv,
        )

    return sorted(items, key=key)


@dataclass(frozen=True)
class _Cycle:
    """What every item of one simulated cycle carries."""

    process: str
    ref: str
    title: Label

    def item(
        self, day: dt.date, kind: str, title: Label, roles: tuple[str, ...], **extra: Any
    ) -> PlanItem:
        return PlanItem(
            date=day,
            kind=kind,
            title=title,
            roles=roles,
            process=self.process,
            cycle=self.ref,
            cycle_title=self.title,
            **extra,
        )


def simulate(
    org: Organisation, definition: ProcessDefinition, opening: Opening, cal: WorkCalendar
) -> list[PlanItem]:
    """The items of one cycle along the happy path (see the module's docstring)."""
    occ = opening.occurrence
    subject = occ.subject or ""
    cycle = _Cycle(
        definition.key,
        periods.cycle_ref(definition.key, occ.period, subject),
        cycle_title(org, definition, occ.period, subject),
    )
    everyone = _roles(definition, definition.all_roles)
    items = [cycle.item(occ.date, "cycle_open", _both(N_("Opens: {title}"), cycle.title), everyone)]
    if occ.deadline is not None:
        title = _both(N_("Deadline: {title}"), cycle.title)
        items.append(cycle.item(occ.deadline, "report", title, everyone))
    moment = timing.local_at(occ.date, OPEN_TIME, cal)
    for step in happy_path(definition):
        step_items, moment = _step(org, definition, cycle, step, moment, cal)
        items += step_items
    return items


def happy_path(definition: ProcessDefinition) -> list[Step]:
    """The steps in the order listed, from the initial step up to the first final one."""
    keys = definition.step_keys
    path = []
    for key in keys[keys.index(definition.initial_step) :]:
        if key in definition.final:
            break
        path.append(definition.step(key))
    return path


def _step(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: _Cycle,
    step: Step,
    start: dt.datetime,
    cal: WorkCalendar,
) -> tuple[list[PlanItem], dt.datetime]:
    """The items of one step entered at ``start``, and when the step ends."""
    items: list[PlanItem] = []
    marks: list[dt.datetime] = []
    for task in step.tasks:
        if task.due is None:
            continue
        due = timing.due_at(start, task.due, cal)
        items += _task_items(definition, cycle, step, task, start, due, cal)
        marks.append(due)
    if step.meeting is not None:
        meeting = step.meeting
        begins = timing.meeting_at(start, meeting.within, meeting.start, cal)
        ends = timing.escalation_at(begins, meeting.length, cal)
        title = _both("{meeting} ({title})", cycle.title, meeting=meeting.title)
        roles = _roles(definition, definition.all_roles)
        extra = {"step": step.key, "step_title": step.title, "start": begins, "end": ends}
        items.append(cycle.item(_local_date(begins, cal), "meeting", title, roles, **extra))
        marks.append(ends)
    if step.reports_to is not None:
        report = _report(org, definition, cycle, step, start, marks, cal)
        if report is not None:
            items.append(report)
            if report.start is not None:
                marks.append(report.start)
    if marks:
        return items, max(marks)
    timed = [
        timing.due_at(start, t.after, cal)
        for t in definition.transitions
        if t.after is not None and step.key in t.source
    ]
    return items, min(timed) if timed else start


def _task_items(
    definition: ProcessDefinition,
    cycle: _Cycle,
    step: Step,
    task: TaskDef,
    start: dt.datetime,
    due: dt.datetime,
    cal: WorkCalendar,
) -> list[PlanItem]:
    roles = _roles(definition, [task.role])
    extra = {"step": step.key, "step_title": step.title, "task": task.key}
    title = _both(N_("Due: {task} ({title})"), cycle.title, task=task.title)
    items = [cycle.item(_local_date(due, cal), "due", title, roles, **extra)]
    reminder = _both(N_("Reminder: {task} ({title})"), cycle.title, task=task.title)
    for text in task.reminders:
        at = timing.reminder_at(due, text, cal)
        if start < at <= due:
            items.append(cycle.item(_local_date(at, cal), "reminder", reminder, roles, **extra))
    return items


def _report(
    org: Organisation,
    definition: ProcessDefinition,
    cycle: _Cycle,
    step: Step,
    start: dt.datetime,
    marks: Sequence[dt.datetime],
    cal: WorkCalendar,
) -> PlanItem | None:
    """The report of a step to a body (at the meeting that takes it up) or to an officer."""
    target = step.reports_to or ""
    roles = _roles(definition, [CHAIR, *(t.role for t in step.tasks)])
    extra: dict[str, Any] = {"step": step.key, "step_title": step.title}
    if target in BODIES:
        body = _body(org, target)
        day = agenda_meeting(org, target, start, cal)
        if body is None or day is None:
            return None
        begins = timing.local_at(day, _clock(body.meetings.time), cal)
        extra |= {"body": target, "start": begins, "end": begins + BODY_MEETING_LENGTH}
        title = _both(N_("Report to {body}: {title}"), cycle.title, body=body.name)
        return cycle.item(day, "report", title, roles, **extra)
    officer = OFFICERS.get(target)
    named = _both(officer) if officer is not None else Label(sv=target, en=target)
    when = max(marks) if marks else start
    title = _both(N_("Report to {body}: {title}"), cycle.title, body=named)
    return cycle.item(_local_date(when, cal), "report", title, roles, **extra)


def body_meetings(
    org: Organisation, first: dt.date, last: dt.date, cal: WorkCalendar
) -> list[PlanItem]:
    """KS's and KF's meetings from ``first`` to ``last``."""
    items = []
    for key in LISTED_BODIES:
        body = _body(org, key)
        if body is None:
            continue
        secretary = org.person(body.secretary) if body.secretary else None
        roles = tuple(secretary.roles) if secretary is not None else ()
        for day in meeting_dates(body.meetings, first, last, cal):
            begins = timing.local_at(day, _clock(body.meetings.time), cal)
            items.append(
                PlanItem(
                    date=day,
                    kind="meeting",
                    title=_both(N_("{body}: meeting"), body=body.name),
                    roles=roles,
                    body=key,
                    start=begins,
                    end=begins + BODY_MEETING_LENGTH,
                )
            )
    return items


REVIEWS = {
    "follow_up": N_("Follow-up: {title}"),
    "revision": N_("Revision: {title}"),
}
"""The titles of a policy document's reviews in the plan."""


def policy_reviews(org: Organisation, first: dt.date, last: dt.date) -> list[PlanItem]:
    """The follow-ups and periodic revisions of the policy documents from ``first`` to
    ``last``, for each document's owner (a role, or the roles of the person who owns it)."""
    items = []
    for policy in org.policies:
        owner = org.person(policy.owner)
        roles = tuple(owner.roles) if owner is not None else (policy.owner,)
        for kind, dates in (("follow_up", policy.follow_ups()), ("revision", policy.revisions())):
            for day in itertools.takewhile(lambda day: day <= last, dates):
                if day >= first:
                    title = _both(REVIEWS[kind], policy.title)
                    items.append(PlanItem(day, "review", title, roles, policy=policy.key))
    return items


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class ActionDates:
    """What the year plan shows of an active action of the register: its due date and its
    next follow-up (``engine.actions.Actions.plan_dates``)."""

    id: int
    title: str
    owner: str
    due: dt.date
    next_followup: dt.date | None


ACTION_TITLES = {
    "due": N_("Action to be done: {title}"),
    "review": N_("Follow-up of the action: {title}"),
}


def action_items(actions: Iterable[ActionDates], first: dt.date, last: dt.date) -> list[PlanItem]:
    """The due dates and next follow-ups of ``actions`` from ``first`` to ``last``, each for
    the action's owner."""
    items = []
    for found in actions:
        for kind, day in (("due", found.due), ("review", found.next_followup)):
            if day is not None and first <= day <= last:
                name = Label(sv=f"#{found.id} {found.title}", en=f"#{found.id} {found.title}")
                title = _both(ACTION_TITLES[kind], name)
                items.append(PlanItem(day, kind, title, (), action=found.id, person=found.owner))
    return items


def with_person(items: Iterable[PlanItem], person: str, roles: Iterable[str]) -> list[PlanItem]:
    """The items for ``person``: of their ``roles``, and those for them by name."""
    wanted = set(roles)
    return [i for i in items if i.person == person or wanted.intersection(i.roles)]


# ---------------------------------------------------------------- bodies and titles


def agenda_meeting(
    org: Organisation, body: str, ready: dt.datetime, cal: WorkCalendar
) -> dt.date | None:
    """The first meeting of ``body`` that leaves its lead time after ``ready``."""
    settings = _body(org, body)
    if settings is None:
        return None
    earliest = _local_date(timing.due_at(ready, settings.lead_time, cal), cal)
    return next_meeting(settings.meetings, earliest, cal)


def process_title(org: Organisation, definition: ProcessDefinition) -> Label:
    settings = org.processes.get(definition.key)
    if settings is not None and settings.title is not None:
        return settings.title
    return definition.title


def cycle_title(
    org: Organisation, definition: ProcessDefinition, period: str, subject: str
) -> Label:
    names = {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas}
    where = f", {names.get(subject, subject)}" if subject else ""
    title = process_title(org, definition)
    return Label(sv=f"{title.sv} {period}{where}", en=f"{title.en} {period}{where}")


# ---------------------------------------------------------------- output


def roles_of(items: Iterable[PlanItem]) -> list[str]:
    return sorted({role for item in items for role in item.roles})


def with_roles(items: Iterable[PlanItem], roles: Iterable[str]) -> list[PlanItem]:
    wanted = set(roles)
    return [item for item in items if wanted & set(item.roles)]


def to_json(items: Iterable[PlanItem], lang: str, cal: WorkCalendar) -> list[dict[str, object]]:
    return [item_json(item, lang, cal) for item in items]


def item_json(item: PlanItem, lang: str, cal: WorkCalendar) -> dict[str, object]:
    start = item.start.astimezone(cal.zone) if item.start else None
    end = item.end.astimezone(cal.zone) if item.end else None
    return {
        "date": item.date.isoformat(),
        "time": start.strftime("%H:%M") if start else None,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "kind": item.kind,
        "process": item.process,
        "cycle": item.cycle,
        "cycle_title": item.cycle_title.get(lang) if item.cycle_title else None,
        "step": item.step,
        "task": item.task,
        "body": item.body,
        "policy": item.policy,
        "action": item.action,
        "person": item.person,
        "title": item.title.get(lang),
        "roles": list(item.roles),
    }


PRODID = "-//tsk-workflow//Trygg och säker kommun//SV"


def to_ics(
    items: Iterable[PlanItem],
    org: Organisation,
    year: int,
    lang: str,
    stamp: dt.datetime,
    cal: WorkCalendar | None = None,
) -> bytes:
    """An iCalendar file (RFC 5545) for Outlook, Google Calendar and the rest: one VEVENT per
    item, all-day (``VALUE=DATE``) except meetings and reports taken up at a meeting, which are
    timed (in UTC, as ``mail/ics.py`` writes them). ``stamp`` is the DTSTAMP."""
    from icalendar import Calendar, Event

    cal = cal or timing.work_calendar(org)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    with i18n.speaking(lang):
        name = _("{name} – plan {year}").format(name=org.name, year=year)
    calendar.add("x-wr-calname", name)
    for item in items:
        event = Event()
        event.add("uid", item.uid(org.municipality))
        event.add("dtstamp", stamp.astimezone(dt.UTC))
        if item.start is not None:
            event.add("dtstart", item.start.astimezone(dt.UTC))
            event.add("dtend", (item.end or item.start + BODY_MEETING_LENGTH).astimezone(dt.UTC))
        else:
            event.add("dtstart", item.date)
            event.add("dtend", item.date + dt.timedelta(days=1))
            event.add("transp", "TRANSPARENT")
        event.add("summary", item.title.get(lang))
        event.add("description", describe(item, lang))
        event.add("categories", [kind_label(item.kind, lang)])
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def kind_label(kind: str, lang: str) -> str:
    """The kind of an item in ``lang``."""
    with i18n.speaking(lang):
        return _(KIND_LABELS[kind])


def describe(item: PlanItem, lang: str) -> str:
    with i18n.speaking(lang):
        lines = [item.title.get(lang)]
        if item.cycle_title is not None:
            lines.append(
                _("Cycle: {title} ({cycle})").format(
                    title=item.cycle_title.get(lang), cycle=item.cycle
                )
            )
        if item.step_title is not None:
            lines.append(_("Step: {title}").format(title=item.step_title.get(lang)))
        if item.roles:
            lines.append(_("Roles: {roles}").format(roles=", ".join(item.roles)))
        lines.append(_("Kind: {kind}").format(kind=_(KIND_LABELS[item.kind])))
        return "\n".join(lines)


def format_line(item: PlanItem, lang: str, cal: WorkCalendar) -> str:
    """One line of ``tsk plan``: date, weekday, time, kind, title, roles."""
    return json_line(item_json(item, lang, cal), lang)


def json_line(data: Mapping[str, Any], lang: str) -> str:
    """:func:`format_line` of an item as JSON (:func:`item_json`, what the service's API
    answers)."""
    day = dt.date.fromisoformat(str(data["date"]))
    with i18n.speaking(lang):
        weekday, kind = _(WEEKDAYS[day.weekday()]), _(KIND_LABELS[str(data["kind"])])
    clock = str(data["time"] or "")
    roles = ", ".join(data["roles"])
    return f"{format_date_sv(day)} {weekday} {clock:5}  {kind:12} {data['title']}" + (
        f"  [{roles}]" if roles else ""
    )


# ---------------------------------------------------------------- helpers


def _roles(definition: ProcessDefinition, roles: Iterable[str]) -> tuple[str, ...]:
    named = (definition.chair if role == CHAIR else role for role in roles)
    return tuple(dict.fromkeys(named))


def _both(message: str, title: Label | None = None, **values: Label | str) -> Label:
    """``message`` (marked where it is written) in Swedish and in English, with ``title`` and
    ``values`` in the same language: an item carries both (its UID is made of the Swedish)."""
    if title is not None:
        values["title"] = title
    texts = {}
    for lang in i18n.LANGUAGES:
        with i18n.speaking(lang):
            texts[lang] = _(message).format(
                **{k: v.get(lang) if isinstance(v, Label) else v for k, v in values.items()}
            )
    return Label(**texts)


def _body(org: Organisation, key: str) -> BodySettings | None:
    return next((body for name, body in org.bodies.items() if name == key), None)


def _local_date(moment: dt.datetime, cal: WorkCalendar) -> dt.date:
    return moment.astimezone(cal.zone).date()


def _clock(text: str) -> dt.time:
    hour, minute = (int(part) for part in text.split(":"))
    return dt.time(hour, minute)

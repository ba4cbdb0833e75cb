"""Decisions: proposed from a cycle, routed by the municipality's rules to a body (KLG, KS, KF,
the styrgrupp, the department concerned, a delegate), put on the agenda of the body's next
meeting that leaves the lead time (none for a body that decides without a meeting), then
recorded by one who may record the body's decisions.

When the municipality runs the ``beslut`` process, each decision is also a cycle of it (subject:
the case), which the engine moves along with these triggers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notify, timing
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.directory import SYSTEM, HasGroup, PermissionDenied, require_member
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.meetings import around, has_calendar, meeting_dates, next_meeting
from tsk_workflow.organisation.model import BODIES, BodySettings, Person
from tsk_workflow.routing import DEPARTMENT, Proposal, Route, route, sek
from tsk_workflow.store import acts, cycles

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Decision

CASE_PROCESS = "beslut"
TRIGGERS = {
    "routed": "dirigera",
    "agenda": "till_dagordning",
    "approved": "bifall",
    "rejected": "avslag",
    "postponed": "bordlagg",
    "again": "ater_pa_dagordning",
}
"""The triggers of the ``beslut`` process the engine fires as a decision moves."""

OUTCOMES = ("approved", "rejected", "postponed")
PARAGRAPH = re.compile(r"^§?\s*(\d{1,5})(\s*[a-z])?$")
NUMBER = re.compile(r"^(?=.*[0-9])[0-9A-Za-zÅÄÖåäö][0-9A-Za-zÅÄÖåäö .:/-]{0,31}$")
"""The number of a decision made without a meeting, in the register of delegation decisions
(``D 2027:14``, ``2027/14``): the paragraph of a body without minutes."""
MAX_COST = 10_000_000_000
MAX_TEXT = 10_000
"""The most characters of a decision's wording."""
RECORDER_ROLES = ("kanslichef", "sekreterare")
_RECORDED = {
    "approved": N_("decision {id} was already recorded (approved {date} {paragraph})"),
    "rejected": N_("decision {id} was already recorded (rejected {date} {paragraph})"),
}
"""The refusal to record a decision twice, by its outcome."""


def refused_value(message: str, field: str) -> Refused:
    """A value of a proposal or an outcome the engine refuses, naming its ``field`` (``title``,
    ``cost``, ``date``, ``paragraph``, ``outcome``, ``override_reason``) so that a form can say
    so next to it."""
    return Refused(message, field=field)


@dataclass(slots=True)
class DecisionState:
    """A decision as an act sees it: the columns of ``decisions``."""

    id: int
    municipality: str
    cycle_id: int
    case_cycle_id: int | None
    title: str
    cost: float | None
    attrs: dict[str, Any]
    routed_to: str
    rule: str
    reason: str
    agenda_date: dt.date | None
    proposed_by: str
    proposed_at: dt.datetime
    status: str
    body: str | None = None
    decided_on: dt.date | None = None
    paragraph: str | None = None
    outcome: str | None = None
    override_reason: str | None = None
    decision_text: str | None = None
    extra_meeting: bool = False
    recorded_by: str | None = None
    recorded_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: Decision) -> DecisionState:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Decisions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.org = engine.org

    def propose(
        self,
        actor: str | None,
        cycle_ref: str | int,
        title: str,
        cost: float | None = None,
        attrs: dict[str, str] | None = None,
        then: Callable[[Act, DecisionState], None] | None = None,
    ) -> tuple[DecisionState, Route]:
        """Propose a decision from a cycle; ``then`` does more in the same act (a version of
        the åtgärdsplan that the decision adopts: ``engine.action_plans``)."""
        who = self.engine.actor(actor, "decision.propose", f"cycle:{cycle_ref}")
        title = _clean_title(title)
        _check_cost(cost)
        with self.engine.act() as act:
            now = act.now
            cycle = self.engine.cycle_state(act, cycle_ref)
            group = self.engine.directory.group_of_cycle(cycle)
            require_member(
                self.engine.directory, who, group, "decision.propose", f"cycle:{cycle.id}"
            )
            found = route(Proposal(title, cost, attrs or {}), self.org.routing)
            decision = DecisionState(
                id=act.new_ids("decisions")[0],
                municipality=self.org.municipality,
                cycle_id=cycle.id,
                case_cycle_id=None,
                title=title,
                cost=cost,
                attrs=dict(attrs or {}),
                routed_to=found.body,
                rule=found.rule,
                reason=found.reason("sv"),
                agenda_date=self.agenda_date(found.body, now),
                proposed_by=who,
                proposed_at=now,
                status="proposed",
            )
            self._record(act, who, "decision.proposed", decision, _decision_payload(decision))
            self._open_case(act, decision)
            act.effects.add_decision(decision.values())
            self._notify_routed(act, decision)
            if then is not None:
                act.write()  # the decision's row first: what ``then`` adds refers to it
                then(act, decision)
            return decision, found

    def preview(
        self, title: str, cost: float | None = None, attrs: dict[str, str] | None = None
    ) -> Route:
        """Where :meth:`propose` would route this proposal, and why; nothing is kept (a form
        shows the route before it proposes). The values are checked as :meth:`propose` does."""
        title = _clean_title(title)
        _check_cost(cost)
        return route(Proposal(title, cost, attrs or {}), self.org.routing)

    def may_propose(self, who: str, cycle: HasGroup) -> bool:
        """Whether ``who`` may propose a decision from ``cycle`` (a member or chair of the
        group that runs it, as :meth:`propose` requires)."""
        try:
            group = self.engine.directory.group_of_cycle(cycle)
        except NotFound:
            return False
        return self.engine.directory.is_chair(who, group) or who in group.members

    def attributes(self) -> list[str]:
        """The attributes the routing rules look at (``policy``, ``forvaltningar``...), in the
        order the rules name them: what a proposal may say to be routed right."""
        names: dict[str, None] = {}
        for rule in self.org.routing.rules:
            when = rule.when
            for key in (*(when.attr or {}), *(when.attr_given or ()), *(when.attr_at_least or {})):
                names.setdefault(key)
        return list(names)

    def settings(self, body: str) -> BodySettings | None:
        """The settings of ``body`` in the organisation, if it has them."""
        return next((settings for key, settings in self.org.bodies.items() if key == body), None)

    def meets(self, body: str) -> bool:
        """Whether ``body`` decides at meetings (without settings, as KLG and KS do)."""
        settings = self.settings(body)
        return settings is None or settings.meets

    def agenda_date(self, body: str, now: dt.datetime) -> dt.date | None:
        """The next meeting of ``body`` that leaves its lead time from ``now``; None for a body
        without settings, without meeting dates, or that decides without a meeting."""
        settings = self.settings(body)
        if settings is None or not settings.meets:
            return None
        earliest = (
            timing.due_at(now, settings.lead_time, self.engine.cal)
            .astimezone(self.engine.cal.zone)
            .date()
        )
        return next_meeting(settings.meetings, earliest, self.engine.cal)

    def _open_case(self, act: Act, decision: DecisionState) -> None:
        if CASE_PROCESS not in self.org.processes:
            return
        case = self.engine.open_cycle_in(act, SYSTEM, CASE_PROCESS, f"d{decision.id}", None)
        decision.case_cycle_id = case.id
        for step in ("routed", "agenda"):
            self.engine.fire_system(
                act, case, TRIGGERS[step], f"{decision.routed_to}: {decision.reason}"
            )

    def _notify_routed(self, act: Act, decision: DecisionState) -> None:
        people = self.recorders(decision.routed_to, decision.attrs, deputies=False)
        people.append(decision.proposed_by)
        notify.queue(
            act.effects,
            self.org,
            people,
            "decision_routed",
            f"decision:{decision.id}:routed",
            self._mail_context(act, decision),
            act.now,
            decision.cycle_id,
        )

    def record(
        self,
        actor: str | None,
        decision_id: int,
        body: str,
        date: dt.date,
        paragraph: str,
        outcome: str,
        override_reason: str | None = None,
        text: str | None = None,
        extra_meeting: bool = False,
    ) -> DecisionState:
        """Record what ``body`` decided on ``date`` under ``paragraph``; ``text`` is the
        decision's wording as the minutes have it (optional).

        ``date`` must be a meeting of ``body`` in the organisation's meeting calendar, or
        ``extra_meeting`` says it was one the calendar does not list (a body without a
        calendar, or one that decides without meetings, is not checked); and not before the
        proposal, nor in the future."""
        who = self.engine.actor(actor, "decision.record", f"decision:{decision_id}")
        if body not in BODIES:
            raise refused_value(
                _("unknown body {body}: one of {bodies}").format(
                    body=repr(body), bodies=", ".join(BODIES)
                ),
                "body",
            )
        paragraph = normalise_paragraph(paragraph, meets=self.meets(body))
        text = (text or "").strip() or None
        if text is not None and len(text) > MAX_TEXT:
            raise refused_value(
                _("the decision's text is longer than {most} characters").format(most=MAX_TEXT),
                "decision_text",
            )
        if outcome not in OUTCOMES:
            raise refused_value(
                _("outcome must be one of {outcomes}").format(outcomes=", ".join(OUTCOMES)),
                "outcome",
            )
        with self.engine.act() as act:
            now = act.now
            decision = DecisionState.of(self._find(act.session, decision_id))
            self._require_recorder(who, body, decision.attrs, decision.id)
            if decision.status in {"approved", "rejected"}:
                raise Refused(
                    _(_RECORDED[decision.status]).format(
                        id=decision.id, date=decision.decided_on, paragraph=decision.paragraph
                    )
                )
            if body != decision.routed_to and not (override_reason or "").strip():
                raise refused_value(
                    _(
                        "decision {id} was routed to {routed}; recording it for {body} needs --override-reason"
                    ).format(id=decision.id, routed=decision.routed_to.upper(), body=body.upper()),
                    "override_reason",
                )
            if date > now.astimezone(self.engine.cal.zone).date() + dt.timedelta(days=1):
                raise refused_value(
                    _("the meeting date {date} is in the future").format(date=date), "date"
                )
            proposed = decision.proposed_at.astimezone(self.engine.cal.zone).date()
            if date < proposed:
                raise refused_value(
                    _(
                        "the meeting date {date} is before decision {id} was proposed"
                        " ({proposed}): a body decides on a proposal it has been given"
                    ).format(date=date, id=decision.id, proposed=proposed),
                    "date",
                )
            # After the proposal's date: a date before it is wrong at any meeting, so the
            # calendar's refusal (which suggests an extra meeting) would mislead.
            self._check_meeting(body, date, extra_meeting)
            changes: dict[str, Any] = {
                "body": body,
                "decided_on": date,
                "paragraph": paragraph,
                "outcome": outcome,
                "status": outcome,
                "override_reason": override_reason,
                "decision_text": text,
                "extra_meeting": extra_meeting,
                "recorded_by": who,
                "recorded_at": now,
            }
            if outcome == "postponed":
                changes["agenda_date"] = self.agenda_date(body, now)
            for name, value in changes.items():
                setattr(decision, name, value)
            act.effects.change_decision(decision.id, **changes)
            self._record(act, who, "decision.recorded", decision, _decision_payload(decision))
            self._move_case(act, decision)
            notify.queue(
                act.effects,
                self.org,
                [decision.proposed_by],
                "decision_recorded",
                f"decision:{decision.id}:recorded:{outcome}:{date}",
                self._mail_context(act, decision),
                now,
                decision.cycle_id,
            )
            return decision

    def _check_meeting(self, body: str, date: dt.date, extra_meeting: bool) -> None:
        """Refuse a ``date`` that is no meeting of ``body`` in its meeting calendar, unless it
        was an extra meeting; an extra meeting of a body that decides alone is refused too."""
        settings = self.settings(body)
        if settings is not None and not settings.meets:
            if extra_meeting:
                raise refused_value(
                    _("{body} decides without meetings, so there is no extra meeting").format(
                        body=settings.name
                    ),
                    "extra_meeting",
                )
            return
        if settings is None or extra_meeting or not has_calendar(settings.meetings):
            return
        if date in meeting_dates(settings.meetings, date, date, self.engine.cal):
            return
        before, after = around(settings.meetings, date, self.engine.cal)
        near = ", ".join(str(day) for day in (before, after) if day is not None) or "-"
        raise refused_value(
            _(
                "{date} is not a meeting of {body} in the organisation's meeting calendar (the"
                " meetings nearest: {near}): give the date of the meeting that decided, or, if"
                " it was an extra meeting, say so (--extra-meeting)"
            ).format(date=date, body=settings.name, near=near),
            "date",
        )

    def recorders(
        self, body: str, attrs: dict[str, Any] | None = None, deputies: bool = True
    ) -> list[str]:
        """The people named to record the decisions of ``body`` (and told when one is routed
        to it): its secretary; the chair of its group (and the deputy, with ``deputies``);
        those its ``recorders`` name by id or role (and their stand-ins, with ``deputies``).
        For the department concerned (``forvaltning``) these are narrowed to the head of the
        department the proposal's attribute ``forvaltning`` names, when one of them is."""
        settings = self.settings(body)
        if settings is None:
            return []
        found = [settings.secretary] if settings.secretary else []
        group = self.org.group(settings.group) if settings.group else None
        if group is not None:
            found += [group.chair, *([group.deputy] if deputies and group.deputy else [])]
        named = [p for p in self.org.people if _named(p, settings.recorders, deputies)]
        if body == "forvaltning":
            named = _of_department(named, str((attrs or {}).get(DEPARTMENT, "")))
        found += [p.id for p in named]
        return list(dict.fromkeys(found))

    def may_record(self, who: str, body: str, attrs: dict[str, Any] | None = None) -> bool:
        """Whether ``who`` may record the decisions of ``body`` (about a proposal with
        ``attrs``): one of its :meth:`recorders`, or one who holds (or stands in for) a
        recorder's role of the kansli (``kanslichef``, ``sekreterare``), whatever the body."""
        person = self.org.person(who)
        holds = person is not None and any(
            r in (*person.roles, *person.deputy_for) for r in RECORDER_ROLES
        )
        return holds or who in self.recorders(body, attrs)

    def _require_recorder(
        self, who: str, body: str, attrs: dict[str, Any], decision_id: int
    ) -> None:
        if self.may_record(who, body, attrs):
            return
        named = ", ".join(self.recorders(body, attrs))
        settings = self.settings(body)
        name = settings.name if settings else body.upper()
        message = (
            _("only {people} or the kanslichef may record the decisions of {body}")
            if named
            else _("only the kanslichef may record the decisions of {body}")
        )
        raise PermissionDenied(
            who,
            "decision.record",
            f"decision:{decision_id}",
            message.format(people=named, body=name),
        )

    def _move_case(self, act: Act, decision: DecisionState) -> None:
        if decision.case_cycle_id is None:
            return
        case = acts.load_cycle(act.session, self.org.municipality, "id", decision.case_cycle_id)
        if case is None:
            return
        reason = f"{decision.body} {decision.decided_on} {decision.paragraph}"
        self.engine.fire_system(act, case, TRIGGERS[str(decision.outcome)], reason)
        if decision.outcome == "postponed":
            self.engine.fire_system(
                act, case, TRIGGERS["again"], f"next meeting {decision.agenda_date}"
            )

    def _mail_context(self, act: Act, decision: DecisionState) -> dict[str, Any]:
        cycle = acts.load_cycle(act.session, self.org.municipality, "id", decision.cycle_id)
        assert cycle is not None
        try:
            definition = self.engine.definition_for(
                act.session, cycle.process, cycle.process_digest
            )
        except NotFound:  # a process no longer defined: the mail goes without its title
            definition = None
        return mailctx.decision_mail(self.org, definition, cycle, decision)

    def find(self, session: Session, decision_id: int) -> Decision:
        """The decision ``decision_id``, to be shown; NotFound with a sentence if there is none."""
        return self._find(session, decision_id)

    def _find(self, session: Session, decision_id: int) -> Decision:
        decision = cycles.decision(session, self.org.municipality, decision_id)
        if decision is None:
            raise NotFound(
                _("no decision {id} in {organisation}").format(
                    id=decision_id, organisation=self.org.name
                )
            )
        return decision

    def _record(
        self, act: Act, who: str, action: str, decision: DecisionState, payload: dict[str, Any]
    ) -> None:
        role = "system" if who == SYSTEM else _role_name(self.org.person(who))
        event = audit.Act(
            self.org.municipality,
            who,
            role,
            action,
            f"decision:{decision.id}",
            payload,
            decision.cycle_id,
        )
        act.record(event)

    def listing(self, session: Session) -> list[Decision]:
        return cycles.decisions(session, self.org.municipality)

    def readable(self, session: Session, who: str) -> list[Decision]:
        """The decisions ``who`` may read: those of the cycles they may read, and those they
        may record (the secretary of the body a decision was routed to, the kanslichef), who
        need not take part in the cycle a proposal comes from."""
        cycles_read = {c.id for c in self.engine.readable_cycles(session, who)}
        return [
            d
            for d in self.listing(session)
            if d.cycle_id in cycles_read or self.may_record(who, d.body or d.routed_to, d.attrs)
        ]

    def readable_one(self, session: Session, who: str, decision_id: int) -> Decision:
        """The decision ``decision_id``, for ``who`` to read (as :meth:`readable`); NotFound,
        or a refusal recorded as reading its cycle is."""
        decision = self._find(session, decision_id)
        if not self.may_record(who, decision.body or decision.routed_to, decision.attrs):
            self.engine.readable_cycle(session, who, decision.cycle_id)
        return decision


def _role_name(person: Any) -> str:
    return person.roles[0] if person is not None and person.roles else "member"


def _check_cost(cost: float | None) -> None:
    if cost is not None and not 0 <= cost <= MAX_COST:
        raise refused_value(
            _("cost {cost} kr is not a plausible amount (0 to {most})").format(
                cost=f"{cost:g}", most=sek(MAX_COST)
            ),
            "cost",
        )


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise refused_value(_("a decision needs a --title"), "title")
    if len(cleaned) > 300:
        raise refused_value(
            _("the title is longer than {most} characters").format(most=300), "title"
        )
    return cleaned


def normalise_paragraph(text: str, meets: bool = True) -> str:
    """``§ 160``, ``§160`` or ``160`` as ``§ 160``. A decision made without a meeting has no
    minutes: ``meets`` false takes the decision's number in the register of delegation
    decisions (``D 2027:14``) as it is written, spaces made single, or a paragraph."""
    match = PARAGRAPH.match(text.strip())
    if match is not None:
        return f"§ {match.group(1)}{(match.group(2) or '').strip()}"
    number = " ".join(text.split())
    if not meets and NUMBER.match(number):
        return number
    message = (
        _("bad paragraph {text}: write it as '§ 160'")
        if meets
        else _("bad decision number {text}: write it as in the register, 'D 2027:14' or '§ 14'")
    )
    raise refused_value(message.format(text=repr(text)), "paragraph")


def _named(person: Person, names: tuple[str, ...], deputies: bool) -> bool:
    """Whether ``names`` (person ids and roles) name ``person``, by id, by a role held, or
    (with ``deputies``) by a role stood in for."""
    held = (*person.roles, *(person.deputy_for if deputies else ()))
    return person.id in names or any(role in names for role in held)


def _of_department(people: list[Person], department: str) -> list[Person]:
    """Those of ``people`` whose department is ``department`` (case and spacing aside); all of
    them when none is, or no department is given."""
    wanted = " ".join(department.split()).casefold()
    found = [p for p in people if " ".join((p.department or "").split()).casefold() == wanted]
    return found if wanted and found else people


def _decision_payload(decision: DecisionState) -> dict[str, Any]:
    text = {"text": decision.decision_text} if decision.decision_text else {}
    return text | {
        "decision": decision.id,
        "title": decision.title,
        "cost": decision.cost,
        "attrs": decision.attrs,
        "routed_to": decision.routed_to,
        "rule": decision.rule,
        "reason": decision.reason,
        "agenda_date": decision.agenda_date.isoformat() if decision.agenda_date else None,
        "body": decision.body,
        "date": decision.decided_on.isoformat() if decision.decided_on else None,
        "paragraph": decision.paragraph,
        "outcome": decision.outcome,
        "override_reason": decision.override_reason,
        "extra_meeting": decision.extra_meeting,
    }

"""Decisions: proposed from a cycle, routed to KLG or KS by the municipality's rules, put on the
agenda of the body's next meeting that leaves the lead time, then recorded.

When the municipality runs the ``beslut`` process, each decision is also a cycle of it (subject:
the case), which the engine moves along with these triggers.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsk_workflow import audit
from tsk_workflow.engine import mailctx, notify, timing
from tsk_workflow.engine.directory import SYSTEM, PermissionDenied, require_member
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.meetings import next_meeting
from tsk_workflow.routing import Proposal, Route, route, sek
from tsk_workflow.store.models import Cycle, Decision

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
MAX_COST = 10_000_000_000
RECORDER_ROLES = ("kanslichef", "sekreterare")
_RECORDED = {
    "approved": N_("decision {id} was already recorded (approved {date} {paragraph})"),
    "rejected": N_("decision {id} was already recorded (rejected {date} {paragraph})"),
}
"""The refusal to record a decision twice, by its outcome."""


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
    ) -> tuple[Decision, Route]:
        who = self.engine.actor(actor, "decision.propose", f"cycle:{cycle_ref}")
        title = _clean_title(title)
        if cost is not None and not 0 <= cost <= MAX_COST:
            raise Refused(
                _("cost {cost} kr is not a plausible amount (0 to {most})").format(
                    cost=f"{cost:g}", most=sek(MAX_COST)
                )
            )
        with self.engine.act() as (session, now):
            cycle = self.engine.find_cycle(session, cycle_ref)
            group = self.engine.directory.group_of(cycle.process)
            require_member(
                self.engine.directory, who, group, "decision.propose", f"cycle:{cycle.id}"
            )
            found = route(Proposal(title, cost, attrs or {}), self.org.routing)
            decision = Decision(
                municipality=self.org.municipality,
                cycle_id=cycle.id,
                title=title,
                cost=cost,
                attrs=dict(attrs or {}),
                routed_to=found.body,
                rule=found.rule,
                reason=found.reason("sv"),
                agenda_date=self._agenda_date(found.body, now),
                proposed_by=who,
                proposed_at=now,
                status="proposed",
            )
            session.add(decision)
            session.flush()
            self._record(
                session, now, who, "decision.proposed", decision, _decision_payload(decision)
            )
            self._open_case(session, now, decision, who)
            self._notify_routed(session, now, decision)
            return decision, found

    def _agenda_date(self, body: str, now: dt.datetime) -> dt.date | None:
        settings = self.org.bodies.get(body)  # type: ignore[call-overload]
        if settings is None:
            return None
        earliest = (
            timing.due_at(now, settings.lead_time, self.engine.cal)
            .astimezone(self.engine.cal.zone)
            .date()
        )
        return next_meeting(settings.meetings, earliest, self.engine.cal)

    def _open_case(self, session: Session, now: dt.datetime, decision: Decision, who: str) -> None:
        if CASE_PROCESS not in self.org.processes:
            return
        case = self.engine.open_cycle_in(
            session, now, SYSTEM, CASE_PROCESS, f"d{decision.id}", None
        )
        decision.case_cycle_id = case.id
        for step in ("routed", "agenda"):
            self.engine.fire_system(
                session, now, case, TRIGGERS[step], f"{decision.routed_to}: {decision.reason}"
            )

    def _notify_routed(self, session: Session, now: dt.datetime, decision: Decision) -> None:
        settings = self.org.bodies.get(decision.routed_to)  # type: ignore[call-overload]
        people = [settings.secretary] if settings is not None and settings.secretary else []
        people.append(decision.proposed_by)
        notify.queue(
            session,
            self.org,
            people,
            "decision_routed",
            f"decision:{decision.id}:routed",
            self._mail_context(session, decision),
            now,
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
    ) -> Decision:
        who = self.engine.actor(actor, "decision.record", f"decision:{decision_id}")
        paragraph = normalise_paragraph(paragraph)
        if outcome not in OUTCOMES:
            raise Refused(
                _("outcome must be one of {outcomes}").format(outcomes=", ".join(OUTCOMES))
            )
        with self.engine.act() as (session, now):
            decision = self._find(session, decision_id)
            self._require_recorder(who, body, decision)
            if decision.status in {"approved", "rejected"}:
                raise Refused(
                    _(_RECORDED[decision.status]).format(
                        id=decision.id, date=decision.decided_on, paragraph=decision.paragraph
                    )
                )
            if body != decision.routed_to and not (override_reason or "").strip():
                raise Refused(
                    _(
                        "decision {id} was routed to {routed}; recording it for {body} needs --override-reason"
                    ).format(id=decision.id, routed=decision.routed_to.upper(), body=body.upper())
                )
            if date > now.astimezone(self.engine.cal.zone).date() + dt.timedelta(days=1):
                raise Refused(_("the meeting date {date} is in the future").format(date=date))
            proposed = decision.proposed_at.astimezone(self.engine.cal.zone).date()
            if date < proposed:
                raise Refused(
                    _(
                        "the meeting date {date} is before decision {id} was proposed"
                        " ({proposed}): a body decides on a proposal it has been given"
                    ).format(date=date, id=decision.id, proposed=proposed)
                )
            decision.body = body
            decision.decided_on = date
            decision.paragraph = paragraph
            decision.outcome = outcome
            decision.status = outcome
            decision.override_reason = override_reason
            decision.recorded_by = who
            decision.recorded_at = now
            if outcome == "postponed":
                decision.agenda_date = self._agenda_date(body, now)
            self._record(
                session, now, who, "decision.recorded", decision, _decision_payload(decision)
            )
            self._move_case(session, now, decision)
            notify.queue(
                session,
                self.org,
                [decision.proposed_by],
                "decision_recorded",
                f"decision:{decision.id}:recorded:{outcome}:{date}",
                self._mail_context(session, decision),
                now,
                decision.cycle_id,
            )
            return decision

    def _require_recorder(self, who: str, body: str, decision: Decision) -> None:
        settings = self.org.bodies.get(body)  # type: ignore[call-overload]
        secretary = settings.secretary if settings is not None else None
        person = self.org.person(who)
        holds = person is not None and any(
            r in (*person.roles, *person.deputy_for) for r in RECORDER_ROLES
        )
        if who == secretary or holds:
            return
        raise PermissionDenied(
            who,
            "decision.record",
            f"decision:{decision.id}",
            _(
                "only the secretary of {body} ({secretary}) or the kanslichef may record its decisions"
            ).format(body=body.upper(), secretary=secretary or _("none set")),
        )

    def _move_case(self, session: Session, now: dt.datetime, decision: Decision) -> None:
        if decision.case_cycle_id is None:
            return
        case = session.get(Cycle, decision.case_cycle_id)
        if case is None:
            return
        reason = f"{decision.body} {decision.decided_on} {decision.paragraph}"
        self.engine.fire_system(session, now, case, TRIGGERS[str(decision.outcome)], reason)
        if decision.outcome == "postponed":
            self.engine.fire_system(
                session, now, case, TRIGGERS["again"], f"next meeting {decision.agenda_date}"
            )

    def _mail_context(self, session: Session, decision: Decision) -> dict[str, Any]:
        cycle = session.get(Cycle, decision.cycle_id)
        assert cycle is not None
        try:
            definition = self.engine.definition_for(session, cycle.process, cycle.process_digest)
        except NotFound:  # a process no longer defined: the mail goes without its title
            definition = None
        return mailctx.decision_mail(self.org, definition, cycle, decision)

    def _find(self, session: Session, decision_id: int) -> Decision:
        decision = session.get(Decision, decision_id)
        if decision is None or decision.municipality != self.org.municipality:
            raise NotFound(
                _("no decision {id} in {organisation}").format(
                    id=decision_id, organisation=self.org.name
                )
            )
        return decision

    def _record(
        self,
        session: Session,
        now: dt.datetime,
        who: str,
        action: str,
        decision: Decision,
        payload: dict[str, Any],
    ) -> None:
        role = "system" if who == SYSTEM else _role_name(self.org.person(who))
        act = audit.Act(
            self.org.municipality,
            who,
            role,
            action,
            f"decision:{decision.id}",
            payload,
            decision.cycle_id,
        )
        audit.append(session, act, now)

    def listing(self, session: Session) -> list[Decision]:
        query = (
            select(Decision)
            .where(Decision.municipality == self.org.municipality)
            .order_by(Decision.id)
        )
        return list(session.scalars(query))


def _role_name(person: Any) -> str:
    return person.roles[0] if person is not None and person.roles else "member"


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise Refused(_("a decision needs a --title"))
    if len(cleaned) > 300:
        raise Refused(_("the title is longer than {most} characters").format(most=300))
    return cleaned


def normalise_paragraph(text: str) -> str:
    """``§ 160``, ``§160`` or ``160`` as ``§ 160``."""
    match = PARAGRAPH.match(text.strip())
    if match is None:
        raise Refused(_("bad paragraph {text}: write it as '§ 160'").format(text=repr(text)))
    return f"§ {match.group(1)}{(match.group(2) or '').strip()}"


def _decision_payload(decision: Decision) -> dict[str, Any]:
    return {
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
    }

"""The people of the demo: reporters who answer (some late), chairs who open, move and close
cycles, coordinators who attach the documents a step must produce, and secretaries who record
what KLG and KS decided. Every act goes through the engine, like a person at the command line.

Choices are drawn from a seeded random generator, so a demo run is reproducible.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from tsk_workflow.demo.actions import ActionPlayers, plan_decisions
from tsk_workflow.demo.answers import figures, fill, has_figures
from tsk_workflow.engine import documents as docs
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.possible import Possible
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import TskError
from tsk_workflow.forms import form_of
from tsk_workflow.store import summary
from tsk_workflow.store.models import Cycle

LATE_SHARE = 0.2
"""About one task in five is done after its due time, so reminders and escalations fire."""

CASE_PROCESS = "beslut"
PROPOSING_TASKS = {"lamna_beslutsforslag", "besluta_atgarder", "besluta_plan", "konkreta_mal"}
BACKWARDS = ("aterkalla", "ater_till", "aterremittera")
ADOPTING_TRIGGERS = {"besluta"}
"""Triggers by which a steering group adopts a plan at its meeting (``fordjupad_lagesbild``)."""

PROPOSALS: tuple[tuple[str, float, dict[str, str]], ...] = (
    ("Bättre belysning i gångtunneln vid stationen", 45_000.0, {}),
    ("Kameraövervakning vid resecentrum", 350_000.0, {"policy": "ja"}),
    ("Utökad fältverksamhet under sommarlovet", 120_000.0, {"forvaltningar": "3"}),
    ("Klotterplank vid skateparken", 15_000.0, {}),
    ("Röjning av sly längs gång- och cykelvägen", 30_000.0, {}),
    ("Ny policy för trygghetsvandringar med föreningslivet", 0.0, {"policy": "ja"}),
    ("Extra nattvandrare vid skolavslutningen", 25_000.0, {"forvaltningar": "2"}),
)

DOCUMENT_TEXT = {
    "lagesbild": "# Lägesbild {ref}\n\nSammanställning av inrapporter, brottsstatistik och lokalkännedom.\n",
    "orsaksanalys": "# Orsaksanalys {ref}\n\nVarför uppstår problemen, var och när?\n",
    "atgardsplan": "# Åtgärdsplan {ref}\n\n| Vad | Hur | Vem | När |\n|---|---|---|---|\n",
    "protokoll": "# Protokoll {ref}\n\nNärvarande, beslut och uppföljning.\n",
    "samverkansoverenskommelse": "# Samverkansöverenskommelse {ref}\n\nKommunen och polisen är överens om ...\n",
    "kallelse": "# Kallelse {ref}\n\nTid, plats och dagordning.\n",
    "rapport": "# Rapport {ref}\n\nRedovisning av arbetet.\n",
    "enkatresultat": "# Enkätresultat {ref}\n\nSvarsfrekvens och trygghetsfrågor.\n",
}


@dataclass
class Stats:
    proposals: int = 0
    recorded: int = 0
    attached: int = 0
    triggers: int = 0
    refused: list[str] = field(default_factory=list)


class Players:
    """Acts for the people of one municipality, once per working day."""

    def __init__(self, engine: Engine, rng: random.Random) -> None:
        self.engine = engine
        self.rng = rng
        self.decisions = Decisions(engine)
        self.planned: dict[int, dt.datetime] = {}
        self.waiting: dict[tuple[int, str], dt.datetime] = {}
        self.paragraphs = {"ks": 100, "klg": 10}
        self.postponed: set[int] = set()
        self.stats = Stats()
        self.actions = ActionPlayers(engine, rng, self._try)

    def play(self, now: dt.datetime) -> None:
        self._open_by_hand(now)
        self._do_tasks(now)
        self.actions.follow_up(now.astimezone(self.engine.cal.zone).date())
        self._move_waiting_cycles(now)
        self._record_decisions(now)

    def _open_by_hand(self, now: dt.datetime) -> None:
        """The chair opens the first turn of a restarting process (Tingsryd's cycle)."""
        for key in self.engine.org.processes:
            definition = self.engine.catalog.definition(key)
            if definition.schedule.kind != "restart":
                continue
            with self.engine.store.reading() as session:
                started = bool(self.engine.cycles(session, process=key))
            if not started:
                chair = self.engine.directory.group_of(key).chair
                self._try(lambda k=key, c=chair: self.engine.open_cycle(c, k, "1"))

    # ---------------------------------------------------------------- tasks

    def _do_tasks(self, now: dt.datetime) -> None:
        with self.engine.store.reading() as session:
            tasks = [
                (t.id, t.created_at, t.due_at, t.key, t.cycle_id, list(t.assignee_ids))
                for t in self.engine.tasks(session)
            ]
        for task_id, created, due, key, cycle_id, assignees in tasks:
            when = self.planned.setdefault(task_id, self._plan(created, due))
            if now >= when and assignees:
                self._do_task(task_id, key, cycle_id, assignees[0])

    def _plan(self, created: dt.datetime, due: dt.datetime | None) -> dt.datetime:
        if due is None:
            return created + dt.timedelta(days=self.rng.uniform(1, 4))
        if self.rng.random() < LATE_SHARE:
            return due + dt.timedelta(days=self.rng.uniform(1, 8))
        return created + (due - created) * self.rng.uniform(0.2, 0.95)

    def _do_task(self, task_id: int, key: str, cycle_id: int, person: str) -> None:
        if key in PROPOSING_TASKS:
            self._propose(cycle_id, person)
        process, makes_actions = self._step_of(task_id)
        if makes_actions:
            today = self.engine.clock().astimezone(self.engine.cal.zone).date()
            self.actions.add_for_step(cycle_id, person, today)
        self.actions.propose_plan(process, key, cycle_id, self._chair_of(cycle_id))
        self._attach_missing(cycle_id)
        note = self.rng.choice(
            ["Klart.", "Rapporterat.", "Gjort enligt plan.", "Se bifogat underlag."]
        )
        answers = self._answers(task_id)
        self._try(lambda: self.engine.complete_task(person, task_id, note, answers))

    def _step_of(self, task_id: int) -> tuple[str, bool]:
        """The task's process, and whether its step's plan is made of actions."""
        with self.engine.store.reading() as session:
            task = self.engine.find_task(session, task_id)
            cycle = task.cycle
            definition = self.engine.definition_for(session, cycle.process, cycle.process_digest)
            return cycle.process, definition.step(task.step).actions

    def _answers(self, task_id: int) -> dict[str, Any] | None:
        """A reporter fills in the task's form, when it has one."""
        with self.engine.store.reading() as session:
            task = self.engine.find_task(session, task_id)
            cycle = task.cycle
            definition = self.engine.definition_for(session, cycle.process, cycle.process_digest)
            form = form_of(definition, task.step, task.key)
            seed = f"{self.engine.org.municipality}:{cycle.ref}:{task.key}"
        if form is None:
            return None
        if has_figures(form):  # drawn apart, so the rest of the year draws as before
            return figures(form, self.engine.org, random.Random(seed))
        today = self.engine.clock().astimezone(self.engine.cal.zone).date()
        return fill(form, self.engine.org, self.rng, today)

    def _propose(self, cycle_id: int, person: str) -> None:
        chair = self._chair_of(cycle_id)
        for title, cost, attrs in self.rng.sample(PROPOSALS, self.rng.choice([0, 1, 1, 2])):
            if self._try(
                lambda t=title, c=cost, a=attrs: self.decisions.propose(
                    chair, cycle_id, t, c or None, dict(a)
                )
            ):
                self.stats.proposals += 1

    # ---------------------------------------------------------------- documents and triggers

    def _attach_missing(self, cycle_id: int) -> None:
        with self.engine.store.reading() as session:
            cycle = summary.cycle(session, cycle_id)
            if cycle is None or cycle.status != "open":
                return
            ref = cycle.ref
        missing = self.engine.missing_documents(cycle_id)
        chair = self._chair_of(cycle_id)
        for kind in missing:
            text = DOCUMENT_TEXT.get(kind, "# {ref}\n").format(ref=ref)
            upload = docs.Upload(f"{kind}-{ref}.md", text.encode())
            if self._try(lambda u=upload, k=kind: docs.attach(self.engine, chair, cycle_id, u, k)):
                self.stats.attached += 1

    def _move_waiting_cycles(self, now: dt.datetime) -> None:
        with self.engine.store.reading() as session:
            waiting = [
                (c.id, c.state)
                for c in self.engine.cycles(session, only_open=True)
                if c.process != CASE_PROCESS and self._stuck(session, c)
            ]
        for cycle_id, state in waiting:
            since = self.waiting.setdefault((cycle_id, state), now)
            if now - since >= dt.timedelta(days=1):
                self._fire_something(cycle_id)

    def _stuck(self, session: object, cycle: Cycle) -> bool:
        return not any(t.status == "open" and t.step == cycle.state for t in cycle.tasks)

    def _fire_something(self, cycle_id: int) -> None:
        """Fire one of the transitions out of the cycle's step (forward ones first), as the
        first person who may; attach the documents it waits for first, as a coordinator would."""
        choice = self._choose(self.engine.possible_transitions(cycle_id))
        if choice is None:
            return
        person = choice.people[0] if choice.people else self._chair_of(cycle_id)
        if choice.reasons:  # not yet: the step's tasks, or its documents
            self._attach_missing(cycle_id)
        if choice.trigger in ADOPTING_TRIGGERS:
            self._record_plan_at_meeting()
        note = "Beslutat av ordföranden på mötet." if choice.needs_note else None
        if self._try(lambda: self.engine.advance(person, cycle_id, choice.trigger, note)):
            self.stats.triggers += 1

    def _choose(self, options: list[Possible]) -> Possible | None:
        forward = [t for t in options if not t.trigger.startswith(BACKWARDS)]
        ready = [t for t in forward if not t.reasons]  # a way that is open now, first
        pool = ready or forward or options
        return self.rng.choice(pool) if pool else None

    # ---------------------------------------------------------------- decisions

    def _record_decisions(self, now: dt.datetime) -> None:
        today = now.astimezone(self.engine.cal.zone).date()
        with self.engine.store.reading() as session:
            due = [
                (d.id, d.routed_to, d.agenda_date or d.proposed_at.date() + dt.timedelta(days=7))
                for d in summary.decisions_waiting(session, self.engine.org.municipality)
            ]
        for decision_id, body, meeting in due:
            if meeting <= today:
                self._record(decision_id, body, meeting)

    def _record_plan_at_meeting(self) -> None:
        """The steering group adopts the strategic plan at the meeting of the cycle that made
        it (an extra meeting of the body, recorded on its day)."""
        today = self.engine.clock().astimezone(self.engine.cal.zone).date()
        plans = plan_decisions(self.engine)
        with self.engine.store.reading() as session:
            waiting = [
                (d.id, d.routed_to)
                for d in summary.decisions_waiting(session, self.engine.org.municipality)
                if d.id in plans
            ]
        for decision_id, body in waiting:
            self._record(decision_id, body, today, extra_meeting=True)

    def _record(
        self, decision_id: int, body: str, meeting: dt.date, *, extra_meeting: bool = False
    ) -> None:
        outcome = self.rng.choices(["approved", "rejected", "postponed"], [75, 10, 15])[0]
        if decision_id in plan_decisions(self.engine):
            outcome = "approved"  # the demo's bodies adopt the plans they are given
        if outcome == "postponed" and decision_id in self.postponed:
            outcome = "approved"
        self.paragraphs[body] = self.paragraphs.get(body, 0) + 1
        secretary = self._secretary(body)
        paragraph = f"§ {self.paragraphs[body]}"
        if self._try(
            lambda: self.decisions.record(
                secretary,
                decision_id,
                body,
                meeting,
                paragraph,
                outcome,
                extra_meeting=extra_meeting,
            )
        ):
            self.stats.recorded += 1
            if outcome == "postponed":
                self.postponed.add(decision_id)

    def _secretary(self, body: str) -> str:
        settings = self.engine.org.bodies.get(body)  # type: ignore[call-overload]
        if settings is not None and settings.secretary:
            return str(settings.secretary)
        holders = self.engine.org.holders("kanslichef")
        return holders[0].id if holders else self.engine.org.people[0].id

    # ---------------------------------------------------------------- helpers

    def _chair_of(self, cycle_id: int) -> str:
        with self.engine.store.reading() as session:
            cycle = summary.cycle(session, cycle_id)
            process = cycle.process if cycle is not None else next(iter(self.engine.org.processes))
        return self.engine.directory.group_of(process).chair

    def _try(self, act: object) -> bool:
        """Do an act as a person would; a refusal is noted, as a person would notice it."""
        assert callable(act)
        try:
            act()
        except TskError as exc:
            self.stats.refused.append(str(exc))
            return False
        return True

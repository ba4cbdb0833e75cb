"""The engine: the acts people (and the scheduler) do on cycles and tasks.

Each public method is one act and one transaction: the state change, the tasks and timers it
creates, its audit event and its outgoing mail commit together or not at all. Permissions are
checked here, from the definition and the organisation.

An act reads its cycle as plain data (``store.acts.CycleState``), decides in memory and
collects its effects in an :class:`~tsk_workflow.engine.act.Act`, which the store writes at
its end (``store.acts.apply``). The cycle's one optimistic lock is taken then: a concurrent act
on the same cycle fails with ``Conflict``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit, forms, links
from tsk_workflow.catalog import Catalog
from tsk_workflow.definitions.compile import CompiledProcess
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine import access, mailctx, notify, periods, privacy, timing, versions
from tsk_workflow.engine.act import Act
from tsk_workflow.engine.context import StepContext, StepListener
from tsk_workflow.engine.directory import (
    SYSTEM,
    Directory,
    PermissionDenied,
    require_chair,
    require_trigger,
    unknown_person,
)
from tsk_workflow.engine.possible import Possible
from tsk_workflow.engine.possible import possible_transitions as _possible
from tsk_workflow.engine.steps import (
    enter_step,
    missing_documents,
    required_done,
    unmet_conditions,
)
from tsk_workflow.errors import Conflict, NotFound, Refused, did_you_mean
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import acts, cycles
from tsk_workflow.store.acts import CycleState, TaskState
from tsk_workflow.store.database import Store

if TYPE_CHECKING:
    from tsk_workflow.store.database import Connection, Session
    from tsk_workflow.store.models import Cycle, Task

Clock = Callable[[], dt.datetime]

_EXISTS = {
    "open": N_("cycle {ref} already exists (id {id}, open)"),
    "closed": N_("cycle {ref} already exists (id {id}, closed)"),
}
"""The refusal of a second cycle of one occurrence, by the status of the first."""
_ALREADY = {
    "done": N_("task {id} is already done"),
    "cancelled": N_("task {id} is already cancelled"),
}
"""The refusal to complete a task that is not open, by its status."""


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Engine:
    """Acts on the cycles of one municipality.

    ``listeners`` are the features called at each step a cycle enters (``engine.context``);
    ``tsk_workflow.features.build_engine`` makes an engine with the standard ones."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        org: Organisation,
        clock: Clock = system_clock,
        listeners: Sequence[StepListener] = (),
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.org = org
        self.clock = clock
        self.listeners = tuple(listeners)
        self.directory = Directory(org)
        self.cal = timing.work_calendar(org)
        self._stored: set[str] = set()
        """Digests of definitions this engine found stored in its database (they stay)."""
        self.via: str | None = None
        """Set by the CLI when an OS login acts for another person (``--as`` with ``act_for``):
        every act of this engine is recorded with ``via`` (``engine.access.acting_person``)."""

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def act(self) -> Iterator[Act]:
        """One act: a transaction, whose effects are written when the block ends; a permission
        refusal is recorded outside it."""
        now = self.clock()
        try:
            with self.store.transaction() as session:
                # Every act ends by appending to the audit chain; taking the chain's lock first
                # (as the scheduler does) keeps two writers from deadlocking on PostgreSQL.
                audit.lock_chain(session)
                act = Act(session, now, via=self.via)
                yield act
                act.write()
        except PermissionDenied as exc:
            self._record_refusal(exc, now)
            raise

    @contextmanager
    def act_in(self, session: Session, now: dt.datetime) -> Iterator[Act]:
        """An act inside the caller's transaction (the scheduler's, in a savepoint of its own):
        its effects are written when the block ends."""
        act = Act(session, now)
        yield act
        act.write()

    def record_refusal(self, exc: PermissionDenied) -> None:
        """Keep a refusal found outside the engine's acts (a sign-in, a mail link) with the
        refused acts of this municipality, now."""
        self._record_refusal(exc)

    def _record_refusal(self, exc: PermissionDenied, now: dt.datetime | None = None) -> None:
        with self.store.transaction() as session:
            cycles.record_refusal(
                session,
                at=now or self.clock(),
                municipality=self.org.municipality,
                # Cut to the columns: what was typed can be longer than any real value.
                actor=exc.actor[:64],
                action=exc.action[:64],
                subject=exc.subject[:100],
                reason=str(exc),
            )

    def context(self, act: Act, process: str, digest: str | None = None) -> StepContext:
        """Acting on a cycle of ``process`` that follows the version ``digest`` (None: the
        current definition, as for a new cycle); ``cycle_context`` for a cycle."""
        compiled = self.compiled_for(act.session, process, digest)
        return StepContext(act, self.org, self.directory, compiled, self.cal, self.listeners)

    def cycle_context(self, act: Act, cycle: CycleState | Cycle) -> StepContext:
        """Acting on ``cycle``, with the version of its definition it follows."""
        return self.context(act, cycle.process, cycle.process_digest)

    def compiled_for(
        self, session: Session | Connection, process: str, digest: str | None
    ) -> CompiledProcess:
        """The machine of the version a cycle follows (``cycle.process_digest``): the catalog's
        own when the digest is its (no query), else the stored one (``engine/versions.py``)."""
        return self.catalog.compiled_for(
            process, digest, lambda found: versions.stored_text(session, found)
        )

    def definition_for(
        self, session: Session | Connection, process: str, digest: str | None
    ) -> ProcessDefinition:
        """The definition of the version a cycle follows (see ``compiled_for``)."""
        return self.catalog.definition_for(
            process, digest, lambda found: versions.stored_text(session, found)
        )

    def actor(self, person_id: str | None, action: str = "act", subject: str = "") -> str:
        """The person acting (``--as``); the scheduler's own name is not a person to act as.

        Someone who is not a person of the organisation in force is refused, and the refusal
        is recorded (``refused_acts``) with the name given, ``action`` and ``subject``: an
        attempt to act as someone unknown is what an auditor wants to see first."""
        if person_id == SYSTEM and self.org.person(SYSTEM) is None:
            raise Refused(
                _("'{name}' is the scheduler, not a person: act as yourself (--as PERSON)").format(
                    name=SYSTEM
                )
            )
        if person_id and self.org.person(person_id) is None:
            refusal = PermissionDenied(
                person_id[:64],
                action,
                subject or f"municipality:{self.org.municipality}",
                unknown_person(self.org, person_id),
            )
            self._record_refusal(refusal, self.clock())
            raise refusal
        return self.directory.person(person_id).id

    def acting_person(self, login: str, claimed: str | None) -> str:
        """The person the OS ``login`` acts as, on a database on the server's clock
        (``engine.access.acting_person``): theirs, or with ``act_for`` the one ``--as`` names,
        recorded ``via`` the login (this engine's acts say so from now on). A refusal is
        recorded."""
        try:
            person, via = access.acting_person(self.org, login, claimed)
        except PermissionDenied as exc:
            self._record_refusal(exc)
            raise
        self.via = via
        return person

    def find_cycle(self, session: Session, ref: str | int) -> Cycle:
        """The cycle named by ``ref`` (its id or ref), to be shown."""
        by, key = _cycle_key(ref)
        cycle = cycles.cycle(session, self.org.municipality, by, key)
        if cycle is None:
            raise self._no_cycle(session, ref)
        return cycle

    def cycle_state(self, act: Act, ref: str | int) -> CycleState:
        """The cycle named by ``ref``, with its tasks, as the act decides on it."""
        by, key = _cycle_key(ref)
        cycle = acts.load_cycle(act.session, self.org.municipality, by, key)
        if cycle is None:
            raise self._no_cycle(act.session, ref)
        return cycle

    def _no_cycle(self, session: Session, ref: str | int) -> NotFound:
        """No such cycle; for a mistyped reference, the closest one there is."""
        hint = ""
        if not str(ref).isdigit():
            hint = did_you_mean(str(ref), cycles.refs(session, self.org.municipality))
        return NotFound(
            _("no cycle '{ref}' in {organisation}").format(ref=ref, organisation=self.org.name)
            + hint
        )

    def find_task(self, session: Session, task_id: int) -> Task:
        """The task with id ``task_id``, to be shown."""
        task = cycles.task(session, self.org.municipality, task_id)
        if task is None:
            raise self._no_task(task_id)
        return task

    def _task_state(self, act: Act, task_id: int) -> tuple[CycleState, TaskState]:
        """The task's cycle with its tasks, and the task among them."""
        cycle_id = acts.cycle_of_task(act.session, self.org.municipality, task_id)
        cycle = self.cycle_state(act, cycle_id) if cycle_id is not None else None
        task = next((t for t in cycle.tasks if t.id == task_id), None) if cycle else None
        if cycle is None or task is None:
            raise self._no_task(task_id)
        return cycle, task

    def _no_task(self, task_id: int) -> NotFound:
        return NotFound(
            _("no task {id} in {organisation}").format(id=task_id, organisation=self.org.name)
        )

    # ------------------------------------------------------------------ cycles

    def open_cycle(
        self,
        actor: str | None,
        process: str,
        period: str | None = None,
        subject: str | None = None,
        *,
        late: bool = False,
        parent_id: int | None = None,
        group: str | None = None,
    ) -> CycleState:
        """Open a cycle of ``process`` as its group's chair; ``group`` names another group
        that also runs the process (``also_run_by``), whose chair opens it for that group."""
        who = self.actor(actor, "cycle.open", f"process:{process}")
        self.catalog.definition(process)  # an unknown process is NotFound before anything else
        running = self.directory.running_group(process, group)
        with self.act() as act:
            require_chair(self.directory, who, running, "cycle.open", f"process:{process}")
            return self.open_cycle_in(
                act,
                who,
                process,
                period,
                subject,
                late=late,
                parent_id=parent_id,
                group=running.key,
            )

    def open_cycle_in(
        self,
        act: Act,
        who: str,
        process: str,
        period: str | None,
        subject: str | None,
        *,
        late: bool = False,
        parent_id: int | None = None,
        group: str | None = None,
    ) -> CycleState:
        """Open a cycle of ``process`` as ``who`` inside ``act`` (the scheduler's opening, a
        decision's case, a linked or restarted cycle): no permission is checked. The cycle is
        run by ``group``, one of the process's groups, or else by the process's own."""
        session, now = act.session, act.now
        ctx = self.context(act, process)
        definition = ctx.process.definition
        subject = periods.check_subject(definition, self.org, subject)
        known = periods.periods_of(definition, self.org, self.cal)
        opened_before = cycles.count(session, self.org.municipality, process) + sum(
            row["process"] == process for row in act.effects.new_cycles.values()
        )
        example = known.default(now.astimezone(self.cal.zone).date(), opened_before)
        period = period or example
        known.check(period, example)
        self._refuse_duplicate(act, process, period, subject)
        digest = self._stored_digest(session, process, now)
        cycle = CycleState(
            id=act.new_ids("cycles")[0],
            ref=periods.cycle_ref(process, period, subject),
            municipality=self.org.municipality,
            process=process,
            process_version=definition.version,
            process_digest=digest,
            period=period,
            subject=subject,
            title=periods.cycle_title(definition, self.org, period, subject),
            state=definition.initial_step,
            status="open",
            group_key=self.directory.running_group(process, group).key,
            opened_at=now,
            opened_by=who,
            step_entered_at=now,
            closed_at=None,
            closed_by=None,
            close_note=None,
            forced=False,
            late=late,
            parent_id=parent_id,
            version=1,
        )
        act.effects.open_cycle(cycle)
        payload = {
            "process": process,
            "version": definition.version,
            "digest": digest,
            "period": period,
            "subject": subject,
            "late": late,
            "step": definition.initial_step,
            "group": cycle.group_key,
        }
        ctx.record(cycle, who, "cycle.opened", payload)
        running = ctx.group(cycle)
        notify.queue(
            act.effects,
            self.org,
            [*self.directory.chairs(running), *running.members],
            "cycle_opened",
            f"cycle:{cycle.id}:opened",
            mailctx.cycle_opened_mail(self.org, definition, cycle, running.chair),
            now,
            cycle.id,
        )
        notify.yearly_report(ctx, cycle)  # yearly_report_due, for a yearly report's cycle only
        enter_step(ctx, cycle, definition.initial_step, who)
        self._open_linked(ctx, cycle)
        self.settle(ctx, cycle, who)
        return cycle

    def _stored_digest(self, session: Session, process: str, now: dt.datetime) -> str | None:
        """The digest of the current definition of ``process``, its text stored in the database
        (once: after that the engine remembers it); None for a catalog made in code."""
        source = self.catalog.sources.get(process)
        if source is None:
            return None
        if source.digest not in self._stored and not versions.store(session, source, now):
            self._stored.add(source.digest)  # found stored (committed before): it stays
        return source.digest

    def _refuse_duplicate(self, act: Act, process: str, period: str, subject: str) -> None:
        municipality = self.org.municipality
        existing = cycles.same_occurrence(act.session, municipality, process, period, subject)
        if existing is None:  # nor among the cycles this act opens
            existing = next(
                (
                    (row["ref"], row["id"], row["status"])
                    for row in act.effects.new_cycles.values()
                    if (row["process"], row["period"], row["subject"]) == (process, period, subject)
                ),
                None,
            )
        if existing is not None:
            ref, cycle_id, status = existing
            message = _EXISTS.get(status, N_("cycle {ref} already exists (id {id}, {status})"))
            raise Refused(_(message).format(ref=ref, id=cycle_id, status=status))

    def advance(
        self,
        actor: str | None,
        ref: str | int,
        trigger: str,
        note: str | None = None,
        *,
        expected_step: str | None = None,
    ) -> CycleState:
        """Fire ``trigger`` as ``actor``. With ``expected_step`` (the step a page showed), a
        cycle that is no longer there is a ``Conflict``: someone acted on it meanwhile (or
        the same form was sent twice), and nothing is done."""
        who = self.actor(actor, f"advance:{trigger}", f"cycle:{ref}")
        with self.act() as act:
            cycle = self.cycle_state(act, ref)
            _require_step(cycle, expected_step)
            ctx = self.cycle_context(act, cycle)
            self._require_open(cycle)
            transition = ctx.process.transition(cycle.state, trigger)
            if transition is None:
                allowed = ", ".join(ctx.process.allowed_triggers(cycle.state))
                message = (
                    N_(
                        "'{trigger}' cannot be fired from step '{step}' of {cycle}; allowed: {allowed}"
                    )
                    if allowed
                    else N_("'{trigger}' cannot be fired from step '{step}' of {cycle}; none can")
                )
                raise Refused(
                    _(message).format(
                        trigger=trigger, step=cycle.state, cycle=cycle.ref, allowed=allowed
                    )
                )
            role = require_trigger(
                self.directory, who, ctx.group(cycle), transition, f"cycle:{cycle.id}"
            )
            unmet = unmet_conditions(ctx, cycle, transition, note)
            if unmet:
                no_note = "note_given" in transition.conditions and not (note or "").strip()
                raise Refused(
                    _("'{trigger}' cannot be fired yet: {unmet}").format(
                        trigger=trigger, unmet="; ".join(unmet)
                    ),
                    field="note" if no_note else None,
                )
            privacy.guard(self.org, {"note": note})
            self._fire(ctx, cycle, trigger, who, role, note, automatic=False)
            self.settle(ctx, cycle, who)
            return cycle

    def fire_system(self, act: Act, cycle: CycleState, trigger: str, reason: str) -> bool:
        """Fire ``trigger`` as the scheduler (a timed transition); False when it no longer applies."""
        ctx = self.cycle_context(act, cycle)
        if cycle.status != "open" or ctx.process.transition(cycle.state, trigger) is None:
            return False
        self._fire(ctx, cycle, trigger, SYSTEM, "system", reason, automatic=True)
        self.settle(ctx, cycle, SYSTEM)
        return True

    def _fire(
        self,
        ctx: StepContext,
        cycle: CycleState,
        trigger: str,
        who: str,
        role: str,
        note: str | None,
        *,
        automatic: bool,
    ) -> None:
        """Leave the cycle's step by ``trigger``: its open tasks are cancelled."""
        transition = ctx.process.transition(cycle.state, trigger)
        assert transition is not None
        leaving = cycle.state
        cancelled = cycle.open_tasks(leaving)
        ctx.act.effects.cancel_tasks(cancelled)
        if ctx.process.has_timed_transitions(leaving):
            ctx.act.effects.cancel_timers_of_cycle(cycle.id, transitions_only=True)
        payload = {
            "trigger": trigger,
            "from": leaving,
            "to": transition.dest,
            "note": note,
            "automatic": automatic,
            "cancelled_tasks": [task.id for task in cancelled],
        }
        ctx.record(cycle, who, "cycle.advanced", payload, role)
        enter_step(ctx, cycle, transition.dest, who)
        self._open_linked(ctx, cycle)

    def _open_linked(self, ctx: StepContext, cycle: CycleState) -> None:
        """Cycles the new step opens (a trygghetsmöte after a walk) or offers to the chair."""
        for link in ctx.process.definition.step(cycle.state).opens:
            runs = link.process in self.org.processes
            payload = {"process": link.process, "within": link.within, "from_step": cycle.state}
            if link.offer or not runs:
                action = "cycle.offered" if runs else "cycle.not_opened"
                ctx.record(cycle, SYSTEM, action, payload, "system")
                continue
            target = self.catalog.definition(link.process)
            subject = periods.linked_subject(target, self.org, cycle.subject)
            child = self.open_cycle_in(
                ctx.act,
                SYSTEM,
                link.process,
                None,
                subject,
                parent_id=cycle.id,
                group=self.directory.same_group(link.process, cycle.group_key),
            )
            ctx.record(cycle, SYSTEM, "cycle.linked", {**payload, "opened": child.ref}, "system")

    def settle(self, ctx: StepContext, cycle: CycleState, who: str) -> None:
        """After a change to ``cycle`` in this act: move on by itself while the step's required
        tasks are done (its ``auto`` transition); close at a final step."""
        for _round in range(len(ctx.process.definition.steps) + 1):
            if ctx.process.is_final(cycle.state):
                self._finish(ctx, cycle, who, forced=False, note=None)
                return
            auto = ctx.process.auto_transition(cycle.state)
            if auto is None or not required_done(cycle) or unmet_conditions(ctx, cycle, auto, None):
                return
            self._fire(
                ctx,
                cycle,
                auto.trigger,
                who,
                "system" if who == SYSTEM else ctx.directory.describe_role(who, ctx.group(cycle)),
                None,
                automatic=True,
            )

    def close_cycle(
        self,
        actor: str | None,
        ref: str | int,
        note: str | None = None,
        *,
        force: bool = False,
        expected_step: str | None = None,
    ) -> CycleState:
        """Close the cycle (its chair); with open tasks only with ``force`` and a note.
        ``expected_step`` as for :meth:`advance`."""
        who = self.actor(actor, "cycle.close", f"cycle:{ref}")
        with self.act() as act:
            cycle = self.cycle_state(act, ref)
            _require_step(cycle, expected_step)
            act.effects.claim(cycle)
            ctx = self.cycle_context(act, cycle)
            require_chair(self.directory, who, ctx.group(cycle), "cycle.close", f"cycle:{cycle.id}")
            self._require_open(cycle)
            remaining = cycle.open_tasks()
            if remaining and not force:
                raise Refused(
                    ngettext(
                        "{cycle} has {n} open task: close with --force and a --note",
                        "{cycle} has {n} open tasks: close with --force and a --note",
                        len(remaining),
                    ).format(cycle=cycle.ref, n=len(remaining)),
                    field="force",
                )
            if force and not (note or "").strip():
                raise Refused(_("closing with --force needs a --note saying why"), field="note")
            privacy.guard(self.org, {"note": note})
            final = ctx.process.definition.final[0]
            act.effects.change_cycle(cycle, state=final, step_entered_at=act.now)
            self._finish(ctx, cycle, who, forced=force, note=note)
            return cycle

    def _finish(
        self, ctx: StepContext, cycle: CycleState, who: str, *, forced: bool, note: str | None
    ) -> None:
        remaining = cycle.open_tasks()
        ctx.act.effects.cancel_tasks(remaining)
        ctx.act.effects.cancel_timers_of_cycle(cycle.id, transitions_only=False)
        ctx.act.effects.change_cycle(
            cycle,
            status="closed",
            closed_at=ctx.now,
            closed_by=who,
            close_note=note,
            forced=forced,
        )
        payload = {
            "state": cycle.state,
            "forced": forced,
            "note": note,
            "cancelled_tasks": [task.id for task in remaining],
        }
        ctx.record(cycle, who, "cycle.closed", payload)
        group = ctx.group(cycle)
        notify.queue(
            ctx.act.effects,
            self.org,
            self.directory.chairs(group),
            "cycle_closed",
            f"cycle:{cycle.id}:closed",
            mailctx.cycle_closed_mail(self.org, ctx.process.definition, cycle),
            ctx.now,
            cycle.id,
        )
        if ctx.process.definition.schedule.kind == "restart":
            self._restart(ctx, cycle, who)

    def _restart(self, ctx: StepContext, cycle: CycleState, who: str) -> None:
        """Tingsryd's cycle: when one turn closes, the next one starts."""
        period = periods.next_round(cycle.period)
        self.open_cycle_in(
            ctx.act,
            who,
            cycle.process,
            period,
            cycle.subject or None,
            parent_id=cycle.id,
            group=self.directory.same_group(cycle.process, cycle.group_key),
        )

    def _require_open(self, cycle: CycleState) -> None:
        if cycle.status != "open":
            raise Refused(_("{cycle} is closed").format(cycle=cycle.ref))

    # ------------------------------------------------------------------ tasks

    def complete_task(
        self,
        actor: str | None,
        task_id: int,
        note: str | None = None,
        answers: dict[str, Any] | None = None,
        *,
        nothing_to_report: bool = False,
        via: str | None = None,
    ) -> TaskState:
        """Done by an assignee or the chair. A task with a form takes its ``answers``, or
        ``nothing_to_report`` when the form is not required (``forms.accept``).

        ``via`` says how the act came, when not as usual: ``links.VIA`` (``"e-postlänk"``)
        for a task completed through the link in its mail. It goes into the audit event's
        payload as ``via``; without it the payload has no such field."""
        who = self.actor(actor, "task.done", f"task:{task_id}")
        with self.act() as act:
            now = act.now
            cycle, task = self._task_state(act, task_id)
            act.effects.claim(cycle)  # a concurrent act on the cycle conflicts when written
            ctx = self.cycle_context(act, cycle)
            group = ctx.group(cycle)
            if who not in task.assignee_ids and not self.directory.is_chair(who, group):
                raise PermissionDenied(
                    who,
                    "task.done",
                    f"task:{task.id}",
                    _(
                        "task {id} is assigned to {people}; only they or the chair may complete it"
                    ).format(id=task.id, people=", ".join(task.assignee_ids)),
                )
            if task.status != "open":
                message = _ALREADY.get(task.status, N_("task {id} is already {status}"))
                raise Refused(_(message).format(id=task.id, status=task.status))
            form = forms.form_of(ctx.process.definition, task.step, task.key)
            answers = forms.accept(form, answers, self.org, task.id, nothing_to_report)
            privacy.guard(self.org, {"note": note, **forms.text_answers(form, answers)}, task.id)
            act.effects.change_task(
                task, status="done", done_at=now, done_by=who, note=note, answers=answers
            )
            act.effects.cancel_timers_of_tasks([task.id])
            late = task.due_at is not None and now > task.due_at
            payload = {
                "task": task.id,
                "key": task.key,
                "step": task.step,
                "note": note,
                "late": late,
                "answers": answers,
                "answers_digest": forms.answers_digest(answers),
            }
            if via is not None:
                payload["via"] = via
            ctx.record(cycle, who, "task.done", payload)
            self.settle(ctx, cycle, who)
            return task

    def refuse_link(
        self,
        kind: str,
        task_id: int | None,
        person: str | None,
        reason: str,
        *,
        token_id: str | None = None,
    ) -> None:
        """Record a refused task link (``refused_acts``, beside the chain, as the engine keeps
        every refusal): ``kind`` is ``tampered``, ``expired`` or ``replayed``
        (``links.KINDS``), recorded as the action ``link.<kind>``; ``task_id`` and ``person``
        are what the link claims (None for a tampered one: its claims are not to be trusted),
        ``reason`` what the person was told (``str(LinkRefused)``), ``token_id`` names the
        token (``links.token_id``), never the token itself. The service calls it for each link
        it refuses."""
        if kind not in links.KINDS:
            raise ValueError(f"not a kind of refused link: {kind!r}")
        subject = " ".join(
            part
            for part in (
                f"task:{task_id}" if task_id is not None else "",
                f"link:{token_id}" if token_id else "",
            )
            if part
        )
        with self.store.transaction() as session:
            cycles.record_refusal(
                session,
                at=self.clock(),
                municipality=self.org.municipality,
                actor=(person or "-")[:64],
                action=f"link.{kind}",
                subject=(subject or "link")[:100],
                reason=reason,
            )

    # ------------------------------------------------------------------ queries

    def possible_transitions(self, ref: str | int, person: str | None = None) -> list[Possible]:
        """What can fire in the cycle now, and why not (``engine.possible``): each transition
        out of its step, in definition order; with ``person``, whether they may fire it."""
        with self.store.reading() as session:
            act = Act(session, self.clock())  # read only: its effects are never written
            cycle = self.cycle_state(act, ref)
            return _possible(self.cycle_context(act, cycle), cycle, person)

    def missing_documents(self, ref: str | int) -> list[str]:
        """The documents the cycle's step produces that are not attached yet (none when the
        cycle is closed)."""
        with self.store.reading() as session:
            act = Act(session, self.clock())  # read only: its effects are never written
            cycle = self.cycle_state(act, ref)
            if cycle.status != "open":
                return []
            return missing_documents(self.cycle_context(act, cycle), cycle)

    def cycles(
        self, session: Session, *, only_open: bool = False, process: str | None = None
    ) -> list[Cycle]:
        return cycles.cycles(session, self.org.municipality, only_open=only_open, process=process)

    def tasks(
        self,
        session: Session,
        *,
        person: str | None = None,
        overdue: bool = False,
        only_open: bool = True,
        now: dt.datetime | None = None,
    ) -> list[Task]:
        return cycles.tasks(
            session,
            self.org.municipality,
            person=person,
            overdue_at=(now or self.clock()) if overdue else None,
            only_open=only_open,
        )

    # ------------------------------------------------------------------ reading, for a person

    def readable_cycle(self, session: Session, person: str, ref: str | int) -> Cycle:
        """The cycle ``ref``, for ``person`` to read (``engine.access``): one of another group
        (or of no group the person owes a task in) is refused and the refusal recorded, as is
        an id or ref that names no cycle of this municipality."""
        try:
            cycle = self.find_cycle(session, ref)
        except NotFound as exc:
            self._record_refusal(PermissionDenied(person, "read", f"cycle:{ref}", str(exc)))
            raise
        if not self._may_read(person, cycle):
            what = _("cycle {ref}").format(ref=cycle.ref)
            refusal = access.not_for_you(person, what, f"cycle:{cycle.id}")
            self._record_refusal(refusal)
            raise refusal
        return cycle

    def readable_task(self, session: Session, person: str, task_id: int) -> Task:
        """The task ``task_id``, for ``person`` to read: as :meth:`readable_cycle` for its
        cycle (an assignee of the task may always read it)."""
        task = cycles.task(session, self.org.municipality, task_id)
        if task is None:
            missing = self._no_task(task_id)
            self._record_refusal(PermissionDenied(person, "read", f"task:{task_id}", str(missing)))
            raise missing
        if person not in {a.person for a in task.assignees} and not self._may_read(
            person, task.cycle
        ):
            what = _("task {id}").format(id=task_id)
            refusal = access.not_for_you(person, what, f"task:{task_id}")
            self._record_refusal(refusal)
            raise refusal
        return task

    def readable_cycles(
        self, session: Session, person: str, *, only_open: bool = False, process: str | None = None
    ) -> list[Cycle]:
        """The cycles ``person`` may read, by id."""
        found = self.cycles(session, only_open=only_open, process=process)
        return [cycle for cycle in found if self._may_read(person, cycle)]

    def require_permission(self, person: str, permission: str, subject: str = "") -> None:
        """Refuse, and record the refusal, unless ``permissions:`` grants ``permission``."""
        try:
            access.require_permission(
                self.org, person, permission, subject or f"municipality:{self.org.municipality}"
            )
        except PermissionDenied as exc:
            self._record_refusal(exc)
            raise

    def require_admin(self, person: str, action: str = "admin", subject: str = "") -> None:
        """Refuse, and record the refusal, unless ``person`` is one of the admins."""
        try:
            access.require_admin(
                self.org, person, action, subject or f"municipality:{self.org.municipality}"
            )
        except PermissionDenied as exc:
            self._record_refusal(exc)
            raise

    def _may_read(self, person: str, cycle: Cycle) -> bool:
        group = self.org.group(cycle.group_key)
        if group is None:
            return access.has_permission(self.org, person, access.READ_ALL_TASKS)
        assignees = (a.person for task in cycle.tasks for a in task.assignees)
        return access.may_read_group(self.directory, person, group, assignees)


def _require_step(cycle: CycleState, expected: str | None) -> None:
    """A ``Conflict`` when ``cycle`` is no longer open at step ``expected`` (None: no check)."""
    if expected is None or (cycle.status == "open" and cycle.state == expected):
        return
    if cycle.status != "open":
        raise Conflict(
            _("{cycle} was closed meanwhile (at step '{step}'): nothing was done").format(
                cycle=cycle.ref, step=cycle.state
            )
        )
    raise Conflict(
        _(
            "{cycle} is at step '{step}' now, not '{expected}': someone acted on it meanwhile,"
            " and nothing was done"
        ).format(cycle=cycle.ref, step=cycle.state, expected=expected)
    )


def _cycle_key(ref: str | int) -> tuple[str, int | str]:
    """How ``ref`` names a cycle: ("id", 42) for digits, else ("ref", "est-2027-03")."""
    text = str(ref)
    return ("id", int(text)) if text.isdigit() else ("ref", text)

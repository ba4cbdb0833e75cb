"""The engine: the acts people (and the scheduler) do on cycles and tasks.

Each public method is one act and one transaction: the state change, the tasks and timers it
creates, its audit event and its outgoing mail commit together or not at all. Permissions are
checked here, from the definition and the organisation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from tsk_workflow import audit, forms
from tsk_workflow.catalog import Catalog
from tsk_workflow.definitions.compile import CompiledProcess
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine import mailctx, notify, periods, timing, versions
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
    cancel_tasks,
    cancel_timers,
    enter_step,
    missing_documents,
    open_tasks,
    required_done,
    unmet_conditions,
)
from tsk_workflow.errors import NotFound, Refused, did_you_mean
from tsk_workflow.i18n import N_, _, ngettext
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import writes
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, RefusedAct, Task, TaskAssignee

Clock = Callable[[], dt.datetime]

_CYCLE_BY = {
    "id": select(Cycle).where(
        Cycle.municipality == bindparam("municipality"), Cycle.id == bindparam("key")
    ),
    "ref": select(Cycle).where(
        Cycle.municipality == bindparam("municipality"), Cycle.ref == bindparam("key")
    ),
}
_CYCLE_COUNT = select(func.count(Cycle.id)).where(
    Cycle.municipality == bindparam("municipality"), Cycle.process == bindparam("process")
)
_SAME_OCCURRENCE = select(Cycle.ref, Cycle.id, Cycle.status).where(
    Cycle.municipality == bindparam("municipality"),
    Cycle.process == bindparam("process"),
    Cycle.period == bindparam("period"),
    Cycle.subject == bindparam("subject"),
)
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

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def act(self) -> Iterator[tuple[Session, dt.datetime]]:
        """One act: a transaction; a permission refusal is recorded outside it."""
        now = self.clock()
        try:
            with self.store.transaction() as session:
                # Every act ends by appending to the audit chain; taking the chain's lock first
                # (as the scheduler does) keeps two writers from deadlocking on PostgreSQL.
                audit.lock_chain(session)
                yield session, now
        except PermissionDenied as exc:
            self._record_refusal(exc, now)
            raise

    def _record_refusal(self, exc: PermissionDenied, now: dt.datetime) -> None:
        with self.store.transaction() as session:
            session.add(
                RefusedAct(
                    at=now,
                    municipality=self.org.municipality,
                    # Cut to the columns: what was typed can be longer than any real value.
                    actor=exc.actor[:64],
                    action=exc.action[:64],
                    subject=exc.subject[:100],
                    reason=str(exc),
                )
            )

    def context(
        self, session: Session, process: str, now: dt.datetime, digest: str | None = None
    ) -> StepContext:
        """Acting on a cycle of ``process`` that follows the version ``digest`` (None: the
        current definition, as for a new cycle); ``cycle_context`` for a cycle."""
        compiled = self.compiled_for(session, process, digest)
        return StepContext(
            session, self.org, self.directory, compiled, self.cal, now, self.listeners
        )

    def cycle_context(self, session: Session, cycle: Cycle, now: dt.datetime) -> StepContext:
        """Acting on ``cycle``, with the version of its definition it follows."""
        return self.context(session, cycle.process, now, cycle.process_digest)

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

    def find_cycle(self, session: Session, ref: str | int) -> Cycle:
        by, key = _cycle_key(ref)
        params = {"municipality": self.org.municipality, "key": key}
        cycle = session.scalars(_CYCLE_BY[by], params).first()
        if cycle is None:
            raise self._no_cycle(session, ref)
        return cycle

    def _no_cycle(self, session: Session, ref: str | int) -> NotFound:
        """No such cycle; for a mistyped reference, the closest one there is."""
        hint = ""
        if not str(ref).isdigit():
            refs = session.scalars(
                select(Cycle.ref).where(Cycle.municipality == self.org.municipality)
            )
            hint = did_you_mean(str(ref), refs)
        return NotFound(
            _("no cycle '{ref}' in {organisation}").format(ref=ref, organisation=self.org.name)
            + hint
        )

    def claim(self, session: Session, cycle: Cycle) -> None:
        """Take the cycle for this act (optimistic locking): its ``version`` goes up now, so a
        concurrent act that read the same version fails with ``Conflict`` instead of acting on
        what it read (one task completed twice, a task completed by one act and cancelled by a
        close in another). On PostgreSQL the update also makes a concurrent act on the same
        cycle wait here for this one, which then conflicts; SQLite's writers wait at BEGIN."""
        writes.claim_cycle(session, cycle)

    def find_task(self, session: Session, task_id: int) -> Task:
        task = session.get(Task, task_id)
        if task is None or task.municipality != self.org.municipality:
            raise NotFound(
                _("no task {id} in {organisation}").format(id=task_id, organisation=self.org.name)
            )
        return task

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
    ) -> Cycle:
        who = self.actor(actor, "cycle.open", f"process:{process}")
        self.catalog.definition(process)  # an unknown process is NotFound before anything else
        group = self.directory.group_of(process)
        with self.act() as (session, now):
            require_chair(self.directory, who, group, "cycle.open", f"process:{process}")
            return self.open_cycle_in(
                session, now, who, process, period, subject, late=late, parent_id=parent_id
            )

    def open_cycle_in(
        self,
        session: Session,
        now: dt.datetime,
        who: str,
        process: str,
        period: str | None,
        subject: str | None,
        *,
        late: bool = False,
        parent_id: int | None = None,
    ) -> Cycle:
        """Open a cycle of ``process`` as ``who`` inside the act of ``session`` (the scheduler's
        opening, a decision's case, a linked or restarted cycle): no permission is checked."""
        ctx = self.context(session, process, now)
        definition = ctx.process.definition
        subject = periods.check_subject(definition, self.org, subject)
        known = periods.periods_of(definition, self.org, self.cal)
        example = known.default(now.astimezone(self.cal.zone).date(), self._count(session, process))
        period = period or example
        known.check(period, example)
        self._refuse_duplicate(session, process, period, subject)
        digest = self._stored_digest(session, process, now)
        values = {
            "ref": periods.cycle_ref(process, period, subject),
            "municipality": self.org.municipality,
            "process": process,
            "process_version": definition.version,
            "process_digest": digest,
            "period": period,
            "subject": subject,
            "title": periods.cycle_title(definition, self.org, period, subject),
            "state": definition.initial_step,
            "status": "open",
            "group_key": self.directory.group_of(process).key,
            "opened_at": now,
            "opened_by": who,
            "step_entered_at": now,
            "closed_at": None,
            "closed_by": None,
            "close_note": None,
            "forced": False,
            "late": late,
            "parent_id": parent_id,
        }
        cycle = writes.insert_cycle(session, values)
        payload = {
            "process": process,
            "version": definition.version,
            "digest": digest,
            "period": period,
            "subject": subject,
            "late": late,
            "step": definition.initial_step,
        }
        ctx.record(cycle, who, "cycle.opened", payload)
        group = ctx.group(cycle)
        notify.queue(
            session,
            self.org,
            [*self.directory.chairs(group), *group.members],
            "cycle_opened",
            f"cycle:{cycle.id}:opened",
            mailctx.cycle_opened_mail(self.org, definition, cycle, group.chair),
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

    def _count(self, session: Session, process: str) -> int:
        params = {"municipality": self.org.municipality, "process": process}
        return int(session.connection().scalar(_CYCLE_COUNT, params) or 0)

    def _refuse_duplicate(self, session: Session, process: str, period: str, subject: str) -> None:
        params = {
            "municipality": self.org.municipality,
            "process": process,
            "period": period,
            "subject": subject,
        }
        existing = session.connection().execute(_SAME_OCCURRENCE, params).first()
        if existing is not None:
            ref, cycle_id, status = existing
            message = _EXISTS.get(status, N_("cycle {ref} already exists (id {id}, {status})"))
            raise Refused(_(message).format(ref=ref, id=cycle_id, status=status))

    def advance(
        self, actor: str | None, ref: str | int, trigger: str, note: str | None = None
    ) -> Cycle:
        who = self.actor(actor, f"advance:{trigger}", f"cycle:{ref}")
        with self.act() as (session, now):
            # Not claimed here: entering the next step claims the cycle (writes.set_cycle).
            cycle, leaving_tasks = self._cycle_with_open_tasks(session, ref)
            ctx = self.cycle_context(session, cycle, now)
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
                raise Refused(
                    _("'{trigger}' cannot be fired yet: {unmet}").format(
                        trigger=trigger, unmet="; ".join(unmet)
                    )
                )
            self._fire(
                ctx, cycle, trigger, who, role, note, automatic=False, open_now=leaving_tasks
            )
            self.settle(ctx, cycle, who)
            return cycle

    def _cycle_with_open_tasks(
        self, session: Session, ref: str | int
    ) -> tuple[Cycle, list[writes.OpenTask]]:
        """``find_cycle``, and the open tasks of the cycle's step, with one query."""
        by, key = _cycle_key(ref)
        found = writes.cycle_with_open_tasks(session, self.org.municipality, by, key)
        if found is None:
            raise self._no_cycle(session, ref)
        return found

    def fire_system(
        self, session: Session, now: dt.datetime, cycle: Cycle, trigger: str, reason: str
    ) -> bool:
        """Fire ``trigger`` as the scheduler (a timed transition); False when it no longer applies."""
        ctx = self.cycle_context(session, cycle, now)
        if cycle.status != "open" or ctx.process.transition(cycle.state, trigger) is None:
            return False
        self._fire(ctx, cycle, trigger, SYSTEM, "system", reason, automatic=True)
        self.settle(ctx, cycle, SYSTEM)
        return True

    def _fire(
        self,
        ctx: StepContext,
        cycle: Cycle,
        trigger: str,
        who: str,
        role: str,
        note: str | None,
        *,
        automatic: bool,
        open_now: list[writes.OpenTask] | None = None,
    ) -> None:
        """Leave the cycle's step by ``trigger``: its open tasks (``open_now``, when the caller
        read them in this transaction and nothing changed them since) are cancelled."""
        transition = ctx.process.transition(cycle.state, trigger)
        assert transition is not None
        leaving = cycle.state
        cancelled = open_now if open_now is not None else open_tasks(ctx.session, cycle, leaving)
        cancel_tasks(ctx, cycle, cancelled)
        if ctx.process.has_timed_transitions(leaving):
            writes.cancel_cycle_timers(ctx.session, cycle.id, transitions_only=True)
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

    def _open_linked(self, ctx: StepContext, cycle: Cycle) -> None:
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
                ctx.session, ctx.now, SYSTEM, link.process, None, subject, parent_id=cycle.id
            )
            ctx.record(cycle, SYSTEM, "cycle.linked", {**payload, "opened": child.ref}, "system")

    def settle(self, ctx: StepContext, cycle: Cycle, who: str) -> None:
        """After a change to ``cycle`` in this act: move on by itself while the step's required
        tasks are done (its ``auto`` transition); close at a final step."""
        for _round in range(len(ctx.process.definition.steps) + 1):
            if ctx.process.is_final(cycle.state):
                self._finish(ctx, cycle, who, forced=False, note=None)
                return
            auto = ctx.process.auto_transition(cycle.state)
            if (
                auto is None
                or not required_done(ctx.session, cycle)
                or unmet_conditions(ctx, cycle, auto, None)
            ):
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
        self, actor: str | None, ref: str | int, note: str | None = None, *, force: bool = False
    ) -> Cycle:
        who = self.actor(actor, "cycle.close", f"cycle:{ref}")
        with self.act() as (session, now):
            cycle = self.find_cycle(session, ref)
            self.claim(session, cycle)
            ctx = self.cycle_context(session, cycle, now)
            require_chair(self.directory, who, ctx.group(cycle), "cycle.close", f"cycle:{cycle.id}")
            self._require_open(cycle)
            remaining = open_tasks(session, cycle)
            if remaining and not force:
                raise Refused(
                    ngettext(
                        "{cycle} has {n} open task: close with --force and a --note",
                        "{cycle} has {n} open tasks: close with --force and a --note",
                        len(remaining),
                    ).format(cycle=cycle.ref, n=len(remaining))
                )
            if force and not (note or "").strip():
                raise Refused(_("closing with --force needs a --note saying why"))
            final = ctx.process.definition.final[0]
            writes.set_cycle(session, cycle, state=final, step_entered_at=now)
            self._finish(ctx, cycle, who, forced=force, note=note, cancelled=remaining)
            return cycle

    def _finish(
        self,
        ctx: StepContext,
        cycle: Cycle,
        who: str,
        *,
        forced: bool,
        note: str | None,
        cancelled: list[writes.OpenTask] | None = None,
    ) -> None:
        remaining = cancelled if cancelled is not None else open_tasks(ctx.session, cycle)
        cancel_tasks(ctx, cycle, remaining)
        cancel_timers(ctx.session, cycle_id=cycle.id)
        writes.set_cycle(
            ctx.session,
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
            ctx.session,
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

    def _restart(self, ctx: StepContext, cycle: Cycle, who: str) -> None:
        """Tingsryd's cycle: when one turn closes, the next one starts."""
        period = periods.next_round(cycle.period)
        self.open_cycle_in(
            ctx.session,
            ctx.now,
            who,
            cycle.process,
            period,
            cycle.subject or None,
            parent_id=cycle.id,
        )

    def _require_open(self, cycle: Cycle) -> None:
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
    ) -> Task:
        """Done by an assignee or the chair. A task with a form takes its ``answers``, or
        ``nothing_to_report`` when the form is not required (``forms.accept``)."""
        who = self.actor(actor, "task.done", f"task:{task_id}")
        with self.act() as (session, now):
            task = self.find_task(session, task_id)
            cycle = task.cycle
            self.claim(session, cycle)
            session.refresh(task)  # as it is now that the cycle is ours, not as first read
            ctx = self.cycle_context(session, cycle, now)
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
            task.status = "done"
            task.done_at = now
            task.done_by = who
            task.note = note
            task.answers = answers
            cancel_timers(session, task_ids=[task.id])
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
            ctx.record(cycle, who, "task.done", payload)
            self.settle(ctx, cycle, who)
            return task

    # ------------------------------------------------------------------ queries

    def possible_transitions(self, ref: str | int, person: str | None = None) -> list[Possible]:
        """What can fire in the cycle now, and why not (``engine.possible``): each transition
        out of its step, in definition order; with ``person``, whether they may fire it."""
        with self.store.reading() as session:
            cycle = self.find_cycle(session, ref)
            return _possible(self.cycle_context(session, cycle, self.clock()), cycle, person)

    def missing_documents(self, ref: str | int) -> list[str]:
        """The documents the cycle's step produces that are not attached yet (none when the
        cycle is closed)."""
        with self.store.reading() as session:
            cycle = self.find_cycle(session, ref)
            if cycle.status != "open":
                return []
            return missing_documents(self.cycle_context(session, cycle, self.clock()), cycle)

    def cycles(
        self, session: Session, *, only_open: bool = False, process: str | None = None
    ) -> list[Cycle]:
        query = select(Cycle).where(Cycle.municipality == self.org.municipality)
        if only_open:
            query = query.where(Cycle.status == "open")
        if process:
            query = query.where(Cycle.process == process)
        return list(session.scalars(query.order_by(Cycle.id)))

    def tasks(
        self,
        session: Session,
        *,
        person: str | None = None,
        overdue: bool = False,
        only_open: bool = True,
        now: dt.datetime | None = None,
    ) -> list[Task]:
        query = select(Task).where(Task.municipality == self.org.municipality)
        if only_open or overdue:
            query = query.where(Task.status == "open")
        if person:
            query = query.join(TaskAssignee).where(TaskAssignee.person == person)
        if overdue:
            query = query.where(Task.due_at < (now or self.clock()))
        return list(session.scalars(query.order_by(Task.due_at, Task.id)))


def _cycle_key(ref: str | int) -> tuple[str, int | str]:
    """How ``ref`` names a cycle: ("id", 42) for digits, else ("ref", "est-2027-03")."""
    text = str(ref)
    return ("id", int(text)) if text.isdigit() else ("ref", text)

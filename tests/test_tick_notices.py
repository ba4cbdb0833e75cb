"""Reminders, overdue notices and escalations: what mail goes to whom, when, and which audit
events the pass appends; a notice that cannot be worked out, or whose effects cannot be
written, fails alone.

The scenario: four EST cycles of Herrljunga (one person, Johanna Falk, with the daily digest),
two opened on 4 January, one on 4 February and one on 8 February; the pass runs on 15 February
at 10:00. The first two cycles' tasks are overdue since 14 January and escalated since the
15th; the third's are due today at 17:00 with two reminders due (the 10th and today); the
fourth's are due on the 17th with one reminder due (the 12th).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, est_periods
from tests.test_tick import local
from tsk_workflow import audit, messages
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.engine import handlers, setup
from tsk_workflow.engine.directory import SYSTEM
from tsk_workflow.engine.handlers import TimerEffects
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import (
    AuditEvent,
    AuditPayload,
    Cycle,
    OutboxMessage,
    StoredDefinition,
    Task,
    Timer,
)
from tsk_workflow.store.timers import CycleRow, DueTimer, Rows, TaskRow

START = local(2027, 1, 4, 8)
LATER = local(2027, 2, 15, 10)
DIGEST = "johanna.falk"
CHAIRS = ["jessica.wahlstrom", "hanna.nyberg"]  # EST's group: chair, then deputy
NOTICES = ("task_reminder", "task_overdue", "task_escalated")


def engine_for(store: Store, clock: Clock) -> Engine:
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    people = [
        person.model_copy(update={"digest": True}) if person.id == DIGEST else person
        for person in org.people
    ]
    return Engine(store, catalog, org.model_copy(update={"people": people}), clock)


PERIODS = est_periods(4)
"""The EST cycles the notices are about (periods EST's schedule has, far from the clock's)."""


def prepared(store: Store) -> Ticker:
    clock = Clock(START)
    engine = engine_for(store, clock)
    setup.load_organisation(engine, resolve_organisation_path("herrljunga"))
    for n, opened in enumerate([START, START, local(2027, 2, 4, 8), local(2027, 2, 8, 8)]):
        clock.now = opened
        engine.open_cycle("jessica.wahlstrom", "est", PERIODS[n])
    clock.now = LATER
    return Ticker({engine.org.municipality: engine}, worker="worker")


def est_tasks(store: Store) -> dict[int, Task]:
    with store.reading() as session:
        query = select(Task).join(Cycle).where(Cycle.process == "est", Task.status == "open")
        tasks = {task.id: task for task in session.scalars(query)}
        for task in tasks.values():
            task.assignee_ids  # noqa: B018 - loaded while the session is open
        return tasks


def due_timers(store: Store) -> list[Timer]:
    with store.reading() as session:
        query = select(Timer).where(Timer.status == "pending", Timer.fire_at <= LATER)
        return list(session.scalars(query.order_by(Timer.fire_at, Timer.id)))


def expected_mail(tasks: dict[int, Task], due: list[Timer]) -> list[Any]:
    """``(template, recipient, task, key, status)`` of each mail the rules call for, ``key``
    naming the event the mail is about (its Message-ID is made from it)."""
    expected = []
    for task in tasks.values():
        assert task.due_at is not None
        timers = [t for t in due if t.task_id == task.id]
        if task.due_at <= LATER:  # overdue: the notice, and the escalation if due; no reminder
            for person in task.assignee_ids:
                status = "digest" if person == DIGEST else "pending"
                expected.append(
                    ("task_overdue", person, task.id, f"task:{task.id}:overdue", status)
                )
            if any(t.kind == "escalation" for t in timers):
                for chair in CHAIRS:  # never in a digest
                    key = f"task:{task.id}:escalated"
                    expected.append(("task_escalated", chair, task.id, key, "pending"))
            continue
        reminders = [t for t in timers if t.kind == "reminder"]
        if reminders:  # only the newest
            newest = max(reminders, key=lambda t: t.fire_at)
            for person in task.assignee_ids:
                status = "digest" if person == DIGEST else "pending"
                key = f"task:{task.id}:{newest.key}"
                expected.append(("task_reminder", person, task.id, key, status))
    return sorted(expected)


def written_mail(store: Store, engine: Engine, due: list[Timer]) -> list[Any]:
    """The notices queued, as ``expected_mail`` describes them."""
    found = []
    with store.reading() as session:
        for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
            if row.template not in NOTICES:
                continue
            task = row.task_id
            assert task is not None
            assert row.context["task"]["id"] == task
            assert row.context["person"]["id"] == row.recipient
            assert (row.created_at, row.next_attempt_at, row.attempts) == (LATER, LATER, 0)
            keys = [f"task:{task}:overdue", f"task:{task}:escalated"]
            keys += [f"task:{task}:{t.key}" for t in due if t.task_id == task]
            (key,) = [
                key
                for key in keys
                if row.message_id == messages.message_id(engine.org, key, row.recipient)
            ]
            found.append((row.template, row.recipient, task, key, row.status))
    return sorted(found)


@pytest.mark.parametrize("batch", [500, 7])
def test_notices_go_to_whom_the_rules_say_once_with_their_audit_events(
    store_kind: str, make_store: MakeStore, batch: int
) -> None:
    store = make_store(store_kind)
    ticker = prepared(store)
    engine = ticker.engines["herrljunga"]
    tasks = est_tasks(store)
    due = due_timers(store)
    with store.reading() as session:
        seq_before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))

    result = ticker.tick(LATER, batch=batch)

    assert result.fired == {"cycle_open": 4, "reminder": 10, "due": 10, "escalation": 10}
    assert (result.skipped, result.failed) == (25, 0)  # 20 reminders of overdue tasks, 5 older
    assert written_mail(store, engine, due) == expected_mail(tasks, due)

    with store.reading() as session:
        events = session.execute(
            select(AuditEvent, AuditPayload.payload)
            .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
            .where(AuditEvent.seq > seq_before, AuditEvent.action.like("task.%"))
            .order_by(AuditEvent.seq)
        ).all()
        fired = session.scalars(select(Timer).where(Timer.id.in_([t.id for t in due]))).all()
        assert audit.verify(session).ok
    overdue = [task for task in tasks.values() if task.due_at and task.due_at <= LATER]
    assert Counter(event.action for event, _ in events) == {
        "task.overdue": len(overdue),
        "task.escalated": len(overdue),
    }
    for event, payload in events:
        task = tasks[int(event.subject.removeprefix("task:"))]
        assert (event.actor, event.role, event.at, event.cycle_id) == (
            SYSTEM,
            "system",
            LATER,
            task.cycle_id,
        )
        assert task.due_at is not None
        if event.action == "task.overdue":
            assert payload == {"task": task.id, "due": task.due_at.isoformat()}
        else:
            assert payload == {"task": task.id, "to": CHAIRS, "assignees": task.assignee_ids}
    # The overdue notices were due a day before the escalations, and come first.
    actions = [event.action for event, _ in events]
    assert actions == sorted(actions, key=lambda action: action != "task.overdue")
    assert {(t.status, t.fired_at, t.fired_by) for t in fired} == {("fired", LATER, "worker")}

    again = ticker.tick(LATER, batch=batch)
    assert (again.total, again.skipped, again.failed) == (0, 0, 0)


def test_an_escalation_says_how_long_the_task_is_overdue_and_whose_it_is(store: Store) -> None:
    ticker = prepared(store)
    ticker.tick(LATER)
    with store.reading() as session:
        row = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.template == "task_escalated")
            .order_by(OutboxMessage.id)
        ).first()
        assert row is not None
        task = session.get(Task, row.task_id)
        assert task is not None
        assert task.due_at is not None
        assignee = ticker.engines["herrljunga"].org.person(task.assignee_ids[0])
        assert assignee is not None
        assert row.context["days_overdue"] == (LATER - task.due_at).days == 31
        assert row.context["assignee"] == {"name": assignee.name, "email": assignee.email}
        assert row.context["assignees"] == [assignee.name]
        assert row.context["command"].endswith(f"cycle show {task.cycle.ref}")


def test_notices_of_a_cycle_whose_definition_was_tampered_with_fail_alone(store: Store) -> None:
    ticker = prepared(store)
    tampered = "f" * 64
    with store.transaction() as session:
        session.add(
            StoredDefinition(
                digest=tampered,
                process="est",
                version=99,
                content="edited",
                source="x",
                stored_at=START,
            )
        )
        session.flush()
        lost_id = session.scalars(select(Cycle.id).where(Cycle.period == PERIODS[0])).one()
        session.execute(update(Cycle).where(Cycle.id == lost_id).values(process_digest=tampered))

    result = ticker.tick(LATER)

    # The first cycle's five tasks: an overdue notice and an escalation each fail; their reminders are
    # skipped (the tasks are overdue) without reading the definition.
    assert result.failed == 10
    assert result.fired == {"cycle_open": 4, "reminder": 10, "due": 5, "escalation": 5}
    with store.reading() as session:
        failed = session.scalars(select(Timer).where(Timer.status == "failed")).all()
        assert {t.kind for t in failed} == {"due", "escalation"}
        assert {t.cycle_id for t in failed} == {lost_id}
        assert (
            {t.payload["error"] for t in failed}
            == {  # in the language spoken: Swedish
                f"den lagrade definitionen av 'est' med sha256 {tampered[:16]} har inte den"
                " kontrollsumman: texten har ändrats i databasen"
            }
        )
        assert {(t.fired_by, t.fired_at) for t in failed} == {("worker", LATER)}
        mailed = session.scalars(
            select(OutboxMessage.cycle_id).where(OutboxMessage.template.in_(NOTICES))
        ).all()
        assert lost_id not in mailed
        assert len(mailed) > 0
        pending = session.scalars(
            select(Timer.id).where(Timer.status == "pending", Timer.fire_at <= LATER)
        ).all()
        assert pending == []
        assert audit.verify(session).ok


def test_a_notice_whose_mail_the_database_refuses_fails_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticker = prepared(store)
    with store.reading() as session:
        bad = session.scalars(
            select(Timer.id).where(Timer.kind == "escalation").order_by(Timer.id)
        ).first()
    original = handlers.HANDLERS["escalation"]

    def refused(engine: Engine, timer: DueTimer, *args: Any) -> Any:
        decided = original(engine, timer, *args)
        if timer.id != bad:
            return decided
        assert isinstance(decided, TimerEffects)
        rows = [{**row, "email": None} for row in decided.outbox]  # NOT NULL
        return TimerEffects(decided.outcome, rows, decided.events)

    monkeypatch.setitem(handlers.HANDLERS, "escalation", refused)  # type: ignore[arg-type]
    result = ticker.tick(LATER)

    assert result.failed == 1
    assert result.fired["escalation"] == 9
    with store.reading() as session:
        failed = session.scalars(select(Timer).where(Timer.status == "failed")).one()
        assert failed.id == bad
        assert "email" in failed.payload["error"].lower()
        assert (failed.fired_by, failed.fired_at) == ("worker", LATER)
        escalated = session.scalars(
            select(AuditEvent.subject).where(AuditEvent.action == "task.escalated")
        ).all()
        assert f"task:{failed.task_id}" not in escalated
        assert len(escalated) == 9
        mails = session.scalars(
            select(OutboxMessage.task_id).where(OutboxMessage.template == "task_escalated")
        ).all()
        assert failed.task_id not in mails
        assert len(mails) == 9 * len(CHAIRS)
        assert audit.verify(session).ok


# --- the handlers alone: decided in memory ----------------------------------------------------


def _rows(due_at: dt.datetime, newest: dt.datetime | None = None) -> handlers.Loaded:
    cycle = CycleRow(7, "est-p00", "EST p00", "p00", "", "est", None, "insamling", "open", "est")
    task = TaskRow(
        3, 7, "insamling", "rapport", "inrapportor", "Rapport", due_at, cycle, ("jonas.ek",)
    )
    newest_reminders = {3: newest} if newest is not None else {}
    catalog = load_catalog()
    return handlers.Loaded(
        Rows({3: task}, newest_reminders, {}, frozenset()),
        {("herrljunga", "est", None): catalog.definitions["est"]},
    )


def _timer(kind: str, key: str, fire_at: dt.datetime, **payload: Any) -> DueTimer:
    return DueTimer(11, key, kind, "herrljunga", fire_at, 3, 7, payload)


@pytest.fixture(scope="module")
def offline() -> Engine:
    """An engine without a database: handlers never use one."""
    catalog = load_catalog()
    return Engine(None, catalog, load_organisation("herrljunga", catalog))  # type: ignore[arg-type]


def test_a_reminder_is_skipped_for_an_overdue_task_or_a_newer_reminder(offline: Engine) -> None:
    now = local(2027, 2, 15, 10)
    timer = _timer("reminder", "task:3:reminder:3wd", local(2027, 2, 10, 8))

    sent = handlers.reminder(offline, timer, _rows(now + dt.timedelta(hours=7)), now)
    overdue = handlers.reminder(offline, timer, _rows(now - dt.timedelta(hours=1)), now)
    newer = handlers.reminder(
        offline, timer, _rows(now + dt.timedelta(hours=7), local(2027, 2, 15, 8)), now
    )

    assert isinstance(sent, TimerEffects)
    assert sent.outcome.status == "fired"
    assert [(r["recipient"], r["template"], r["created_at"]) for r in sent.outbox] == [
        ("jonas.ek", "task_reminder", now)
    ]
    assert sent.outbox[0]["message_id"] == messages.message_id(
        offline.org, "task:3:task:3:reminder:3wd", "jonas.ek"
    )
    assert sent.events == ()
    assert isinstance(overdue, TimerEffects)
    assert isinstance(newer, TimerEffects)
    assert (overdue.outcome.status, overdue.outcome.reason) == ("skipped", "task overdue")
    assert (newer.outcome.status, newer.outcome.reason) == ("skipped", "a newer reminder is due")
    assert overdue.outbox == newer.outbox == ()


def test_a_notice_of_a_task_no_longer_open_is_skipped(offline: Engine) -> None:
    now = local(2027, 2, 15, 10)
    loaded = handlers.Loaded(Rows({}, {}, {}, frozenset()), {})
    for kind in ("reminder", "due", "escalation"):
        decided = handlers.decide(offline, _timer(kind, f"task:3:{kind}", now), loaded, now)
        assert isinstance(decided, TimerEffects)
        assert (decided.outcome.status, decided.outcome.reason) == ("skipped", "task not open")
        assert (decided.outbox, decided.events) == ((), ())


def test_an_escalation_goes_to_the_role_its_timer_names(offline: Engine) -> None:
    now = local(2027, 2, 15, 10)
    loaded = _rows(now - dt.timedelta(days=2))
    to_chair = handlers.escalation(offline, _timer("escalation", "e", now), loaded, now)
    to_role = handlers.escalation(
        offline, _timer("escalation", "e", now, to="kanslichef"), loaded, now
    )

    assert isinstance(to_chair, TimerEffects)
    assert isinstance(to_role, TimerEffects)
    assert [row["recipient"] for row in to_chair.outbox] == CHAIRS
    holders = offline.directory.assignees("kanslichef", offline.directory.group_of("est"))
    assert holders
    assert [row["recipient"] for row in to_role.outbox] == holders
    (event,) = to_chair.events
    assert (event.action, event.subject, event.cycle_id) == ("task.escalated", "task:3", 7)
    assert event.payload == {"task": 3, "to": CHAIRS, "assignees": ["jonas.ek"]}


def test_openings_transitions_and_plans_are_left_to_the_engine_s_acts(offline: Engine) -> None:
    now = local(2027, 3, 1, 7)
    cycle = CycleRow(7, "est-p00", "EST p00", "p00", "", "est", None, "insamling", "open", "est")
    loaded = handlers.Loaded(
        Rows({}, {}, {7: cycle}, frozenset({("herrljunga", "est", "2027-02", "")})), {}
    )

    def opening(period: str, process: str = "est", hours: int = 0) -> handlers.Decided:
        payload = {"process": process, "period": period, "subject": None}
        timer = DueTimer(1, "o", "cycle_open", "herrljunga", now, None, None, payload)
        return handlers.cycle_open(offline, timer, loaded, now + dt.timedelta(hours=hours))

    def transition(step: str) -> handlers.Decided:
        payload = {"step": step, "trigger": "sammanstall"}
        timer = DueTimer(2, "t", "transition", "herrljunga", now, None, 7, payload)
        return handlers.transition(offline, timer, loaded, now)

    assert opening("2027-03") == handlers.OpenCycle("est", "2027-03", None, late=False)
    assert opening("2027-03", hours=25) == handlers.OpenCycle("est", "2027-03", None, late=True)
    exists, gone = opening("2027-02"), opening("2027-03", process="nonesuch")
    assert isinstance(exists, TimerEffects)
    assert isinstance(gone, TimerEffects)
    assert exists.outcome.reason == "the cycle exists"
    assert gone.outcome.reason == "the organisation no longer runs the process"
    assert transition("insamling") == handlers.FireTransition(7, "sammanstall")
    moved = transition("sammanstallning")
    assert isinstance(moved, TimerEffects)
    assert moved.outcome.reason == "the cycle has left the step"
    plan = DueTimer(3, "p", "plan", "herrljunga", now, None, None, {"year": 2028})
    assert handlers.plan(offline, plan, loaded, now) == handlers.PlanYear(2028)

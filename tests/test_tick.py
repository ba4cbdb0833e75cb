"""The scheduler pass on both databases: opening due cycles, firing timers once, catching up
after downtime, durable timers made and cancelled with their acts, and what a pass costs.

Virtual time throughout: the engine's clock and the pass's ``now`` are set by the test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.enginekit import Clock, est_periods
from tsk_workflow import audit
from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.engine import setup
from tsk_workflow.engine.ticker import Ticker, TickResult, replan
from tsk_workflow.errors import TskError
from tsk_workflow.features import build_engine
from tsk_workflow.mail.outbox import compose
from tsk_workflow.store import acts
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import (
    AuditEvent,
    AuditPayload,
    Cycle,
    OutboxMessage,
    Task,
    Timer,
)

EST_CHAIR = "jessica.wahlstrom"
REPORTERS = {"johanna.falk", "viktor.holmberg", "ida.wikstrom", "jonas.ek", "rachel.moore"}


def local(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    """A Stockholm wall-clock time, as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(dt.UTC)


class World:
    """Herrljunga on a test store, at a virtual time."""

    def __init__(self, store: Store, now: dt.datetime, org: str = "herrljunga") -> None:
        catalog = load_catalog()
        self.store = store
        self.clock = Clock(now)
        self.engine = build_engine(store, catalog, load_organisation(org, catalog), self.clock)
        self.ticker = Ticker({self.engine.org.municipality: self.engine})

    def init(self) -> None:
        """``tsk init``: record the organisation and plan its openings."""
        setup.load_organisation(self.engine, resolve_organisation_path("herrljunga"))

    def tick(self, now: dt.datetime, batch: int = 500) -> TickResult:
        self.clock.now = now
        return self.ticker.tick(now, batch=batch)

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.store.reading() as session:
            return list(session.scalars(select(model).where(*where)))

    def count(self, model: Any, *where: Any) -> int:
        with self.store.reading() as session:
            query = select(func.count()).select_from(model).where(*where)
            return int(session.scalar(query) or 0)

    def snapshot(self) -> dict[str, Any]:
        """Everything a pass could change."""
        with self.store.reading() as session:
            return {
                "timers": sorted(
                    (t.key, t.status, t.fire_at, t.fired_at) for t in session.scalars(select(Timer))
                ),
                "cycles": sorted(
                    (c.ref, c.state, c.status, c.version) for c in session.scalars(select(Cycle))
                ),
                "tasks": sorted((t.id, t.status) for t in session.scalars(select(Task))),
                "outbox": sorted(session.scalars(select(OutboxMessage.message_id))),
                "events": session.scalar(select(func.max(AuditEvent.seq))),
            }

    def mails(self, template: str) -> Counter[tuple[int | None, str]]:
        """``(task_id, recipient)`` -> how many ``template`` mails were queued."""
        rows = self.rows(OutboxMessage, OutboxMessage.template == template)
        return Counter((row.task_id, row.recipient) for row in rows)

    def actions(self, action: str) -> list[dict[str, Any]]:
        with self.store.reading() as session:
            query = (
                select(AuditPayload.payload)
                .join(AuditEvent, AuditEvent.seq == AuditPayload.seq)
                .where(AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )
            return [dict(payload) for payload in session.scalars(query)]

    def verify(self) -> None:
        with self.store.reading() as session:
            result = audit.verify(session)
        assert result.ok, result.reason


# --- the pass ------------------------------------------------------------------------------


def test_a_tick_opens_the_cycles_due_and_a_second_tick_changes_nothing(store: Store) -> None:
    world = World(store, local(2027, 1, 10, 12))
    world.init()

    result = world.tick(local(2027, 2, 1, 7, 30))

    assert sorted(result.opened) == [
        "est-2027-02",
        "rattighetsnatverket-2027-t1",
        "sspf-2027-t1",
    ]
    assert result.fired == {"cycle_open": 3}
    opened = world.actions("cycle.opened")
    assert sorted((p["process"], p["late"]) for p in opened) == [
        ("est", False),
        ("rattighetsnatverket", False),
        ("sspf", False),
    ]
    # The openings' tasks got their durable timers, with the cycle, in the same pass.
    est = world.rows(Cycle, Cycle.ref == "est-2027-02")[0]
    kinds = Counter(t.kind for t in world.rows(Timer, Timer.cycle_id == est.id))
    assert kinds == {"due": 5, "reminder": 10, "escalation": 5}
    before = world.snapshot()

    again = world.tick(local(2027, 2, 1, 7, 30))

    assert (again.total, again.skipped, again.failed, again.opened) == (0, 0, 0, [])
    assert world.snapshot() == before
    world.verify()


def test_each_timer_fires_once_in_batches(store: Store) -> None:
    world = World(store, local(2027, 1, 4, 8))
    world.engine.open_cycle(EST_CHAIR, "est", "2027-01")
    pending = world.count(Timer, Timer.status == "pending", Timer.fire_at <= local(2027, 2, 1))

    result = world.tick(local(2027, 2, 1), batch=3)

    assert result.batches >= pending // 3
    assert result.total + result.skipped == pending
    fired = world.rows(Timer, Timer.status == "fired")
    assert len(fired) == pending
    assert all(t.fired_by == world.ticker.worker for t in fired)
    assert world.tick(local(2027, 2, 1)).total == 0
    world.verify()


def test_an_empty_pass_is_one_indexed_query_on_the_timers(store: Store) -> None:
    """The cost of a pass with nothing due does not grow with the number of open cycles."""
    world = World(store, local(2027, 3, 1, 9))
    statements: list[str] = []
    parameters: list[Any] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        statements.append(statement)
        parameters.append(params)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        world.tick(local(2027, 3, 1, 9))
        few = list(statements)
        for period in est_periods(12):
            world.engine.open_cycle(EST_CHAIR, "est", period)
        statements.clear()
        parameters.clear()
        world.tick(local(2027, 3, 1, 9))
        many = list(statements)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)

    assert world.count(Cycle, Cycle.status == "open") == 12
    assert world.count(Timer, Timer.status == "pending") >= 12 * 20
    assert len(many) == len(few)
    queries = [i for i, s in enumerate(many) if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1
    assert "FROM timers" in many[queries[0]]
    assert not any(word in " ".join(many) for word in ("cycles", "tasks", "outbox"))
    assert "ix_timers_due" in _plan(store, many[queries[0]], parameters[queries[0]])


def _plan(store: Store, statement: str, params: Any) -> str:
    """The query plan of the pass's probe (PostgreSQL told to prefer indexes: tiny tables)."""
    with store.engine.connect() as connection:
        if store.dialect == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
        rows = connection.exec_driver_sql(explain + statement, params).fetchall()
        return " ".join(str(row[-1]) for row in rows)


def test_a_timer_that_fails_is_marked_and_does_not_stop_the_others(store: Store) -> None:
    world = World(store, local(2027, 1, 10, 12))
    world.init()
    with store.transaction() as session:
        session.add(
            Timer(
                key="open:herrljunga:est:bad period!:",
                kind="cycle_open",
                municipality="herrljunga",
                fire_at=local(2027, 1, 20, 7),
                status="pending",
                payload={"process": "est", "period": "bad period!", "subject": None},
                created_at=local(2027, 1, 10, 12),
            )
        )

    result = world.tick(local(2027, 2, 1, 7, 30))

    assert result.failed == 1
    assert result.fired == {"cycle_open": 3}
    (failed,) = world.rows(Timer, Timer.status == "failed")
    assert "ogiltig period" in failed.payload["error"]
    assert world.count(Cycle, Cycle.period == "bad period!") == 0
    assert world.tick(local(2027, 2, 1, 7, 30)).total == 0
    world.verify()


def test_replanning_follows_a_changed_organisation(store: Store) -> None:
    world = World(store, local(2027, 1, 10, 12))
    world.init()
    org = world.engine.org

    def replanned(processes: dict[str, Any]) -> dict[str, tuple[str, dt.datetime]]:
        engine = build_engine(
            store, world.engine.catalog, org.model_copy(update={"processes": processes})
        )
        with store.transaction() as session:
            replan(engine, session, local(2027, 1, 11, 12))
        return {t.key: (t.status, t.fire_at) for t in world.rows(Timer, Timer.kind == "cycle_open")}

    est_feb, sspf = "open:herrljunga:est:2027-02:", "open:herrljunga:sspf:2027-t1:"
    est = org.processes["est"].model_copy(update={"schedule": {"day": 15}})
    without_sspf = {k: v for k, v in org.processes.items() if k != "sspf"}

    moved = replanned({**without_sspf, "est": est})
    back = replanned(dict(org.processes))

    assert moved[est_feb] == ("pending", local(2027, 2, 15, 7))
    assert moved[sspf][0] == "cancelled"
    assert back[est_feb] == ("pending", local(2027, 2, 1, 7))
    assert back[sspf] == ("pending", local(2027, 2, 1, 7))
    assert len(back) == len(moved)  # moved and revived, never duplicated


# --- catching up after downtime ------------------------------------------------------------


def test_missed_reminders_send_only_the_newest(store: Store) -> None:
    world = World(store, local(2027, 1, 4, 8))
    cycle = world.engine.open_cycle(EST_CHAIR, "est", "2027-01")
    # Due Thursday 14 January 17:00 (7 working days; the 6th is Epiphany); reminders on the
    # 11th (3wd) and the 14th (0wd) at 08:00.
    due = {t.due_at for t in world.rows(Task, Task.cycle_id == cycle.id)}
    assert due == {local(2027, 1, 14, 17)}
    world.tick(local(2027, 1, 4, 9))

    result = world.tick(local(2027, 1, 14, 10))  # the scheduler was stopped for ten days

    assert result.fired.get("reminder") == 5  # one per reporter, the newest
    assert result.skipped == 5  # the older ones: fired without effect
    reminders = world.mails("task_reminder")
    assert set(reminders.values()) == {1}
    assert {recipient for _task, recipient in reminders} == REPORTERS
    assert all(row.cycle_id == cycle.id for row in world.rows(OutboxMessage))


def test_after_weeks_of_downtime_each_missed_cycle_opens_once_late(store: Store) -> None:
    world = World(store, local(2027, 1, 4, 6))
    world.init()
    world.tick(local(2027, 1, 4, 8))  # est-2027-01 opens on time
    assert [p["late"] for p in world.actions("cycle.opened")] == [False]
    january = world.rows(Cycle, Cycle.ref == "est-2027-01")[0]
    january_tasks = {t.id for t in world.rows(Task, Task.cycle_id == january.id)}

    # Stopped from 4 January to 15 March.
    result = world.tick(local(2027, 3, 15, 10))

    late = {p["process"] + ":" + p["period"]: p["late"] for p in world.actions("cycle.opened")}
    assert late == {
        "est:2027-01": False,
        "est:2027-02": True,
        "est:2027-03": True,
        "sspf:2027-t1": True,
        "rattighetsnatverket:2027-t1": True,
        "arsrapport:2027": True,
        "styrgrupp:2027-t1": True,
    }
    assert sorted(result.opened) == sorted(
        key.replace(":", "-") for key in late if key != "est:2027-01"
    )
    assert all(c.late for c in world.rows(Cycle, Cycle.ref != "est-2027-01"))
    # The January reporters: no reminders after the fact, one overdue notice, one escalation.
    reminders = world.mails("task_reminder")
    overdue = world.mails("task_overdue")
    assert not [key for key in reminders if key[0] in january_tasks]
    assert {(task, who) for task, who in overdue if task in january_tasks} == {
        (t.id, t.assignee_ids[0]) for t in world.rows(Task, Task.id.in_(january_tasks))
    }
    assert set(overdue.values()) == {1}
    escalated = [p for p in world.actions("task.escalated") if p["task"] in january_tasks]
    assert sorted(p["task"] for p in escalated) == sorted(january_tasks)
    assert set(world.mails("task_escalated").values()) == {1}

    # Ticking every day afterwards sends nothing more about them.
    for day in range(16, 27):
        world.tick(local(2027, 3, day, 9))
    later = world.mails("task_overdue")
    assert {k: v for k, v in later.items() if k[0] in january_tasks} == {
        k: v for k, v in overdue.items() if k[0] in january_tasks
    }
    assert not [key for key in world.mails("task_reminder") if key[0] in january_tasks]
    assert len([p for p in world.actions("task.escalated") if p["task"] in january_tasks]) == 5
    assert len(world.actions("cycle.opened")) == 7
    world.verify()


# --- durable timers: made with their act, cancelled with the task or the cycle ---------------


def test_timers_are_made_in_the_act_or_not_at_all(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(store, local(2027, 3, 1))
    real = acts.insert_mail

    def failing(session: Any, rows: Any) -> Any:
        if any(row["template"] == "task_assigned" for row in rows):  # after the tasks' timers
            raise RuntimeError("the mail queue broke")
        return real(session, rows)

    monkeypatch.setattr(acts, "insert_mail", failing)
    with pytest.raises(RuntimeError):
        world.engine.open_cycle(EST_CHAIR, "est", "2027-03")

    assert (world.count(Cycle), world.count(Task), world.count(Timer)) == (0, 0, 0)
    assert world.count(OutboxMessage) == 0
    monkeypatch.setattr(acts, "insert_mail", real)
    world.engine.open_cycle(EST_CHAIR, "est", "2027-03")
    assert world.count(Timer) == 20


def test_timers_are_cancelled_when_the_task_is_done_or_the_cycle_closes(store: Store) -> None:
    world = World(store, local(2027, 3, 1))
    cycle = world.engine.open_cycle(EST_CHAIR, "est", "2027-03")
    tasks = world.rows(Task, Task.cycle_id == cycle.id)
    done, *others = tasks
    world.clock.now = local(2027, 3, 2)
    world.engine.complete_task(done.assignee_ids[0], done.id, "klart", nothing_to_report=True)

    mine = world.rows(Timer, Timer.task_id == done.id)
    assert [t.status for t in mine] == ["cancelled"] * 4
    assert {t.status for t in world.rows(Timer, Timer.task_id.in_([t.id for t in others]))} == {
        "pending"
    }

    world.clock.now = local(2027, 3, 3)
    world.engine.close_cycle(EST_CHAIR, cycle.id, "inställd", force=True)

    assert {t.status for t in world.rows(Timer, Timer.cycle_id == cycle.id)} == {"cancelled"}
    result = world.tick(local(2027, 6, 1))
    assert (result.total, result.skipped) == (0, 0)
    assert world.mails("task_reminder") == Counter()
    assert world.mails("task_overdue") == Counter()


# --- yearly reports ------------------------------------------------------------------------


def test_the_yearly_report_opens_from_its_deadline_and_mails_its_chairs(store: Store) -> None:
    world = World(store, local(2027, 1, 10, 12))
    world.init()
    # The report is due 31 May (yearly_deadline), the cycle opens 14 weeks before it.
    (opening,) = world.rows(Timer, Timer.key == "open:herrljunga:arsrapport:2027:")
    assert opening.fire_at == local(2027, 2, 22, 7)
    assert opening.payload["deadline"] == "2027-05-31"

    result = world.tick(local(2027, 2, 22, 7, 15))

    assert "arsrapport-2027" in result.opened
    due = world.rows(OutboxMessage, OutboxMessage.template == "yearly_report_due")
    assert sorted(row.recipient for row in due) == ["jessica.wahlstrom", "marie.lind"]
    report = due[0].context["report"]
    assert (report["year"], report["from_body"], report["to_body"], report["due"]) == (
        2027,
        "KS",
        "KF",
        "2027-05-31",
    )
    mail = compose(due[0], world.engine.org, "trygghet@herrljunga.example.org")
    assert "2027" in mail.subject
    (cycle,) = world.rows(Cycle, Cycle.ref == "arsrapport-2027")
    reminders = world.rows(Timer, Timer.cycle_id == cycle.id, Timer.kind == "reminder")
    assert len(reminders) == 2 * len(world.rows(Task, Task.cycle_id == cycle.id))


def test_the_deeper_situation_report_opens_every_other_year(store: Store) -> None:
    world = World(store, local(2027, 1, 10, 12))
    world.init()
    keys = {t.key for t in world.rows(Timer, Timer.kind == "cycle_open")}
    assert "open:herrljunga:fordjupad_lagesbild:2027:" in keys
    assert not any(key.startswith("open:herrljunga:fordjupad_lagesbild:2028") for key in keys)

    result = world.tick(local(2027, 9, 1, 7, 5))

    assert "fordjupad_lagesbild-2027" in result.opened
    (cycle,) = world.rows(Cycle, Cycle.ref == "fordjupad_lagesbild-2027")
    tasks = world.rows(Task, Task.cycle_id == cycle.id)
    assert len(tasks) == 3
    for task in tasks:
        kinds = {t.kind for t in world.rows(Timer, Timer.task_id == task.id)}
        assert {"due", "reminder"} <= kinds


def test_a_tick_without_organisations_or_with_a_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(TskError):
        Ticker({})
    world = World(store, local(2027, 1, 10, 12))
    with pytest.raises(ValueError, match="naive"):
        world.ticker.tick(dt.datetime(2027, 1, 10, 12))

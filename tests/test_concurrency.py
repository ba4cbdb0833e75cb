"""Two acts on the same cycle at once, on both databases: one wins, the other is refused with a
clear message (a conflict, or a refusal seeing what the winner did), and nothing is half-written.

On PostgreSQL both acts are made to read the cycle before either writes (a barrier inside the
transaction), so the optimistic lock on ``cycles.version`` decides. On SQLite writers take the
database lock when their transaction begins (``BEGIN IMMEDIATE``), so the second act waits for
the first and then sees its result; a barrier inside the transaction would only deadlock there,
so the threads are released together just before acting.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, Tsk, counts, cycle_state, events, local, make_engine, tasks
from tsk_workflow import audit
from tsk_workflow.catalog import load_catalog, load_organisation
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Conflict, Refused, TskError
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, Task

CHAIR, DEPUTY = "jessica.wahlstrom", "hanna.nyberg"
CONFLICT = "someone else changed this cycle at the same time; try again"


class Racing(Engine):
    """An engine that waits at ``gate`` right after reading the cycle or task it acts on."""

    gate: Callable[[], object] | None = None

    def find_cycle(self, session: Session, ref: str | int) -> Cycle:
        found = super().find_cycle(session, ref)
        if self.gate is not None:
            self.gate()
        return found

    def find_task(self, session: Session, task_id: int) -> Task:
        found = super().find_task(session, task_id)
        if self.gate is not None:
            self.gate()
        return found


def racers(store: Store, clock: Clock) -> tuple[Racing, Racing, threading.Barrier]:
    catalog = load_catalog()
    org = load_organisation("herrljunga", catalog)
    one, two = Racing(store, catalog, org, clock), Racing(store, catalog, org, clock)
    return one, two, threading.Barrier(2, timeout=20)


def race(
    store: Store, clock: Clock, first: Callable[[Engine], Any], second: Callable[[Engine], Any]
) -> list[BaseException | None]:
    """Run both acts at once, each on its own engine; what each raised (None: it succeeded)."""
    one, two, barrier = racers(store, clock)
    inside = store.dialect == "postgresql"
    outcomes: list[BaseException | None] = [None, None]

    def run(index: int, engine: Racing, act: Callable[[Engine], Any]) -> None:
        if inside:
            engine.gate = barrier.wait
        else:
            barrier.wait()
        try:
            act(engine)
        except TskError as exc:
            outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(0, one, first)),
        threading.Thread(target=run, args=(1, two, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def intact(store: Store) -> None:
    with store.reading() as session:
        result = audit.verify(session)
    assert result.ok, result.reason


@pytest.fixture
def clock() -> Clock:
    return Clock(local(2027, 3, 1))


def test_two_advances_at_once_one_wins(store: Store, clock: Clock) -> None:
    engine = make_engine(store, "herrljunga", clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id

    outcomes = race(
        store,
        clock,
        lambda e: e.advance(CHAIR, cycle, "sammanstall", "klart"),
        lambda e: e.advance(DEPUTY, cycle, "sammanstall", "klart"),
    )

    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1, outcomes
    if store.dialect == "postgresql":
        assert isinstance(failed[0], Conflict)
        assert str(failed[0]) == CONFLICT
    else:
        assert isinstance(failed[0], Refused)
        assert "'sammanstall' cannot be fired from step 'sammanstallning'" in str(failed[0])
    assert cycle_state(engine, cycle) == ("sammanstallning", "open")
    assert len(events(store, "cycle.advanced")) == 1
    assert [t.key for t in tasks(engine, cycle)] == ["sammanstall_lagesbild"]
    intact(store)


def test_the_same_task_done_twice_at_once_is_done_once(store: Store, clock: Clock) -> None:
    engine = make_engine(store, "herrljunga", clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    task = tasks(engine, cycle)[0]

    outcomes = race(
        store,
        clock,
        lambda e: e.complete_task(task.assignees[0], task.id, "från rapportören"),
        lambda e: e.complete_task(CHAIR, task.id, "från ordföranden"),
    )

    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1, outcomes
    assert str(failed[0]) == CONFLICT or f"task {task.id} is already done" in str(failed[0])
    done = events(store, "task.done")
    assert len(done) == 1
    (stored,) = [t for t in tasks(engine, cycle, status=None) if t.id == task.id]
    assert stored.status == "done"
    intact(store)


def test_the_last_two_tasks_done_at_once_still_move_the_cycle_on(
    store: Store, clock: Clock
) -> None:
    """The step is left exactly once, whichever of the two acts sees the other's task done."""
    engine = make_engine(store, "herrljunga", clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    *done, a, b = tasks(engine, cycle)
    for task in done:
        engine.complete_task(task.assignees[0], task.id)

    outcomes = race(
        store,
        clock,
        lambda e: e.complete_task(a.assignees[0], a.id, "a"),
        lambda e: e.complete_task(b.assignees[0], b.id, "b"),
    )

    for outcome, task in zip(outcomes, (a, b), strict=True):
        if outcome is not None:  # the loser tries again, as the message says
            assert str(outcome) == CONFLICT
            engine.complete_task(task.assignees[0], task.id, "igen")
    assert cycle_state(engine, cycle) == ("sammanstallning", "open")
    if store.dialect == "postgresql":
        assert sum(o is not None for o in outcomes) == 1
    assert len(events(store, "task.done")) == 5
    assert len(events(store, "cycle.advanced")) == 1
    intact(store)


def test_completing_and_closing_at_once_is_never_half_done(store: Store, clock: Clock) -> None:
    engine = make_engine(store, "herrljunga", clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    task = tasks(engine, cycle)[0]

    outcomes = race(
        store,
        clock,
        lambda e: e.complete_task(task.assignees[0], task.id, "rapporterat"),
        lambda e: e.close_cycle(CHAIR, cycle, "inställd", force=True),
    )

    completed, closed = (o is None for o in outcomes)
    if store.dialect == "postgresql":
        assert completed != closed, outcomes  # one of them conflicts
    else:
        assert closed, outcomes  # one after the other: the close, forced, always goes through
    for outcome in outcomes:
        if outcome is not None:
            assert str(outcome) == CONFLICT or "already cancelled" in str(outcome)
    statuses = {t.id: t.status for t in tasks(engine, cycle, status=None)}
    done = events(store, "task.done")
    with store.reading() as session:
        rows = audit.query(session, cycle_id=cycle)
    closing = [r for r in rows if r.action == "cycle.closed"]
    if closed:
        assert cycle_state(engine, cycle) == ("avslutad", "closed")
        assert "open" not in statuses.values()
        assert closing
        assert closing[0].payload is not None
        cancelled = set(closing[0].payload["cancelled_tasks"])
        # the task is either done before the close, or cancelled by it: never both
        assert (task.id in cancelled) != (statuses[task.id] == "done")
        assert len(done) == (1 if statuses[task.id] == "done" else 0)
    else:
        assert cycle_state(engine, cycle) == ("insamling", "open")
        assert statuses[task.id] == "done"
        assert not closing
    intact(store)


@pytest.mark.postgres
def test_cli_reports_a_conflict_and_writes_nothing(
    make_store: MakeStore, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else moves the cycle on after the command read it: exit 1, one clear line."""
    store = make_store("postgresql")
    clock = Clock(local(2027, 3, 1))
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    other = make_engine(store, "herrljunga", clock)
    real = Engine.find_cycle
    armed = [True]

    def find_cycle(self: Engine, session: Session, ref: str | int) -> Cycle:
        found = real(self, session, ref)
        if armed[0] and self is not other:
            armed[0] = False  # the command has read the cycle; now the other act wins
            helper = threading.Thread(
                target=other.advance, args=(DEPUTY, ref, "sammanstall", "före")
            )
            helper.start()
            helper.join(20)
        return found

    monkeypatch.setattr(Engine, "find_cycle", find_cycle)
    before = counts(store)

    line = tsk.refused("cycle", "advance", "est-2027-03", "sammanstall", as_=CHAIR)

    assert line == f"tsk: {CONFLICT}"
    after = counts(store)
    # only what the other act wrote: its advance event and the new step's task
    assert after["events"] == before["events"] + 1
    assert after["tasks"] == before["tasks"] + 1
    assert [e.actor for e in events(store, "cycle.advanced")] == [DEPUTY]
    shown = tsk.ok("cycle", "show", "est-2027-03")
    assert shown["state"] == "sammanstallning"
    intact(store)


def test_sqlite_waits_for_a_locked_database(
    make_store: MakeStore, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection holds a write transaction for about two seconds: the command waits
    for it (busy timeout) and then succeeds, instead of failing with 'database is locked'."""
    store = make_store("sqlite")
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    task = tsk.ok("task", "list")[0]
    database = store.engine.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE municipalities SET name = name")
    release = threading.Timer(2.0, lambda: holder.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    try:
        done = tsk.ok(
            "task", "done", str(task["id"]), "--note", "väntade", as_=task["assignees"][0]
        )
    finally:
        release.join()
        holder.close()

    waited = time.monotonic() - started
    assert waited >= 1.5
    assert done["status"] == "done"
    intact(store)

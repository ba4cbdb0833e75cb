"""Two acts on the same cycle at once, on both databases: one wins, the other is refused with a
clear message, and nothing is half-written.

Writers are serialised where their transaction begins: on SQLite by ``BEGIN IMMEDIATE`` (with a
busy timeout, so a writer waits for another instead of failing), on PostgreSQL by the audit
chain's advisory lock, which every act takes first. The second of two simultaneous acts therefore
sees what the first did and is refused for that ("cannot be fired from step ...", "already
done"). Behind that, every act raises the cycle's ``version`` (optimistic locking): a cycle that
was changed after the act read it - by a writer that bypasses the engine's lock - makes the act
fail as a ``Conflict`` and roll back entirely.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.enginekit import Clock, Tsk, counts, cycle_state, events, make_engine, tasks
from tsk_workflow import audit
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Conflict, TskError
from tsk_workflow.store import acts
from tsk_workflow.store.database import Store

CHAIR, DEPUTY = "jessica.wahlstrom", "hanna.nyberg"
CONFLICT = "någon annan ändrade den här cykeln samtidigt; försök igen"


def race(
    store: Store, clock: Clock, first: Callable[[Engine], Any], second: Callable[[Engine], Any]
) -> list[TskError | None]:
    """Run both acts at once, each in its own thread on its own engine (released together by a
    barrier); what each raised, None where it succeeded."""
    engines = [make_engine(store, "herrljunga", clock), make_engine(store, "herrljunga", clock)]
    barrier = threading.Barrier(2, timeout=20)
    outcomes: list[TskError | None] = [None, None]

    def run(index: int, act: Callable[[Engine], Any]) -> None:
        barrier.wait()
        try:
            act(engines[index])
        except TskError as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in ((0, first), (1, second))]
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
def cycle(engine: Engine) -> int:
    return engine.open_cycle(CHAIR, "est", "2027-03").id


# --- simultaneous acts -----------------------------------------------------------------------


def test_two_advances_at_once_one_wins(
    engine: Engine, store: Store, clock: Clock, cycle: int
) -> None:
    outcomes = race(
        store,
        clock,
        lambda e: e.advance(CHAIR, cycle, "sammanstall", "klart"),
        lambda e: e.advance(DEPUTY, cycle, "sammanstall", "klart"),
    )

    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1, outcomes
    assert "'sammanstall' kan inte göras från steget 'egna_lagesbilder'" in str(failed[0])
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    assert len(events(store, "cycle.advanced")) == 1
    # one own lägesbild per organisation's coordinator, made once
    assert [t.key for t in tasks(engine, cycle)] == ["sammanstall_egen_lagesbild"] * 3
    intact(store)


def test_the_same_task_done_twice_at_once_is_done_once(
    engine: Engine, store: Store, clock: Clock, cycle: int
) -> None:
    task = tasks(engine, cycle)[0]

    outcomes = race(
        store,
        clock,
        lambda e: e.complete_task(
            task.assignees[0], task.id, "från rapportören", nothing_to_report=True
        ),
        lambda e: e.complete_task(CHAIR, task.id, "från ordföranden", nothing_to_report=True),
    )

    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1, outcomes
    assert f"uppgift {task.id} är redan klar" in str(failed[0])
    assert len(events(store, "task.done")) == 1
    (stored,) = [t for t in tasks(engine, cycle, status=None) if t.id == task.id]
    assert stored.status == "done"
    intact(store)


def test_the_last_two_tasks_done_at_once_move_the_cycle_on_once(
    engine: Engine, store: Store, clock: Clock, cycle: int
) -> None:
    *earlier, a, b = tasks(engine, cycle)
    for task in earlier:
        engine.complete_task(task.assignees[0], task.id, nothing_to_report=True)

    outcomes = race(
        store,
        clock,
        lambda e: e.complete_task(a.assignees[0], a.id, "a", nothing_to_report=True),
        lambda e: e.complete_task(b.assignees[0], b.id, "b", nothing_to_report=True),
    )

    assert outcomes == [None, None]
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    assert len(events(store, "task.done")) == 5
    assert len(events(store, "cycle.advanced")) == 1
    assert [t.key for t in tasks(engine, cycle)] == ["sammanstall_egen_lagesbild"] * 3
    intact(store)


def test_completing_and_closing_at_once_is_never_half_done(
    engine: Engine, store: Store, clock: Clock, cycle: int
) -> None:
    task = tasks(engine, cycle)[0]

    completing, closing = race(
        store,
        clock,
        lambda e: e.complete_task(
            task.assignees[0], task.id, "rapporterat", nothing_to_report=True
        ),
        lambda e: e.close_cycle(CHAIR, cycle, "inställd", force=True),
    )

    assert closing is None  # forced with a note, the close goes through either way
    assert cycle_state(engine, cycle) == ("avslutad", "closed")
    statuses = {t.id: t.status for t in tasks(engine, cycle, status=None)}
    assert "open" not in statuses.values()
    with store.reading() as session:
        (closed,) = [r for r in audit.query(session, cycle_id=cycle) if r.action == "cycle.closed"]
    assert closed.payload is not None
    cancelled = set(closed.payload["cancelled_tasks"])
    if completing is None:  # done first, then the close cancelled the other four
        assert statuses[task.id] == "done"
        assert task.id not in cancelled
        assert len(events(store, "task.done")) == 1
    else:  # closed first: the task was cancelled and cannot be done any more
        assert f"uppgift {task.id} är redan avbruten" in str(completing)
        assert statuses[task.id] == "cancelled"
        assert task.id in cancelled
        assert events(store, "task.done") == []
    intact(store)


# --- optimistic locking ----------------------------------------------------------------------


@contextmanager
def changed_behind_the_engines_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[int]]:
    """After the next act has read its cycle and decided, just before its effects take it, the
    cycle's row is changed by another writer that does not take the engine's lock (on SQLite,
    which lets one writer in at a time, through the act's own connection). Yields the ids of
    changed cycles."""
    real = acts._claim  # where every act takes the cycles it changes
    changed: list[int] = []

    def take(connection: Any, claims: dict[int, int], changes: Any) -> None:
        if not changed and claims:
            cycle_id = min(claims)
            changed.append(cycle_id)
            statement = text("UPDATE cycles SET version = version + 1 WHERE id = :id")
            if store.dialect == "postgresql":
                with store.engine.begin() as other:
                    other.execute(statement, {"id": cycle_id})
            else:
                connection.execute(statement, {"id": cycle_id})
        real(connection, claims, changes)

    monkeypatch.setattr(acts, "_claim", take)
    yield changed
    monkeypatch.setattr(acts, "_claim", real)


def test_a_cycle_changed_after_it_was_read_is_a_conflict(
    engine: Engine, store: Store, cycle: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(store)

    with (
        changed_behind_the_engines_back(store, monkeypatch) as changed,
        pytest.raises(Conflict, match=CONFLICT),
    ):
        engine.advance(CHAIR, cycle, "sammanstall", "klart")

    assert changed == [cycle]
    assert counts(store) == before
    assert cycle_state(engine, cycle) == ("insamling", "open")
    engine.advance(CHAIR, cycle, "sammanstall", "klart")  # trying again works
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    intact(store)


def test_completing_a_task_of_a_cycle_changed_meanwhile_is_a_conflict(
    engine: Engine, store: Store, cycle: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an act that does not move the cycle on takes it (raises its version)."""
    task = tasks(engine, cycle)[0]
    before = counts(store)

    with (
        changed_behind_the_engines_back(store, monkeypatch),
        pytest.raises(Conflict, match=CONFLICT),
    ):
        engine.complete_task(task.assignees[0], task.id, "rapport", nothing_to_report=True)

    assert counts(store) == before
    assert [t.status for t in tasks(engine, cycle, status=None) if t.id == task.id] == ["open"]


def test_cli_reports_a_conflict_in_one_line_and_writes_nothing(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    before = counts(store)

    with changed_behind_the_engines_back(store, monkeypatch):
        line = tsk.refused("cycle", "close", "est-2027-03", "--force", "--note", "x", as_=CHAIR)

    assert line == f"tsk: {CONFLICT}"
    assert counts(store) == before
    shown = tsk.ok("cycle", "show", "est-2027-03")
    assert (shown["status"], shown["state"]) == ("open", "insamling")
    assert {t["status"] for t in shown["tasks"]} == {"open"}


# --- waiting for another writer --------------------------------------------------------------


@contextmanager
def held_for(store: Store, seconds: float) -> Iterator[None]:
    """Another connection holds a write lock for ``seconds``: on SQLite the database's write
    lock, on PostgreSQL the row of cycle 1 (SELECT ... FOR UPDATE)."""
    if store.dialect == "sqlite":
        database = store.engine.url.database
        assert database is not None
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE municipalities SET name = name")
        release = threading.Timer(seconds, lambda: holder.execute("COMMIT"))
        close = holder.close
    else:
        connection = store.engine.connect()
        transaction = connection.begin()
        connection.execute(text("SELECT id FROM cycles WHERE id = 1 FOR UPDATE"))
        release = threading.Timer(seconds, transaction.commit)
        close = connection.close
    release.start()
    try:
        yield
    finally:
        release.join()
        close()


def test_a_command_waits_for_another_writer_and_succeeds(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write transaction held elsewhere for about two seconds: the command waits for it
    instead of failing ('database is locked'), then does its work."""
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    task = tsk.ok("task", "list")[0]
    started = time.monotonic()

    with held_for(store, 2.0):
        done = tsk.ok(
            "task",
            "done",
            str(task["id"]),
            "--note",
            "väntade",
            "--nothing-to-report",
            as_=task["assignees"][0],
        )

    assert time.monotonic() - started >= 1.5
    assert (done["status"], done["note"]) == ("done", "väntade")
    intact(store)

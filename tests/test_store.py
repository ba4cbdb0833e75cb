"""The store on both databases: units of work, optimistic locking, times, errors for people."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.dbfixtures import MakeStore
from tsk_workflow.errors import Conflict, TskError
from tsk_workflow.store import acts
from tsk_workflow.store.acts import CycleState
from tsk_workflow.store.database import Store, database_url
from tsk_workflow.store.models import Cycle, Municipality, Task, Timer

T0 = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)


def municipality(key: str = "herrljunga") -> Municipality:
    return Municipality(
        key=key, name=key.title(), source=f"{key}.yaml", digest="0" * 64, loaded_at=T0
    )


def cycle(period: str = "2027-03", **changes: object) -> Cycle:
    fields: dict[str, object] = {
        "ref": f"est-{period}",
        "municipality": "herrljunga",
        "process": "est",
        "process_version": 1,
        "period": period,
        "title": f"EST {period}",
        "state": "planning",
        "group_key": "est",
        "opened_at": T0,
        "opened_by": "anna",
        "step_entered_at": T0,
    }
    fields.update(changes)
    return Cycle(**fields)


def add(store: Store, *rows: object) -> None:
    with store.transaction() as session:
        session.add_all(rows)


def count(store: Store, model: type[object]) -> int:
    with store.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- units of work ---------------------------------------------------------------------------


def test_transaction_commits(store: Store) -> None:
    add(store, municipality())

    with store.reading() as session:
        row = session.get(Municipality, "herrljunga")
        assert row is not None
        assert row.name == "Herrljunga"


def test_transaction_rolls_back_everything_on_error(store: Store) -> None:
    def failing_act() -> None:
        with store.transaction() as session:
            session.add(municipality())
            session.add(cycle())
            session.flush()
            raise RuntimeError("the mail could not be rendered")

    with pytest.raises(RuntimeError):
        failing_act()

    assert count(store, Municipality) == 0
    assert count(store, Cycle) == 0


def test_defaults_and_relationships(store: Store) -> None:
    with store.transaction() as session:
        opened = cycle()
        session.add(opened)
        session.flush()
        session.add(
            Task(
                cycle_id=opened.id,
                municipality="herrljunga",
                step="planning",
                key="agenda",
                role="samordnare",
                title="Agenda",
                created_at=T0,
            )
        )

    with store.reading() as session:
        stored = session.scalars(select(Cycle)).one()
        assert (stored.status, stored.subject, stored.version) == ("open", "", 1)
        assert (stored.forced, stored.late) == (False, False)
        assert [t.key for t in stored.tasks] == ["agenda"]


def test_times_come_back_aware_in_utc(store: Store) -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    local = dt.datetime(2027, 3, 1, 9, 0, 0, 123456, tzinfo=cet)
    add(store, cycle(opened_at=local))

    with store.reading() as session:
        opened_at = session.scalars(select(Cycle.opened_at)).one()

    assert opened_at == local
    assert opened_at.utcoffset() == dt.timedelta(0)
    assert opened_at.microsecond == 123456


def test_naive_time_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        add(store, cycle(opened_at=dt.datetime(2027, 3, 1, 9, 0)))
    assert count(store, Cycle) == 0


def test_json_round_trips(store: Store) -> None:
    answers = {"antal": 3, "svar": ["ja", "nej"], "ort": "Ödeshög", "andel": 0.5, "tom": None}
    with store.transaction() as session:
        opened = cycle()
        session.add(opened)
        session.flush()
        session.add(
            Task(
                cycle_id=opened.id,
                municipality="herrljunga",
                step="planning",
                key="enkät",
                role="samordnare",
                title="Enkät",
                created_at=T0,
                answers=answers,
            )
        )

    with store.reading() as session:
        assert session.scalars(select(Task.answers)).one() == answers


# --- conflicts -------------------------------------------------------------------------------


def change(session: Session, cycle: CycleState, state: str) -> None:
    """What an act does to a cycle it read: its effects, written by the store."""
    effects = acts.Effects()
    effects.change_cycle(cycle, state=state)
    acts.apply(session, effects)


def read(session: Session) -> CycleState:
    found = acts.load_cycle(session, "herrljunga", "ref", "est-2027-03")
    assert found is not None
    return found


def test_stale_cycle_is_a_conflict(store: Store) -> None:
    add(store, cycle())
    with store.reading() as session:
        stale = read(session)
    with store.transaction() as session:
        change(session, read(session), "meeting")

    def act_on_stale() -> None:
        with store.transaction() as session:
            change(session, stale, "closed")

    with pytest.raises(Conflict, match="någon annan ändrade den här cykeln"):
        act_on_stale()

    with store.reading() as session:
        assert session.scalars(select(Cycle)).one().state == "meeting"


def test_version_counts_changes(store: Store) -> None:
    """Each act that changes a cycle raises its version once, however often it changes it."""
    add(store, cycle())
    for state in ("meeting", "follow-up"):
        with store.transaction() as session:
            mine = read(session)
            effects = acts.Effects()
            effects.change_cycle(mine, state="in-between")
            acts.apply(session, effects)  # written halfway (before a listener reads, say)
            effects = effects.following()
            effects.change_cycle(mine, state=state)  # claimed once per act: not raised again
            acts.apply(session, effects)

    with store.reading() as session:
        assert session.scalars(select(Cycle.version)).one() == 3
        assert session.scalars(select(Cycle.state)).one() == "follow-up"


def test_duplicate_cycle_is_a_conflict(store: Store) -> None:
    add(store, cycle())

    with pytest.raises(Conflict, match="någon annan gjorde något samtidigt"):
        add(store, cycle())
    assert count(store, Cycle) == 1


@pytest.mark.postgres
def test_concurrent_change_of_one_cycle_is_a_conflict(make_store: MakeStore) -> None:
    """Two transactions read version 1 at once; the second to write loses (PostgreSQL)."""
    store = make_store("postgresql")
    add(store, cycle())
    read_done, first_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with store.transaction() as session:
                mine = read(session)
                read_done.set()
                first_done.wait(10)
                change(session, mine, "closed")
        except BaseException as exc:  # reported by the test's own thread
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    read_done.wait(10)
    with store.transaction() as session:
        change(session, read(session), "meeting")
    first_done.set()
    thread.join()

    assert len(errors) == 1
    assert isinstance(errors[0], Conflict)


def test_concurrent_writers_all_land(store: Store) -> None:
    """On SQLite BEGIN IMMEDIATE makes writers wait for each other instead of failing."""
    add(store, cycle())
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for n in range(10):
                add(store, cycle(period=f"2027-{thread:02d}-{n:02d}"))
        except BaseException as exc:  # reported by the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert count(store, Cycle) == 41


# --- errors for people -------------------------------------------------------------------------


def test_unmigrated_database_says_run_init(empty_store: Store) -> None:
    with pytest.raises(TskError, match="kör 'tsk init' först"):
        count(empty_store, Cycle)


def test_unmigrated_database_says_run_init_when_writing(empty_store: Store) -> None:
    with pytest.raises(TskError, match="kör 'tsk init' först"):
        add(empty_store, municipality())


def test_foreign_keys_are_enforced(store: Store) -> None:
    orphan = Task(
        cycle_id=999,
        municipality="herrljunga",
        step="planning",
        key="agenda",
        role="samordnare",
        title="Agenda",
        created_at=T0,
    )

    with pytest.raises(TskError, match="databasen vägrade ändringen"):
        add(store, orphan)


# --- URLs ------------------------------------------------------------------------------------


def test_database_url_from_a_path(tmp_path: Path) -> None:
    assert database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"


def test_database_url_postgres_uses_psycopg() -> None:
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSK_DATABASE_URL", "postgres://u@h/db")
    assert database_url(None) == "postgresql+psycopg://u@h/db"
    monkeypatch.delenv("TSK_DATABASE_URL")
    assert database_url(None) == "sqlite:///tsk.db"


def test_json_columns_are_written_by_orjson_with_the_standard_library_as_fallback(
    store: Store,
) -> None:
    """What goes into a JSON column reads back the same, whichever of the two wrote it."""
    from tsk_workflow.store.database import json_text

    values = [
        {"text": "Trygghetsvandring i Åsarp", "n": 3, "nested": [1, {"a": None}]},
        {"huge": 10**30},  # beyond 64 bits: orjson refuses, the standard library writes it
        {1: "a key that is not text"},  # written as "1", as json.dumps does
    ]
    for value in values:
        written = json_text(value)
        assert json.loads(written) == json.loads(json.dumps(value))
    with store.transaction() as session:
        for number, value in enumerate(values[:2]):
            session.add(
                Timer(
                    key=f"json:{number}",
                    kind="plan",
                    municipality="m",
                    fire_at=T0,
                    status="pending",
                    payload=value,
                    created_at=T0,
                )
            )
    with store.reading() as session:
        payloads = list(session.scalars(select(Timer.payload).order_by(Timer.key)))
    assert payloads == values[:2]

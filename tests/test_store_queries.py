"""The Core queries of ``store/queries.py`` (``task list`` without an engine) against the models
and the engine's ORM queries, on both databases: same columns, same rows, same order."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Boolean, DateTime, Integer, String, TypeDecorator, delete, insert
from sqlalchemy.sql.schema import Table

from tests.enginekit import Clock, Tsk, local, make_engine, tasks
from tsk_workflow.cli import views
from tsk_workflow.engine.service import Engine
from tsk_workflow.resources import municipalities_dir
from tsk_workflow.store import queries
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Base, TaskAssignee, UtcDateTime

CHAIR = "jessica.wahlstrom"
LIGHT = [queries.MUNICIPALITIES, queries.CYCLES, queries.TASKS, queries.TASK_ASSIGNEES]


@pytest.mark.parametrize("light", LIGHT, ids=lambda t: t.name)
def test_the_lightweight_tables_are_the_models_columns(light: Any) -> None:
    model: Table = Base.metadata.tables[light.name]
    for column in light.columns:
        assert column.name in model.c, f"{light.name}.{column.name} is not in models.py"
        kind = model.c[column.name].type
        if isinstance(column.type, DateTime):
            # queries._utc_iso does what this type does for the ORM
            assert isinstance(kind, UtcDateTime), f"{light.name}.{column.name}"
            continue
        assert not isinstance(kind, TypeDecorator), f"{light.name}.{column.name}"
        expected = next(t for t in (Boolean, Integer, String) if isinstance(column.type, t))
        assert isinstance(kind, expected), f"{light.name}.{column.name}: {kind!r}"
    assert set(queries.TASK_COLUMNS) <= set(queries.TASKS.c.keys())


@pytest.fixture
def engine(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Engine:
    """Herrljunga loaded with ``tsk init``, two EST cycles, a task done with a note, an open
    task with three assignees and one with none (as after a person left)."""
    Tsk(runner, store, "herrljunga", clock, monkeypatch).ok("init")
    engine = make_engine(store, "herrljunga", clock)
    first = engine.open_cycle(CHAIR, "est", "2027-03").id
    clock.advance(hours=5, microseconds=123_456)  # times with microseconds, too
    engine.open_cycle(CHAIR, "est", "2027-04")
    done = tasks(engine, first)[0]
    engine.complete_task(
        done.assignees[0], done.id, "klart – inga händelser", nothing_to_report=True
    )
    shared, orphaned = tasks(engine, first)[1:3]
    with store.transaction() as session:
        extra = [{"task_id": shared.id, "person": p} for p in ("hanna.nyberg", "erik.sundin")]
        session.execute(insert(TaskAssignee), extra)
        session.execute(delete(TaskAssignee).where(TaskAssignee.task_id == orphaned.id))
    return engine


def orm_rows(engine: Engine, **how: Any) -> list[dict[str, Any]]:
    with engine.store.reading() as session:
        return [views.task_row(t, t.cycle.ref) for t in engine.tasks(session, **how)]


@pytest.mark.parametrize("overdue", [False, True])
@pytest.mark.parametrize("only_open", [True, False])
@pytest.mark.parametrize("days", [0, 40])
def test_task_rows_are_the_engines_tasks(
    engine: Engine, store: Store, overdue: bool, only_open: bool, days: int
) -> None:
    now = local(2027, 3, 1, 12) + dt.timedelta(days=days)
    expected = orm_rows(engine, overdue=overdue, only_open=only_open, now=now)
    found = queries.task_rows(store, "herrljunga", overdue=overdue, only_open=only_open, now=now)
    assert found == expected
    if not overdue:
        assert len(found) > 3
        assert any(row["done_at"] for row in found) is not only_open
        assert {len(row["assignees"]) for row in found} >= {0, 1, 3}  # joined by the database
    assert queries.task_rows(store, "tingsryd", overdue=overdue, only_open=only_open, now=now) == []


def test_times_are_iso_in_utc(engine: Engine, store: Store) -> None:
    now = local(2027, 6, 1)
    rows = queries.task_rows(store, "herrljunga", overdue=False, only_open=False, now=now)
    times = [row[k] for row in rows for k in ("due", "done_at") if row[k]]
    assert times
    assert all(t.endswith("+00:00") for t in times)
    assert any("." in t for t in times)  # microseconds kept, as isoformat writes them


def test_the_municipality_is_found_by_its_files_digest(engine: Engine, store: Store) -> None:
    digest = hashlib.sha256((municipalities_dir() / "herrljunga.yaml").read_bytes()).hexdigest()
    assert queries.municipality_digests(store) == {"herrljunga": digest}

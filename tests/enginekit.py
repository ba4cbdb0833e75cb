"""What the engine and CLI tests share: a virtual clock, an engine on a test store, row counts,
walking a cycle's tasks, and the ``tsk`` command line on the same database.

The CLI builds its engine with ``service.system_clock``; ``Tsk`` replaces that with the virtual
clock for the test, so commands act at the time the test says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from tsk_workflow import catalog
from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.catalog import (
    Catalog,
    load_catalog,
    load_organisation,
    resolve_organisation_path,
)
from tsk_workflow.cli import cli
from tsk_workflow.engine import service, setup
from tsk_workflow.engine.service import Engine
from tsk_workflow.features import build_engine
from tsk_workflow.meetings import next_meeting
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import installation
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import (
    AuditEvent,
    Cycle,
    Decision,
    Document,
    OutboxMessage,
    RefusedAct,
    Task,
    Timer,
)

COUNTED = {
    "events": AuditEvent,
    "cycles": Cycle,
    "tasks": Task,
    "outbox": OutboxMessage,
    "timers": Timer,
    "decisions": Decision,
    "documents": Document,
    "refused": RefusedAct,
}


def local(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    """A Stockholm wall-clock time as an aware UTC datetime."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(dt.UTC)


EST_MONTHS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 11)
"""The months EST meets in (not July nor December): its periods are ``YYYY-MM`` of these."""


def est_periods(count: int, first_year: int = 2040) -> list[str]:
    """``count`` distinct periods EST's schedule has (``2040-01``, ``2040-02``, ... ``2040-11``,
    ``2041-01``, ...), for tests that open many EST cycles at once. Far from the years a test's
    clock is in, so that they are never periods the scheduler opens itself."""
    return [
        f"{first_year + index // len(EST_MONTHS)}-{EST_MONTHS[index % len(EST_MONTHS)]:02d}"
        for index in range(count)
    ]


@dataclass
class Clock:
    """Virtual time: the engine asks it for ``now``; tests move it."""

    now: dt.datetime = field(default_factory=lambda: local(2027, 3, 1))

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@cache
def shared_catalog() -> Catalog:
    """The shipped definitions, loaded and compiled once for all the tests."""
    return load_catalog()


@cache
def shared_organisation(name: str) -> Organisation:
    """A shipped organisation, read and checked once (it is immutable)."""
    return load_organisation(name, shared_catalog())


def make_engine(store: Store, org: str = "herrljunga", clock: Clock | None = None) -> Engine:
    return build_engine(store, shared_catalog(), shared_organisation(org), clock or Clock())


def meeting(engine: Engine, body: str, earliest: dt.date) -> dt.date:
    """The first meeting of ``body`` on or after ``earliest`` in the organisation's meeting
    calendar: a date a decision of that body can be recorded for (``Decisions.record``)."""
    found = next_meeting(engine.org.bodies[body].meetings, earliest, engine.cal)
    assert found is not None, (body, earliest)
    return found


def set_up(engine: Engine) -> Engine:
    """What ``tsk --org NAME init --virtual-time`` does to a migrated database of a test that
    makes its own: virtual time (its commands are given ``--now``), and the engine's
    organisation stored as version 1 (commands act with the organisation in force)."""
    with engine.store.transaction() as session:
        installation.make_virtual(session)
    setup.load_organisation(engine, resolve_organisation_path(engine.org.municipality))
    return engine


def counts(store: Store) -> dict[str, int]:
    """How many rows each table the acts write to has."""
    with store.reading() as session:
        return {
            name: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in COUNTED.items()
        }


@dataclass(frozen=True)
class TaskView:
    id: int
    step: str
    key: str
    assignees: tuple[str, ...]
    status: str
    required: bool
    due: dt.datetime | None


def tasks(engine: Engine, cycle: int | str, status: str | None = "open") -> list[TaskView]:
    """The tasks of a cycle (by default the open ones), oldest first."""
    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle)
        return [
            TaskView(
                t.id,
                t.step,
                t.key,
                tuple(sorted(t.assignee_ids)),
                t.status,
                t.required,
                t.due_at,
            )
            for t in found.tasks
            if status is None or t.status == status
        ]


def cycle_state(engine: Engine, cycle: int | str) -> tuple[str, str]:
    """``(state, status)`` of a cycle."""
    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle)
        return found.state, found.status


def finish_step(engine: Engine, cycle: int | str, *, skip: Iterable[str] = ()) -> str:
    """Complete the open required tasks of the cycle's current step, each by its first assignee
    (a task with a form: with nothing to report); the step the cycle is in afterwards."""
    from tsk_workflow.forms import form_of

    state, _ = cycle_state(engine, cycle)
    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle)
        definition = engine.definition_for(session, found.process, found.process_digest)
    for task in tasks(engine, cycle):
        if task.step == state and task.required and task.key not in set(skip):
            engine.complete_task(
                task.assignees[0],
                task.id,
                f"klart: {task.key}",
                nothing_to_report=form_of(definition, task.step, task.key) is not None,
            )
    return cycle_state(engine, cycle)[0]


def events(store: Store, action: str | None = None) -> list[AuditEvent]:
    with store.reading() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


class Tsk:
    """``tsk`` through click's runner, on a test store, at the virtual clock's time."""

    def __init__(
        self,
        runner: CliRunner,
        store: Store,
        org: str,
        clock: Clock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.runner, self.store, self.org, self.clock = runner, store, org, clock
        monkeypatch.setattr(service, "system_clock", clock)
        # Every command would read and check the definitions and the organisation file again;
        # they are the same all along, so the commands share one copy (saves most of the time).
        monkeypatch.setattr(catalog, "load_catalog", shared_catalog)
        monkeypatch.setattr(
            catalog, "load_organisation", lambda name, _catalog=None: shared_organisation(name)
        )

    def __call__(self, *args: str, as_: str | None = None, org: str | None = None) -> Result:
        options = ["--db", self.store.url, "--org", org or self.org]
        if as_ is not None:
            options += ["--as", as_]
        return self.runner.invoke(cli, [*options, *args])

    def ok(self, *args: str, as_: str | None = None, org: str | None = None) -> Any:
        """Run with ``--json``, expect exit 0, return the parsed JSON."""
        result = self(*args, "--json", as_=as_, org=org)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return json.loads(result.stdout)

    def text(self, *args: str, as_: str | None = None, org: str | None = None) -> str:
        result = self(*args, as_=as_, org=org)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    def refused(self, *args: str, as_: str | None = None, org: str | None = None) -> str:
        """Expect exit 1 with one clear line on stderr, no traceback, no JSON; return the line."""
        result = self(*args, as_=as_, org=org)
        assert result.exit_code == 1, (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, lines
        return lines[0]

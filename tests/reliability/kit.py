"""What the reliability tests share: a Herrljunga world with many due timers, the ``tsk`` command
as a real subprocess, replaying each cycle's audit events against its row, and a dump of every
table for "nothing changed" checks."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import make_url

from tests.conftest import REPO
from tests.enginekit import Clock, est_periods, local, make_engine, set_up
from tsk_workflow import audit
from tsk_workflow.catalog import Catalog, load_catalog
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, OutboxMessage, Timer

CHAIR, DEPUTY = "jessica.wahlstrom", "hanna.nyberg"
ORG = "herrljunga"
TSK = "import sys; from tsk_workflow.cli import main; sys.exit(main())"
START = local(2027, 3, 2, 9)
"""When the world's cycles are opened (virtual time)."""
LATER = local(2027, 4, 1, 10)
"""A month on: every task of those cycles is overdue and escalated, April's openings are due."""


# ---------------------------------------------------------------- a world with due timers


@dataclass
class World:
    store: Store
    engine: Engine
    clock: Clock


def herrljunga(store: Store, now: dt.datetime = START) -> World:
    """Herrljunga loaded into ``store`` as ``tsk init --virtual-time`` does, at ``now``."""
    clock = Clock(now)
    engine = set_up(make_engine(store, ORG, clock))
    return World(store, engine, clock)


def busy_month(store: Store, cycles: int = 55) -> World:
    """``cycles`` EST cycles opened at ``START`` through the engine, a few advanced and closed:
    by ``LATER`` each open reporter task has four due timers (two reminders, the due time, the
    escalation), and their mail is queued."""
    world = herrljunga(store)
    engine = world.engine
    opened = [engine.open_cycle(CHAIR, "est", period).id for period in est_periods(cycles)]
    for cycle in opened[:3]:
        world.clock.advance(minutes=1)
        engine.advance(CHAIR, cycle, "sammanstall", "rapporterna räcker")
    for cycle in opened[3:5]:
        world.clock.advance(minutes=1)
        engine.close_cycle(CHAIR, cycle, "inställd månad", force=True)
    return world


def due_timers(store: Store, now: dt.datetime) -> int:
    with store.reading() as session:
        query = select(func.count(Timer.id)).where(Timer.status == "pending", Timer.fire_at <= now)
        return int(session.scalar(query) or 0)


# ---------------------------------------------------------------- tsk as a subprocess


def environment(**extra: str) -> dict[str, str]:
    """The environment of a ``tsk`` subprocess: none of the caller's TSK_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TSK_")}
    env["PYTHONPATH"] = str(REPO)
    return env | extra


def tsk_command(url: str, *args: str, org: str | None = ORG) -> list[str]:
    options = ["--db", url] + (["--org", org] if org else [])
    return [sys.executable, "-c", TSK, *options, *args]


def run_tsk(
    url: str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tsk_command(url, *args),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(env or environment()),
        timeout=120,
    )


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


# ---------------------------------------------------------------- checks


def chain_ok(store: Store) -> audit.VerifyResult:
    with store.reading() as session:
        return audit.verify(session)


def replay_problems(store: Store, catalog: Catalog | None = None) -> list[str]:
    """Each cycle's state and status, rebuilt from its ``cycle.opened``, ``cycle.advanced`` and
    ``cycle.closed`` events alone, compared with its row; the differences, in words."""
    catalog = catalog or load_catalog()
    actions = ("cycle.opened", "cycle.advanced", "cycle.closed")
    with store.reading() as session:
        rows = {
            cycle.id: (cycle.process, cycle.state, cycle.status)
            for cycle in session.scalars(select(Cycle))
        }
        events = session.execute(
            select(AuditEvent.seq, AuditEvent.action, AuditEvent.subject, AuditPayload.payload)
            .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
            .where(AuditEvent.action.in_(actions), AuditEvent.subject.like("cycle:%"))
            .order_by(AuditEvent.seq)
        ).all()
    replayed: dict[int, tuple[str, str]] = {}
    problems: list[str] = []
    for seq, action, subject, payload in events:
        cycle_id = int(subject.split(":", 1)[1])
        if cycle_id not in rows:
            problems.append(
                f"event {seq} ({action}) is about cycle {cycle_id}, which does not exist"
            )
            continue
        state = replayed.get(cycle_id)
        if action == "cycle.opened":
            if state is not None:
                problems.append(f"cycle {cycle_id} opened twice (event {seq})")
            replayed[cycle_id] = (catalog.definition(rows[cycle_id][0]).initial_step, "open")
        elif state is None or state[1] != "open":
            problems.append(
                f"event {seq} ({action}) on cycle {cycle_id}, which is {state and state[1]}"
            )
        elif action == "cycle.advanced":
            if payload.get("from") != state[0]:
                problems.append(
                    f"event {seq}: cycle {cycle_id} advanced from {payload.get('from')} but was in {state[0]}"
                )
            replayed[cycle_id] = (str(payload.get("to")), "open")
        else:
            replayed[cycle_id] = (str(payload.get("state")), "closed")
    for cycle_id, (_process, row_state, row_status) in sorted(rows.items()):
        if replayed.get(cycle_id) != (row_state, row_status):
            problems.append(
                f"cycle {cycle_id} is {(row_state, row_status)}, its events say {replayed.get(cycle_id)}"
            )
    return problems


def duplicate_events(store: Store, actions: Iterable[str]) -> dict[tuple[str, str], int]:
    """Events that should happen once per subject and happened more often."""
    with store.reading() as session:
        query = (
            select(AuditEvent.action, AuditEvent.subject, func.count())
            .where(AuditEvent.action.in_(list(actions)))
            .group_by(AuditEvent.action, AuditEvent.subject)
            .having(func.count() > 1)
        )
        return {(action, subject): int(count) for action, subject, count in session.execute(query)}


def outbox_ids(store: Store, *statuses: str) -> set[str]:
    with store.reading() as session:
        query = select(OutboxMessage.message_id)
        if statuses:
            query = query.where(OutboxMessage.status.in_(statuses))
        return set(session.scalars(query))


def outbox_statuses(store: Store) -> Counter[str]:
    with store.reading() as session:
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({status: int(count) for status, count in rows})


# ---------------------------------------------------------------- "nothing changed"


def dump(
    store: Store, exclude: Sequence[str] = ("refused_acts",)
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (found by reflection), sorted, except ``exclude``."""
    metadata = MetaData()
    metadata.reflect(store.engine)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            if name in exclude:
                continue
            rows = connection.execute(table.select()).all()
            tables[name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


def sqlite_dump(path: Path, exclude: Sequence[str] = ("refused_acts",)) -> list[str]:
    """``sqlite3``'s ``iterdump`` of the file, without the rows of ``exclude``."""
    connection = sqlite3.connect(path)
    try:
        skip = tuple(f'INSERT INTO "{name}"' for name in exclude)
        return [line for line in connection.iterdump() if not line.startswith(skip)]
    finally:
        connection.close()


def sqlite_path(store: Store) -> Path:
    return Path(make_url(store.url).database or "")


def pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)

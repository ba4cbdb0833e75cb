"""Outages: the mail server down for an hour, the database locked by another writer for a few
seconds, the PostgreSQL connection dropped in the middle of a scheduler pass. Each time nothing
is lost and nothing is done twice, and people get a clear message instead of a traceback."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.enginekit import est_periods, tasks
from tests.reliability.kit import (
    CHAIR,
    LATER,
    START,
    busy_month,
    chain_ok,
    due_timers,
    duplicate_events,
    environment,
    herrljunga,
    iso,
    outbox_statuses,
    replay_problems,
    sqlite_path,
    tsk_command,
)
from tests.smtp_server import SmtpServer
from tsk_workflow import audit
from tsk_workflow.cli import cli
from tsk_workflow.mail.outbox import BREAKER_AFTER, MAX_ATTEMPTS
from tsk_workflow.store import timers as stored_timers
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Timer
from tsk_workflow.store.timers import DueTimer, Rows

# Many processes or much CPU at once: under pytest-xdist these share one worker, one at a
# time (--dist loadgroup), so that they do not starve each other or PostgreSQL's connections.
pytestmark = pytest.mark.xdist_group("processes")

HOLD = 3.0
"""How long the other writer keeps the lock once every command is waiting for it."""


def tick(runner: CliRunner, store: Store, now: dt.datetime, *extra: str, **env: str) -> Any:
    return runner.invoke(
        cli,
        ["--db", store.url, "--org", "herrljunga", "tick", "--now", iso(now), *extra, "--json"],
        env=env,
    )


# ---------------------------------------------------------------- SMTP down for an hour


def test_mail_queued_while_smtp_is_down_is_delivered_once_after(
    store: Store, runner: CliRunner
) -> None:
    world = herrljunga(store, START)
    smtp = SmtpServer()  # not started: nobody listens on its port
    env = {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port)}
    passes = []
    minutes = range(0, 61, 10)  # an act every ten minutes, and a pass that tries to send
    for minute, period in zip(minutes, est_periods(len(minutes)), strict=True):
        now = START + dt.timedelta(minutes=minute)
        world.clock.set(now)
        world.engine.open_cycle(CHAIR, "est", period)
        result = tick(runner, store, now, "--send", **env)
        assert result.exit_code == 0, result.output
        passes.append(json.loads(result.stdout)["mail"])
    queued = outbox_statuses(store)["pending"]
    assert queued > 0
    assert all(p["sent"] == 0 for p in passes)
    # Three tries, then one per pass: the rest is not tried while the server is away, so it does
    # not run out of attempts however long that is.
    assert [p["retried"] for p in passes] == [BREAKER_AFTER] + [1] * (len(passes) - 1)
    assert passes[0]["deferred"] > 0

    smtp.start()
    try:
        now = START + dt.timedelta(minutes=60)
        for _ in range(12):  # the server is back: passes every ten minutes until all is sent
            now += dt.timedelta(minutes=10)
            assert tick(runner, store, now, "--send", **env).exit_code == 0
            if outbox_statuses(store)["pending"] == 0:
                break
        received = Counter(str(m.message["Message-ID"]) for m in smtp.messages)
    finally:
        smtp.stop()

    statuses = outbox_statuses(store)
    assert statuses["pending"] == 0, statuses
    assert statuses["failed"] == 0, statuses
    with store.reading() as session:
        sent = {
            row.message_id: row.attempts
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "sent"))
        }
    assert set(received) == set(sent)
    assert set(received.values()) == {1}, "a message was delivered twice"
    assert max(sent.values()) < MAX_ATTEMPTS
    print(
        f"\nsmtp outage: {len(sent)} mails queued during the hour, delivered once each after"
        f" {(now - START - dt.timedelta(minutes=60)).seconds // 60} min, at most"
        f" {max(sent.values())} attempts"
    )


# ---------------------------------------------------------------- the database locked


@pytest.fixture
def locked_world(store: Store) -> tuple[Store, int, int, str]:
    """Herrljunga with one EST cycle (and its open reporter tasks)."""
    world = herrljunga(store, START)
    cycle = world.engine.open_cycle(CHAIR, "est", "2027-03").id
    task = tasks(world.engine, cycle)[0]
    return store, cycle, task.id, task.assignees[0]


def hold_lock(store: Store, held: threading.Event, release: threading.Event) -> None:
    """Another writer holding the write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the
    audit chain's lock and the cycles table) until ``release`` is set."""
    if store.dialect == "sqlite":
        writer = sqlite3.connect(sqlite_path(store), isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(120)
            writer.execute("ROLLBACK")
        finally:
            writer.close()
        return
    engine = create_engine(store.url, poolclass=NullPool)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": audit.CHAIN_LOCK}
            )
            connection.execute(text("LOCK TABLE cycles IN EXCLUSIVE MODE"))
            held.set()
            release.wait(120)
    finally:
        engine.dispose()


def cpu_and_state(pid: int) -> tuple[int, str]:
    """A process's CPU time (ticks) and state letter, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), fields[0]


def wait_until_blocked(processes: list[subprocess.Popen[str]], timeout: float = 90) -> float:
    """Until every process sleeps without using the CPU for a second (waiting for a lock);
    how long that took."""
    began = time.monotonic()
    last: dict[int, tuple[int, str]] = {}
    still: dict[int, int] = {}
    while time.monotonic() - began < timeout:
        assert all(p.poll() is None for p in processes), (
            "a command finished while the lock was held"
        )
        for process in processes:
            now = cpu_and_state(process.pid)
            quiet = now[1] == "S" and last.get(process.pid, (-1, ""))[0] == now[0]
            still[process.pid] = still.get(process.pid, 0) + 1 if quiet else 0
            last[process.pid] = now
        if all(still.get(p.pid, 0) >= 4 for p in processes):
            return time.monotonic() - began
        time.sleep(0.25)
    raise AssertionError("the commands did not all come to wait for the lock")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_commands_wait_for_another_writer_and_succeed(
    locked_world: tuple[Store, int, int, str],
) -> None:
    store, cycle, task, reporter = locked_world
    moment = iso(LATER)  # all at one time, when timers are due: the trail's time goes forward
    env = environment(TSK_NOW=moment)
    commands = {
        "open": ["--as", CHAIR, "cycle", "open", "est", "--period", "2040-01"],
        "done": [
            "--as",
            reporter,
            "task",
            "done",
            str(task),
            "--note",
            "inget att rapportera",
            "--nothing-to-report",
        ],
        "propose": [
            "--as",
            CHAIR,
            "decision",
            "propose",
            str(cycle),
            "--title",
            "Belysning",
            "--cost",
            "20000",
        ],
        "tick": ["tick", "--now", moment],
    }
    held, release = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_lock, args=(store, held, release))
    locker.start()
    try:
        assert held.wait(10)
        began = time.monotonic()
        processes = {
            name: subprocess.Popen(
                tsk_command(store.url, *args),
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, args in commands.items()
        }
        blocked_after = wait_until_blocked(list(processes.values()))
        time.sleep(HOLD)
        assert all(p.poll() is None for p in processes.values())
        locked_for = time.monotonic() - began
    finally:
        release.set()
        locker.join()
    outcomes = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=60)
        outcomes[name] = (process.returncode, out, err)
    after = time.monotonic() - began - locked_for
    for name, (code, out, err) in outcomes.items():
        assert code == 0, (name, out, err)
        assert "Traceback" not in out + err
    assert chain_ok(store).ok
    assert replay_problems(store) == []
    print(
        f"\n{store.dialect} locked {locked_for:.1f} s (all {len(outcomes)} commands waiting after"
        f" {blocked_after:.1f} s, then {HOLD} s more): each succeeded within {after:.1f} s of the release"
    )


# ---------------------------------------------------------------- the connection dropped


@pytest.mark.postgres
def test_connection_dropped_mid_tick_fails_cleanly_and_next_pass_finishes(
    make_store: MakeStore, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store("postgresql")
    busy_month(store, cycles=12)
    due = due_timers(store, LATER)
    admin = create_engine(store.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    original = stored_timers.load
    calls = 0
    dropped: list[int] = []

    def dropping(session: Session, timers: Sequence[DueTimer], now: dt.datetime) -> Rows:
        nonlocal calls
        calls += 1
        # In the middle of a pass, once some batches have committed (the timers due fewer).
        if calls > 1 and not dropped and due_timers(store, LATER) < due:
            dropped.append(calls)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with admin.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return original(session, timers, now)

    monkeypatch.setattr(stored_timers, "load", dropping)
    first = tick(runner, store, LATER, "--batch", "20")
    assert first.exit_code == 1, first.output
    assert first.exception is None or isinstance(first.exception, SystemExit), first.exception
    assert "Traceback" not in first.output
    lines = first.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("tsk: "), lines
    after_first = due_timers(store, LATER)
    assert 0 < after_first < due  # the batches before the drop stay done, the one it hit does not

    monkeypatch.setattr(stored_timers, "load", original)
    second = tick(runner, store, LATER, "--batch", "20")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["total"] + json.loads(second.stdout)["skipped"] == after_first
    assert due_timers(store, LATER) == 0
    with store.reading() as session:
        failed = session.scalar(select(func.count(Timer.id)).where(Timer.status == "failed"))
    assert failed == 0
    assert duplicate_events(store, ["task.overdue", "task.escalated", "cycle.opened"]) == {}
    assert chain_ok(store).ok
    assert replay_problems(store) == []
    admin.dispose()
    print(
        f"\nconnection dropped: first pass '{lines[0]}', {due - after_first} of {due} timers done; the next pass did the other {after_first}"
    )

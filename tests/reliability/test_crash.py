"""Crash at any point: ``tsk tick --send`` as a real process, killed with SIGKILL again and again
while it fires a thousand due timers and sends their mail, restarted each time until all is
done; then every timer has fired exactly once, the audit chain verifies, every cycle's state is
what its events say, and every mail was delivered (a duplicate only ever with the same
Message-ID). On SQLite and on PostgreSQL.

A kill comes a random 0.02-0.4 s (seeded) after the process has started up (the start-up time,
imports and loading the definitions, is measured first), so that kills land in the work rather
than in Python's imports; the window is short enough that 20 kills come before the work (a few
seconds) is all done, and the killing stops should the work be done first. Each restart runs 11 virtual minutes after the one before, as a cron
job would: mail leased by a killed pass (10 minutes) is sent again by a later one.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.reliability.kit import (
    LATER,
    START,
    busy_month,
    chain_ok,
    due_timers,
    duplicate_events,
    environment,
    iso,
    outbox_ids,
    outbox_statuses,
    replay_problems,
    run_tsk,
    tsk_command,
)
from tests.smtp_server import SmtpServer
from tsk_workflow.engine import notify
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, OutboxMessage, Task, Timer

SEED = 20270401
KILLS = 20
BATCH = "10"
STEP = dt.timedelta(minutes=11)


@dataclass
class Harness:
    """Runs ``tsk tick`` over and over, killing it, and keeps the figures."""

    store: Store
    smtp: SmtpServer
    env: dict[str, str]
    rng: random.Random
    startup: float
    runs: int = 0
    kills: int = 0
    kills_in_work: int = 0
    finished: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return LATER + self.runs * STEP

    def progress(self) -> tuple[int, int, int, int]:
        with self.store.reading() as session:
            fired = session.scalar(select(func.count(Timer.id)).where(Timer.status != "pending"))
            sent = session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.status != "pending")
            )
            events = session.scalar(select(func.count(AuditEvent.seq)))
        return int(fired or 0), int(sent or 0), int(events or 0), len(self.smtp.messages)

    def start(self) -> subprocess.Popen[str]:
        command = tsk_command(self.store.url, "tick", "--now", iso(self.now()), "--send")
        return subprocess.Popen(
            [*command, "--batch", BATCH, "--json"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, kill: bool) -> bool:
        """One pass, killed after a random moment when ``kill``; True when it ran to its end."""
        before = self.progress()
        process = self.start()
        self.runs += 1
        try:
            out, err = process.communicate(
                timeout=self.startup + self.rng.uniform(0.02, 0.4) if kill else 120
            )
        except subprocess.TimeoutExpired:
            process.kill()  # SIGKILL
            process.communicate()
            self.kills += 1
            if self.progress() != before:
                self.kills_in_work += 1
            return False
        assert process.returncode == 0, (process.returncode, out, err)
        assert "Traceback" not in out + err
        self.finished.append(json.loads(out))
        return True

    def done(self) -> bool:
        return (
            due_timers(self.store, self.now()) == 0 and outbox_statuses(self.store)["pending"] == 0
        )


def startup_time(url: str, env: dict[str, str]) -> float:
    """How long a pass with nothing to do takes (imports, definitions): the fastest of two."""
    times = []
    for _ in range(2):
        began = time.perf_counter()
        result = run_tsk(url, "tick", "--now", iso(START), "--no-send", env=env)
        assert result.returncode == 0, result.stderr
        times.append(time.perf_counter() - began)
    return min(times)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_tick_at_random_moments(kind: str, make_store: MakeStore) -> None:
    began = time.perf_counter()
    store = make_store(kind)
    world = busy_month(store)
    due = due_timers(store, LATER)
    assert due >= 1000
    queued = outbox_statuses(store)["pending"]

    with SmtpServer() as smtp:
        env = environment(TSK_SMTP_HOST=smtp.host, TSK_SMTP_PORT=str(smtp.port))
        harness = Harness(store, smtp, env, random.Random(SEED), startup_time(store.url, env))
        while harness.kills < KILLS and not harness.done():
            harness.run(kill=True)
        for _ in range(10):
            if harness.run(kill=False) and harness.done():
                break
        assert harness.done(), "the restarts did not finish the work"
        received = [
            (str(m.message["Message-ID"]), m.rcpt_tos, str(m.message["Subject"]))
            for m in smtp.messages
        ]

    final = LATER + (harness.runs - 1) * STEP
    # Every due timer fired exactly once: none left, none failed, each effect once.
    with store.reading() as session:
        statuses = Counter(
            dict(session.execute(select(Timer.status, func.count()).group_by(Timer.status)).all())
        )
        fired = list(
            session.execute(select(Timer.kind, Timer.task_id).where(Timer.status == "fired"))
        )
        open_tasks = {
            task.id: task.assignee_ids
            for task in session.scalars(select(Task).where(Task.status == "open"))
        }
    assert statuses["failed"] == 0
    assert due_timers(store, final) == 0
    assert statuses["fired"] >= due
    assert duplicate_events(store, ["task.overdue", "task.escalated", "cycle.opened"]) == {}
    org = world.engine.org
    expected: set[str] = set()
    for kind_, task_id in fired:
        if task_id is None:  # cycle openings and plans
            continue
        if kind_ == "due":
            expected |= {
                notify.message_id(org, f"task:{task_id}:overdue", p) for p in open_tasks[task_id]
            }
        elif kind_ == "escalation":
            expected |= {notify.message_id(org, f"task:{task_id}:escalated", p) for p in CHAIRS}
    all_ids = outbox_ids(store)
    assert expected <= all_ids, sorted(expected - all_ids)[:5]
    with store.reading() as session:
        overdue = set(
            session.scalars(select(AuditEvent.subject).where(AuditEvent.action == "task.overdue"))
        )
    assert overdue == {f"task:{task_id}" for kind_, task_id in fired if kind_ == "due"}

    # The audit chain verifies, through the command line too; every cycle is explained.
    assert chain_ok(store).ok
    verified = run_tsk(store.url, "audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert replay_problems(store) == []

    # Every mail was delivered at least once; a duplicate is the same message, same Message-ID.
    statuses_mail = outbox_statuses(store)
    assert statuses_mail["pending"] == 0, statuses_mail
    assert statuses_mail["failed"] == 0, statuses_mail
    by_id: dict[str, set[tuple[tuple[str, ...], str]]] = {}
    for message_id, rcpts, subject in received:
        by_id.setdefault(message_id, set()).add((tuple(rcpts), subject))
    sent = outbox_ids(store, "sent")
    assert sent <= set(by_id), sorted(sent - set(by_id))[:5]
    assert set(by_id) <= all_ids
    assert all(len(variants) == 1 for variants in by_id.values())
    duplicates = len(received) - len(by_id)

    figures = {
        "database": kind,
        "due_timers": due,
        "timers_fired": statuses["fired"],
        "mail_queued_before": queued,
        "mail_sent": len(sent),
        "mail_received": len(received),
        "duplicates_same_message_id": duplicates,
        "runs": harness.runs,
        "kills": harness.kills,
        "kills_in_work": harness.kills_in_work,
        "startup_s": round(harness.startup, 2),
        "events": chain_ok(store).checked,
        "seconds": round(time.perf_counter() - began, 1),
    }
    print("\ncrash figures:", json.dumps(figures))
    assert harness.kills_in_work >= KILLS // 2, figures  # most kills landed in the work


CHAIRS = ("jessica.wahlstrom", "hanna.nyberg")

"""Crash at any point: ``tsk tick --send`` as a real process, killed with SIGKILL again and again
while it fires a thousand due timers and sends their mail, restarted each time until all is
done; then every timer has fired exactly once, the audit chain verifies, every cycle's state is
what its events say, and every mail was delivered (a duplicate only ever with the same
Message-ID, and few of them). On SQLite and on PostgreSQL.

Kills are placed by progress the test sees, never by the clock. Before each pass a kill point is
drawn (seeded): *timers* (k due timers fired in this pass), *claimed* (the first batch of mail
leased), *received* (the server accepted n messages of this pass) or *marked* (m of them marked
sent). The test polls the database or the SMTP server (every 10 ms) and sends SIGKILL when the
point is reached. The pass cannot finish before that: the SMTP server (``Gate``) accepts only the
pass's first n messages (none before a timers or claimed point) and then answers no more, so the
pass waits there until it is killed. Every kill therefore lands inside the work, after progress,
however slow the machine. The timers points share out the due timers over the first half of the
kills, the mail points a share of the waiting mail each, so the work lasts for all 20 kills. Each
restart runs 11 virtual minutes after the one before, as a cron job would: mail leased by a
killed pass (two minutes) is sent again by a later one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

import pytest
from sqlalchemy import func, select

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.reliability.kit import (
    LATER,
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
from tests.smtp_server import OK, RecordingHandler, SmtpServer
from tsk_workflow import messages
from tsk_workflow.mail import outbox
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, OutboxMessage, Task, Timer

# Many processes or much CPU at once: under pytest-xdist these share one worker, one at a
# time (--dist loadgroup), so that they do not starve each other or PostgreSQL's connections.
pytestmark = pytest.mark.xdist_group("processes")

SEED = 20270401
KILLS = 20
BATCH = "10"
STEP = dt.timedelta(minutes=11)
POLL = 0.01
"""Seconds between two looks at the progress of a pass."""
PASS_LIMIT = 120.0
"""Seconds a pass may take to reach its kill point before the test gives up (it takes about one);
also, doubled, the SMTP time-out, so that a pass held by the server waits for its kill."""
IN_FLIGHT = 4
"""``outbox.deliver``'s ``max_in_flight``: messages a pass has at the server at once."""
KINDS = ("timers", "claimed", "received", "marked")


class Gate(RecordingHandler):
    """The SMTP server's handler: it answers the connections of the pass being watched only,
    and of those only the first ``accept`` messages; every other message waits for an answer
    that never comes (until its client is killed).

    A killed pass's message can reach the server after the kill (a loaded machine runs the
    server's thread late); it is never answered, so it cannot count for the next pass.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pass_number = 0
        self.quota: int | None = None
        self.answering = 0  # messages of this pass answered or being answered
        self.accepted = 0  # messages of this pass accepted (kept and answered 250)

    def open(self, accept: int | None) -> None:
        """A new pass: answer its first ``accept`` messages (None: all of them)."""
        with self._lock:
            self.pass_number += 1
            self.quota, self.answering, self.accepted = accept, 0, 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self._lock:
            session.tsk_pass = self.pass_number
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            answer = getattr(session, "tsk_pass", None) == self.pass_number and (
                self.quota is None or self.answering < self.quota
            )
            self.answering += answer
        if not answer:
            await asyncio.Event().wait()  # cancelled when the client goes or the server stops
        self._keep(envelope)
        with self._lock:
            self.accepted += getattr(session, "tsk_pass", None) == self.pass_number
        return OK


@dataclass(frozen=True)
class Progress:
    """What a pass has done so far, as the database and the SMTP server show it."""

    fired: int  # timers no longer pending
    leased: int  # pending mail claimed for this pass (leased past its time)
    marked: int  # mail marked sent
    events: int  # audit events
    received: int  # messages the server accepted
    accepted: int  # of those, messages of this pass

    def count(self, kind: str) -> int:
        return {
            "timers": self.fired,
            "claimed": self.leased,
            "received": self.received,
            "accepted": self.accepted,
            "marked": self.marked,
        }[kind]


@dataclass(frozen=True)
class KillPoint:
    """Where a pass is killed: when ``kind`` has reached ``target`` in this pass. The server
    accepts the pass's first ``accept`` messages and then answers no more."""

    kind: str
    target: int
    accept: int

    def reached(self, start: Progress, count: int) -> bool:
        """Whether the pass is there, ``count`` being ``self.measure``'s count now."""
        return count - start.count(self.measure) >= self.target

    @property
    def measure(self) -> str:
        """What is counted: for *received*, the messages the gate answered in this pass."""
        return "accepted" if self.kind == "received" else self.kind


def surely_marked(accepted: int) -> int:
    """Mail a pass has certainly marked sent once the server has accepted ``accepted`` of its
    messages (and answers no more): each claimed batch whole at its end, the batch being sent
    every ``outbox.MARK_EVERY`` results."""
    whole, rest = divmod(accepted, outbox.BATCH)
    return whole * outbox.BATCH + rest // outbox.MARK_EVERY * outbox.MARK_EVERY


def read(output: IO[str]) -> str:
    output.seek(0)
    return output.read()


def due_mail(store: Store, now: dt.datetime) -> int:
    """Pending mail a pass at ``now`` will claim."""
    with store.reading() as session:
        query = select(func.count(OutboxMessage.id)).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
        )
        return int(session.scalar(query) or 0)


@dataclass
class Harness:
    """Runs ``tsk tick`` over and over, killing it at drawn points, and keeps the figures."""

    store: Store
    smtp: SmtpServer
    gate: Gate
    env: dict[str, str]
    rng: random.Random
    runs: int = 0
    kills: int = 0
    kills_in_work: int = 0
    placed: Counter[str] = field(default_factory=Counter)
    finished: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> dt.datetime:
        return LATER + self.runs * STEP

    def progress(self, now: dt.datetime) -> Progress:
        return Progress(
            self.count("timers", now),
            self.count("claimed", now),
            self.count("marked", now),
            self.count("events", now),
            self.count("received", now),
            self.count("accepted", now),
        )

    def count(self, kind: str, now: dt.datetime) -> int:
        """One measure of progress, for a pass at ``now``: one query at most, so that watching
        a pass costs it little."""
        if kind == "received":
            return len(self.smtp.messages)
        if kind == "accepted":
            return self.gate.accepted
        query = {
            "timers": select(func.count(Timer.id)).where(Timer.status != "pending"),
            "claimed": select(func.count(OutboxMessage.id)).where(
                OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now
            ),
            "marked": select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent"),
            "events": select(func.count(AuditEvent.seq)),
        }[kind]
        with self.store.reading() as session:
            return int(session.scalar(query) or 0)

    def start(self, output: IO[str] | None = None) -> subprocess.Popen[str]:
        """A pass at the next time; its output to ``output`` (both streams), else to pipes."""
        command = tsk_command(self.store.url, "tick", "--now", iso(self.now()), "--send")
        self.runs += 1
        return subprocess.Popen(
            [*command, "--batch", BATCH, "--json"],
            cwd=REPO,
            env=self.env,
            stdout=output or subprocess.PIPE,
            stderr=subprocess.STDOUT if output else subprocess.PIPE,
            text=True,
        )

    def plan(self) -> KillPoint | None:
        """The next kill point, or None when the pass cannot be held before its end (no mail
        waiting for the server to hold it at)."""
        now = self.now()
        mail = due_mail(self.store, now)
        if mail < 2:
            return None
        timers = due_timers(self.store, now)
        share = KILLS // 2 - self.kills  # the first half of the kills share out the timers
        if timers and share > 0:
            return KillPoint("timers", self.rng.randint(1, max(1, timers // share)), accept=0)
        kind = self.rng.choice(KINDS[1:])
        if kind == "claimed":
            return KillPoint("claimed", 1, accept=0)
        # At most this kill's share of the waiting mail, and less than all of it, so the pass
        # meets the held answer (and the kills to come still find mail to send).
        accept = self.rng.randint(1, max(1, min(mail - 1, mail // (KILLS - self.kills))))
        if kind == "marked" and surely_marked(accept) > 0:
            return KillPoint("marked", self.rng.randint(1, surely_marked(accept)), accept)
        return KillPoint("received", accept, accept)

    def kill_at(self, point: KillPoint) -> None:
        """One pass, killed with SIGKILL when it reaches ``point``; the test fails if it ends
        before (it cannot: the server holds it) or does not get there in ``PASS_LIMIT``."""
        self.gate.open(point.accept)
        now = self.now()
        start = self.progress(now)
        # Output to a file, not a pipe: a pass the test does not read from must not block on it.
        with tempfile.TemporaryFile("w+") as output:
            process = self.start(output)
            deadline = time.monotonic() + PASS_LIMIT
            try:
                seen = start.count(point.measure)
                while not point.reached(start, seen):
                    ended = process.poll() is not None
                    assert not ended, ("the pass ended before", point, seen, read(output))
                    assert time.monotonic() < deadline, ("not reached", point, start, seen)
                    time.sleep(POLL)
                    seen = self.count(point.measure, now)
                ended = process.poll() is not None
                assert not ended, ("the pass ended before", point, seen, read(output))
                process.kill()  # SIGKILL
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
            assert process.returncode == -signal.SIGKILL, (process.returncode, read(output))
        self.kills += 1
        self.placed[point.kind] += 1
        if self.progress(now) != start:
            self.kills_in_work += 1

    def run(self) -> bool:
        """One pass, not killed; True when it ran to its end."""
        self.gate.open(None)
        process = self.start()
        try:
            out, err = process.communicate(timeout=PASS_LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return False
        assert process.returncode == 0, (process.returncode, out, err)
        assert "Traceback" not in out + err
        self.finished.append(json.loads(out))
        return True

    def done(self) -> bool:
        return (
            due_timers(self.store, self.now()) == 0 and outbox_statuses(self.store)["pending"] == 0
        )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_tick_at_random_moments(kind: str, make_store: MakeStore) -> None:
    began = time.perf_counter()
    store = make_store(kind)
    world = busy_month(store)
    due = due_timers(store, LATER)
    assert due >= 1000
    queued = outbox_statuses(store)["pending"]

    gate = Gate()
    server = SmtpServer()
    server.handler = gate
    with server as smtp:
        env = environment(
            TSK_SMTP_HOST=smtp.host,
            TSK_SMTP_PORT=str(smtp.port),
            TSK_SMTP_TIMEOUT=str(int(2 * PASS_LIMIT)),
        )
        harness = Harness(store, smtp, gate, env, random.Random(SEED))
        while harness.kills < KILLS and not harness.done():
            point = harness.plan()
            if point is None:
                harness.run()
            else:
                harness.kill_at(point)
        for _ in range(10):
            if harness.run() and harness.done():
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
                messages.message_id(org, f"task:{task_id}:overdue", p) for p in open_tasks[task_id]
            }
        elif kind_ == "escalation":
            expected |= {messages.message_id(org, f"task:{task_id}:escalated", p) for p in CHAIRS}
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
    # A kill re-sends at most what was sent but not yet marked, and the messages in flight.
    assert duplicates <= harness.kills * (outbox.MARK_EVERY + IN_FLIGHT), duplicates

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
        "kills_by_point": dict(sorted(harness.placed.items())),
        "events": chain_ok(store).checked,
        "seconds": round(time.perf_counter() - began, 1),
    }
    print("\ncrash figures:", json.dumps(figures))
    assert harness.kills == KILLS, figures  # the work lasted for all the kills
    assert harness.kills_in_work == harness.kills, figures  # each after progress, by construction


CHAIRS = ("jessica.wahlstrom", "hanna.nyberg")

"""Mail under a slow, silent or dropping SMTP server (aiosmtpd), on SQLite and PostgreSQL: no
mail sent by two deliveries at once, none lost, timers that never wait for mail, a circuit
breaker that stops trying a server that does not answer, and a stop that stops.

Every wait here is for progress the test sees (the server's count, a row in the database), with
a generous limit that only a broken run reaches.
"""

from __future__ import annotations

import datetime as dt
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import REPO
from tests.dbfixtures import MakeStore
from tests.enginekit import Clock
from tests.smtp_server import DROP, HANG, OK, SmtpServer
from tests.test_outbox import herrljunga, rows, smtp
from tests.test_scheduler_run import TSK, _reader, wait_for
from tests.test_tick import World
from tsk_workflow import i18n
from tsk_workflow.cli import cli
from tsk_workflow.engine.service import Engine
from tsk_workflow.mail import outbox
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.scheduler import Options, Service
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Task, Timer

CHAIR = "jessica.wahlstrom"
LIMIT = 90.0
"""Seconds a test waits for progress before it fails: never reached by a working run."""
__all__ = ["herrljunga", "smtp"]  # the fixtures of test_outbox, used here too


def environ(smtp: SmtpServer, timeout: float = 30) -> dict[str, str]:
    return {
        "TSK_SMTP_HOST": smtp.host,
        "TSK_SMTP_PORT": str(smtp.port),
        "TSK_SMTP_TIMEOUT": str(timeout),
    }


def wait_until(seen: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + LIMIT
    while not (found := seen()):
        assert time.monotonic() < deadline, f"not seen in {LIMIT} s: {what}"
        time.sleep(0.02)
    return found


def queue_months(engine: Engine, *periods: str) -> list[OutboxMessage]:
    for period in periods:
        engine.open_cycle(CHAIR, "est", period)
    return [row for row in rows(engine.store) if row.status == "pending"]


def received(smtp: SmtpServer) -> Counter[str]:
    return Counter(str(m.message["Message-ID"]) for m in smtp.messages)


class Delivering(threading.Thread):
    """``outbox.deliver`` in a thread of its own, as a second process would run it."""

    def __init__(
        self, store: Store, org: Organisation, env: dict[str, str], now: dt.datetime
    ) -> None:
        super().__init__(daemon=True)
        self.args = (store, {org.municipality: org}, env, now)
        self.result: outbox.Delivery | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = outbox.deliver(*self.args, max_in_flight=1)
        except BaseException as exc:  # shown by done()
            self.error = exc

    def done(self) -> outbox.Delivery:
        self.join(LIMIT)
        assert not self.is_alive(), "the delivery did not end"
        assert self.error is None, self.error
        assert self.result is not None
        return self.result


def leases(store: Store, token: str) -> list[dt.datetime]:
    return [r.next_attempt_at for r in rows(store) if r.claim_token == token]


def token_of(store: Store) -> str:
    tokens = {r.claim_token for r in rows(store) if r.claim_token}
    assert len(tokens) == 1, tokens
    return tokens.pop()


# ------------------------------------------------------------------ no mail twice


def test_a_slow_batch_keeps_its_lease_so_an_overlapping_delivery_sends_nothing_twice(
    engine: Engine,
    store: Store,
    clock: Clock,
    herrljunga: Organisation,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "RENEW_EVERY", 0.2)
    first = queue_months(engine, "2027-03", "2027-04", "2027-05")
    assert len(first) > 30
    smtp.handler.delay = 0.15  # a slow server: the batch takes seconds on its one connection
    start = clock.now
    slow = Delivering(store, herrljunga, environ(smtp), start)
    token = wait_until(lambda: smtp.messages and token_of(store), "the first delivery sending")
    claimed_until = min(leases(store, token))
    # A second delivery whose time is past the lease the first one claimed with: without
    # renewal it would take the rows the first has not sent yet, and send them again.
    later = claimed_until + dt.timedelta(seconds=1)
    wait_until(lambda: min(leases(store, token), default=later) > later, "the lease renewed")
    engine.open_cycle(CHAIR, "est", "2027-06")
    new = [r for r in rows(store) if r.id not in {f.id for f in first}]
    second = Delivering(store, herrljunga, environ(smtp), later).done()
    assert second.sent == len(new)  # only the mail queued since
    assert second.lost == 0
    result = slow.done()
    assert (result.sent, result.lost, result.deferred) == (len(first), 0, 0)

    assert received(smtp) == Counter({r.message_id: 1 for r in rows(store)})
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(store))
    assert {r.claim_token for r in rows(store)} == {None}


def test_a_delivery_whose_lease_was_taken_over_stops_and_writes_nothing_to_those_rows(
    engine: Engine,
    store: Store,
    clock: Clock,
    herrljunga: Organisation,
    smtp: SmtpServer,
) -> None:
    queued = queue_months(engine, "2027-03", "2027-04", "2027-05")
    smtp.handler.delay = 0.15
    stalled = Delivering(store, herrljunga, environ(smtp), clock.now)
    wait_until(lambda: len(smtp.messages) >= 3, "the first delivery sending")
    # A delivery an hour later, as if the first had stalled past its lease: it takes over.
    thief = Delivering(store, herrljunga, environ(smtp), clock.now + dt.timedelta(hours=1))
    took, lost = thief.done(), stalled.done()

    assert lost.lost > 0
    assert took.sent + lost.sent == len(queued)
    arrived = received(smtp)
    assert set(arrived) == {r.message_id for r in queued}  # none lost
    # What goes twice is what a crash would send again: the messages the stalled delivery had
    # sent but not yet marked when it lost them, and the one in flight on its connection.
    assert sum(arrived.values()) - len(arrived) <= outbox.MARK_EVERY + 1
    # Each row was written once, by the delivery that held it: one attempt, no second mark.
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(store))
    assert {r.claim_token for r in rows(store)} == {None}


# ------------------------------------------------------------------ a server that does not answer


def test_a_server_dropping_the_connection_mid_message_loses_nothing(
    engine: Engine, store: Store, clock: Clock, herrljunga: Organisation, smtp: SmtpServer
) -> None:
    queued = queue_months(engine, "2027-03")
    smtp.respond(DROP, OK, DROP)  # two messages dropped after their data, before the answer
    first = outbox.deliver(store, {"herrljunga": herrljunga}, environ(smtp), clock.now)
    assert (first.sent, first.retried, first.paused) == (len(queued) - 2, 2, [])
    later = clock.now + dt.timedelta(minutes=5)
    assert outbox.deliver(store, {"herrljunga": herrljunga}, environ(smtp), later).sent == 2
    assert received(smtp) == Counter({r.message_id: 1 for r in queued})

    smtp.respond(DROP, DROP, DROP)  # three in a row: the breaker opens
    more = queue_months(engine, "2027-04")
    third = outbox.deliver(store, {"herrljunga": herrljunga}, environ(smtp), later)
    assert third.retried == outbox.BREAKER_AFTER
    assert third.deferred == len(more) - outbox.BREAKER_AFTER
    assert len(third.paused) == 1
    status = CliRunner().invoke(cli, ["--db", store.url, "--lang", "en", "mail", "status"])
    assert f"SMTP server 127.0.0.1:{smtp.port} not tried since" in status.output
    assert "3 messages in a row got no answer (" in status.output


def test_a_silent_server_stops_being_tried_while_the_timers_fire_on_time(
    engine: Engine, store: Store, clock: Clock, herrljunga: Organisation, smtp: SmtpServer
) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    queued = [r for r in rows(store) if r.status == "pending"]
    smtp.respond(then=HANG)  # never answers a message
    with i18n.speaking("en"):
        service = Service(
            {"herrljunga": engine},
            Options(interval=0.1, send=True),
            clock=clock,
            environ=environ(smtp, timeout=1),
        )
    service.start()
    try:
        wait_until(lambda: smtp.handler.hanging, "a message waiting for an answer")
        # While the courier waits for the server, the passes go on: a reminder due now fires.
        with store.reading() as session:
            reminder = session.scalars(
                select(Timer)
                .join(Task, Task.id == Timer.task_id)
                .where(Timer.kind == "reminder", Task.cycle_id == cycle.id)
                .order_by(Timer.fire_at)
            ).first()
        assert reminder is not None
        clock.now = reminder.fire_at + dt.timedelta(minutes=1)
        wait_until(lambda: fired(store, reminder.id) and smtp.handler.hanging, "the reminder fired")
        paused = wait_until(lambda: paused_servers(store), "the breaker open")
    finally:
        service.stop()
    assert paused == [f"127.0.0.1:{smtp.port}"]
    mail = [r for r in rows(store) if r.id in {q.id for q in queued}]
    tried = [r for r in mail if r.attempts]
    # Three messages in a row without an answer, then one per delivery, and no more: the rest
    # was never tried, so no attempt of theirs counts.
    assert outbox.BREAKER_AFTER <= len(tried) < len(mail)
    assert all(r.status == "pending" and r.claim_token is None for r in mail)
    assert smtp.messages == []


def fired(store: Store, timer_id: int) -> bool:
    with store.reading() as session:
        timer = session.get(Timer, timer_id)
        return timer is not None and timer.status == "fired"


def paused_servers(store: Store) -> list[str]:
    with store.reading() as session:
        return [server.server for server in outbox.paused_servers(session)]


# ------------------------------------------------------------------ a stop that stops


@pytest.mark.xdist_group("processes")
def test_sigterm_stops_tsk_run_while_a_message_hangs_and_a_restart_sends_the_rest(
    make_store: MakeStore, smtp: SmtpServer
) -> None:
    store = make_store("sqlite")
    World(store, dt.datetime.now(dt.UTC) - dt.timedelta(days=45)).init()  # cycles to open
    smtp.respond(then=HANG)
    smtp_timeout = 120  # a stop must not wait for it
    argv = ["--db", store.url, "--org", "herrljunga", "--lang", "en"]
    argv += ["run", "--interval", "0.5", "--send"]
    proc = subprocess.Popen(
        [sys.executable, "-c", TSK, *argv],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", **environ(smtp, timeout=smtp_timeout)},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stderr, lines), daemon=True).start()
    seen: list[str] = []
    try:
        wait_until(lambda: smtp.handler.hanging, "a message waiting for an answer")
        # The timer passes go on while the mail waits: two more of them.
        at = wait_for(lines, seen, "pass 2 at")
        wait_for(lines, seen, "pass 4 at")
        assert smtp.handler.hanging, at
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=LIMIT)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while not lines.empty():
        seen.append(lines.get())
    assert code == 0, "\n".join(seen)
    # Not the SMTP time-out: the grace for mail in flight, then the rest written back.
    assert took < smtp_timeout / 2, took
    assert any("mail in flight gets 5 s" in line for line in seen), seen
    assert "stopped after" in seen[-1], seen
    assert "Traceback" not in "\n".join(seen)

    waiting = [r for r in rows(store) if r.status == "pending"]
    assert waiting
    now = dt.datetime.now(dt.UTC)
    assert all(r.claim_token is None and r.next_attempt_at <= now for r in waiting)
    assert smtp.messages == []

    smtp.respond(then=OK)
    restarted = CliRunner().invoke(
        cli, ["--db", store.url, "--lang", "en", "mail", "send"], env=environ(smtp)
    )
    assert restarted.exit_code == 0, restarted.output
    assert restarted.output.startswith(f"sent {len(waiting)}, retrying 0, failed 0")
    assert received(smtp) == Counter({r.message_id: 1 for r in waiting})

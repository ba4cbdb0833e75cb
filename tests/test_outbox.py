"""The outbox end to end: engine acts queue rows in their own transaction, and ``deliver`` sends
them to a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select, update

from tests.enginekit import Clock, shared_organisation
from tests.smtp_server import SmtpServer
from tsk_workflow import audit
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.mail import outbox
from tsk_workflow.mail.digest import compose_digests
from tsk_workflow.mail.smtp import backoff
from tsk_workflow.messages import message_id
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, OutboxMessage, Task

TZ = ZoneInfo("Europe/Stockholm")
OPENED = dt.datetime(2027, 3, 1, 7, 0, tzinfo=TZ)
CLOCK_START = OPENED  # the clock fixture (conftest.py)
CHAIR = "jessica.wahlstrom"
EST_GROUP = [
    "jessica.wahlstrom",
    "hanna.nyberg",
    "erik.sundin",
    "johanna.falk",
    "tomas.berglund",
    "sofie.ahlin",
    "ida.wikstrom",
    "jonas.ek",
]
REPORTERS = ["johanna.falk", "viktor.holmberg", "ida.wikstrom", "jonas.ek", "rachel.moore"]


@pytest.fixture(scope="module")
def herrljunga() -> Organisation:
    """The organisation of the ``engine`` fixture (conftest.py)."""
    return shared_organisation("herrljunga")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def env(smtp: SmtpServer) -> dict[str, str]:
    return {
        "TSK_SMTP_HOST": smtp.host,
        "TSK_SMTP_PORT": str(smtp.port),
        "TSK_SMTP_TIMEOUT": "5",
    }


def rows(store: Store, **where: Any) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    with store.reading() as session:
        return list(session.scalars(query))


def deliver(store: Store, org: Organisation, env: dict[str, str], now: dt.datetime) -> Any:
    return outbox.deliver(store, {org.municipality: org}, env, now)


def parts(message: EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        found[part.get_content_type()] = str(part.get_content())
    return found


def to_meeting(engine: Engine, clock: Clock) -> Cycle:
    """An EST cycle moved to its cause-analysis step (a meeting): every task done by the chair."""
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    clock.now = OPENED + dt.timedelta(days=2)
    for step in ("insamling", "egna_lagesbilder", "sammanstallning"):
        for task_id in open_tasks(engine.store, step):
            reports = step == "insamling"  # the reporters' forms: nothing to report
            engine.complete_task(CHAIR, task_id, "klart", nothing_to_report=reports)
    assert open_tasks(engine.store, "orsaksanalys")
    return cycle


def open_tasks(store: Store, step: str) -> list[int]:
    query = select(Task.id).where(Task.status == "open", Task.step == step).order_by(Task.id)
    with store.reading() as session:
        return list(session.scalars(query))


# ------------------------------------------------------------------ rows in the act's transaction


def test_opening_a_cycle_queues_one_row_per_recipient_with_a_stable_message_id(
    engine: Engine, store: Store, herrljunga: Organisation
) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    opened = rows(store, template="cycle_opened")
    assert [r.recipient for r in opened] == EST_GROUP
    assigned = rows(store, template="task_assigned")
    assert [r.recipient for r in assigned] == REPORTERS
    for row in [*opened, *assigned]:
        person = herrljunga.person(row.recipient)
        assert person is not None
        assert (row.email, row.language) == (person.email, person.language)
        assert (row.status, row.attempts, row.municipality) == ("pending", 0, "herrljunga")
        assert row.next_attempt_at == row.created_at == OPENED
        assert row.cycle_id == cycle.id
        assert row.context["person"] == {"id": person.id, "name": person.name}
    assert opened[0].message_id == message_id(herrljunga, f"cycle:{cycle.id}:opened", CHAIR)
    assert len({r.message_id for r in rows(store)}) == len(rows(store))
    assert {r.language for r in assigned} == {"sv", "en"}  # rachel.moore reads English
    ida = next(r for r in assigned if r.recipient == "ida.wikstrom")
    # A report is a form: the commands answer it, each in the recipient's language.
    run, n = "tsk --org herrljunga --as ida.wikstrom task", ida.task_id
    assert ida.context["command"] == {
        "sv": f"{run} form {n} --template svar-{n}.yaml",
        "en": f"{run} form {n} --template answers-{n}.yaml",
    }
    assert ida.context["form"] == {
        "command": ida.context["command"],
        "answers": {
            "sv": f"{run} done {n} --answers svar-{n}.yaml",
            "en": f"{run} done {n} --answers answers-{n}.yaml",
        },
        "nothing": f"{run} done {n} --nothing-to-report",
    }


def test_a_failed_act_leaves_no_outbox_row(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any) -> None:
        raise RuntimeError("the disk is full")

    # Fails after the cycle, its tasks and their mail have been written in the act's transaction.
    monkeypatch.setattr(Engine, "settle", fail)
    with pytest.raises(RuntimeError, match="disk is full"):
        engine.open_cycle(CHAIR, "est", "2027-03")
    assert rows(store) == []
    with store.reading() as session:
        assert session.scalars(select(Cycle)).first() is None
    monkeypatch.undo()
    engine.open_cycle(CHAIR, "est", "2027-03")
    queued = len(rows(store))
    with pytest.raises(Refused, match="finns redan"):
        engine.open_cycle(CHAIR, "est", "2027-03")
    assert len(rows(store)) == queued


# ------------------------------------------------------------------ delivery over SMTP


def test_an_est_cycle_arrives_in_swedish_and_english_with_the_meeting_invitation(
    engine: Engine, store: Store, herrljunga: Organisation, clock: Clock, smtp: SmtpServer,
    env: dict[str, str],
) -> None:  # fmt: skip
    cycle = to_meeting(engine, clock)
    queued = rows(store)
    result = deliver(store, herrljunga, env, clock.now)
    assert (result.sent, result.retried, result.failed) == (len(queued), 0, 0)
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(store))
    received = {m.message["Message-ID"]: m for m in smtp.messages}
    assert set(received) == {r.message_id for r in queued}
    for row in queued:
        assert received[row.message_id].rcpt_tos == (row.email,)
    assert smtp.connections == 1  # one connection for the whole batch

    # A task in Swedish: what, of whom, in which cycle, by when, and how to say it is done.
    task = next(
        r for r in queued if r.template == "task_assigned" and r.recipient == "ida.wikstrom"
    )
    mail = received[task.message_id]
    assert mail.mail_from == "trygghet@herrljunga.example.org"
    # From names the municipality (the sender setting has no name of its own).
    [sender] = mail.message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Herrljunga kommun – Trygg och säker",
        "trygghet@herrljunga.example.org",
    )
    assert mail.message["To"].addresses[0].display_name == "Ida Wikström"
    assert mail.message["Subject"] == (
        "Uppgift: Månadsrapport till EST (est-2027-03) – senast onsdag 10 mars 2027"
    )
    bodies = parts(mail.message)
    assert set(bodies) == {"text/plain", "text/html"}
    # A report is a form: the mail says how to answer it, not how to close it with a note.
    run, n = "tsk --org herrljunga --as ida.wikstrom task", task.task_id
    commands = [
        f"{run} form {n} --template svar-{n}.yaml",
        f"{run} done {n} --answers svar-{n}.yaml",
        f"{run} done {n} --nothing-to-report",
    ]
    for body in (bodies["text/plain"], bodies["text/html"]):
        assert "Hej Ida Wikström!" in body
        assert "Månadsrapport till EST" in body
        assert "est-2027-03" in body
        assert "onsdag 10 mars 2027, vecka 10" in body
        assert "17:00" in body
        assert all(command in body for command in commands)
        assert "--note" not in body

    # The same task in English for the one who reads English.
    english = next(r for r in queued if r.recipient == "rachel.moore")
    bodies = parts(received[english.message_id].message)
    assert received[english.message_id].message["Subject"] == (
        "Task: Monthly report to EST (est-2027-03) – due Wednesday 10 March 2027"
    )
    assert "Wednesday 10 March 2027, week 10" in bodies["text/plain"]
    n = english.task_id
    assert f"--as rachel.moore task form {n} --template answers-{n}.yaml" in bodies["text/plain"]

    # The meeting: an invitation each, with the calendar request.
    invitations = [r for r in queued if r.template == "meeting_invitation"]
    assert [r.recipient for r in invitations] == EST_GROUP
    mail = received[invitations[1].message_id]
    assert mail.message["Subject"] == "Kallelse: EST-möte – måndag 8 mars 2027 kl. 09:00"
    bodies = parts(mail.message)
    assert set(bodies) == {"text/plain", "text/html", "text/calendar"}
    assert "Dag:         måndag 8 mars 2027, vecka 10" in bodies["text/plain"]
    assert "Tid:         09:00–11:00" in bodies["text/plain"]
    # Herrljunga's file says nowhere where EST meets: the chair will tell, not the group's name.
    assert "Plats:       Meddelas av ordföranden, Jessica Wahlström" in bodies["text/plain"]
    calendar = icalendar.Calendar.from_ical(bodies["text/calendar"])
    [event] = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"herrljunga-cycle{cycle.id}-orsaksanalys@tsk-workflow"
    assert event.decoded("DTSTART") == dt.datetime(2027, 3, 8, 9, 0, tzinfo=TZ)
    assert event.decoded("DTEND") == dt.datetime(2027, 3, 8, 11, 0, tzinfo=TZ)
    assert str(event["ORGANIZER"]) == "mailto:jessica.wahlstrom@herrljunga.example.org"
    assert str(event["LOCATION"]) == "Meddelas av ordföranden, Jessica Wahlström"
    assert [str(a) for a in [event["ATTENDEE"]]] == ["mailto:hanna.nyberg@herrljunga.example.org"]

    # Nothing is sent twice.
    assert deliver(store, herrljunga, env, clock.now + dt.timedelta(days=1)).sent == 0
    assert len(smtp.messages) == len(queued)


def test_451_is_retried_after_the_backoff_and_then_delivered(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    queued = rows(store)
    smtp.respond("451 4.3.0 Try again later")  # the first message; 250 for the rest
    result = deliver(store, herrljunga, env, OPENED)
    assert (result.sent, result.retried, result.failed) == (len(queued) - 1, 1, 0)
    [waiting] = rows(store, status="pending")
    assert waiting.message_id == queued[0].message_id
    assert (waiting.attempts, waiting.last_reply) == (1, "451 4.3.0 Try again later")
    assert waiting.next_attempt_at == OPENED + backoff(1)
    assert deliver(store, herrljunga, env, OPENED + dt.timedelta(seconds=30)).sent == 0
    assert deliver(store, herrljunga, env, OPENED + backoff(1)).sent == 1
    [again] = rows(store, message_id=waiting.message_id)
    assert (again.status, again.attempts, again.last_reply) == ("sent", 2, "250 OK")
    ids = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert ids == Counter({r.message_id: 1 for r in queued})


def test_550_is_marked_failed_with_the_reply_kept(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    smtp.respond("550 5.1.1 No such user", stage="rcpt")
    result = deliver(store, herrljunga, env, OPENED)
    assert result.failed == 1
    assert result.replies == ["jessica.wahlstrom@herrljunga.example.org: 550 5.1.1 No such user"]
    [failed] = rows(store, status="failed")
    assert (failed.recipient, failed.attempts) == (CHAIR, 1)
    assert failed.last_reply == "550 5.1.1 No such user"
    with store.reading() as session:
        counts = outbox.status_counts(session, "herrljunga")
        assert [f.id for f in outbox.failures(session)] == [failed.id]
    assert counts["failed"] == 1
    mails = [r for r in rows(store) if r.template != "mail_failed"]
    assert counts["sent"] == len(mails) - 1
    # The chair's own mail failed: the deputy hears of it, not the chair.
    assert [n.recipient for n in rows(store, template="mail_failed")] == ["hanna.nyberg"]
    assert deliver(store, herrljunga, env, OPENED + dt.timedelta(days=1)).sent == 0
    with store.transaction() as session:
        assert outbox.retry(session, OPENED, failed.id) == 1
    assert deliver(store, herrljunga, env, OPENED).sent == 1
    assert rows(store, status="failed") == []


def test_a_mail_that_fails_for_good_is_audited_and_the_chair_hears_of_it_in_the_digest(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    queued = rows(store)
    deputy = herrljunga.group("est").deputy  # type: ignore[union-attr]
    lost = next(r for r in queued if r.task_id and r.recipient not in (CHAIR, deputy))
    before = queued.index(lost)  # sent in order: the mails before it are accepted
    smtp.respond(*["250 OK"] * before, "550 5.1.1 No such user", stage="rcpt")
    assert deliver(store, herrljunga, env, OPENED).failed == 1
    with store.reading() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "mail.failed"))
        payload = session.get(AuditPayload, event.seq)
    assert (event.actor, event.subject, event.cycle_id) == (
        "tsk",
        f"task:{lost.task_id}",
        lost.cycle_id,
    )
    assert payload is not None
    assert payload.payload == {
        "mail": lost.id,
        "message_id": lost.message_id,
        "template": lost.template,
        "to": lost.recipient,
        "attempts": 1,
        "reply": "550 5.1.1 No such user",
    }
    with store.reading() as session:
        assert audit.verify(session).ok
    # The chair and the deputy of the EST group hear of it in their next digest, whatever
    # they chose for their own mail.
    notices = rows(store, template="mail_failed")
    assert {(n.recipient, n.status) for n in notices} == {(CHAIR, "digest"), (deputy, "digest")}
    assert compose_digests(store, {"herrljunga": herrljunga}, OPENED + dt.timedelta(days=1)) == 2
    digest = next(r for r in rows(store, template="digest") if r.recipient == CHAIR)
    text = outbox.rendered(digest, herrljunga, {}).text
    person = herrljunga.person(lost.recipient)
    assert person is not None
    assert f"{person.name} kunde inte levereras (550 5.1.1 No such user)" in text


def test_a_server_that_is_down_is_tried_three_times_then_once_per_delivery_until_it_answers(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    queued = rows(store)
    assert len(queued) > outbox.BREAKER_AFTER + 1
    smtp.stop()
    down = deliver(store, herrljunga, env, OPENED)
    tried = outbox.BREAKER_AFTER
    assert (down.sent, down.retried, down.failed) == (0, tried, 0)
    assert down.deferred == len(queued) - tried  # not tried: no attempt counted
    assert down.paused == [f"127.0.0.1:{smtp.port}: {rows(store)[0].last_reply}"]
    assert Counter(r.attempts for r in rows(store)) == {1: tried, 0: len(queued) - tried}
    assert all(r.status == "pending" and r.claim_token is None for r in rows(store))
    waiting = [r for r in rows(store) if r.attempts == 0]
    assert {r.next_attempt_at for r in waiting} == {OPENED}  # due again at once
    with store.reading() as session:
        [paused] = outbox.paused_servers(session)
    assert (paused.server, paused.failures) == (f"127.0.0.1:{smtp.port}", tried)

    probe = deliver(store, herrljunga, env, OPENED + dt.timedelta(seconds=10))
    assert (probe.retried, probe.deferred, len(probe.paused)) == (1, 0, 1)  # one message only

    smtp.start()
    up = deliver(store, herrljunga, env, OPENED + dt.timedelta(seconds=59))
    assert (up.sent, up.retried, up.paused) == (len(queued) - tried - 1, 0, [])
    with store.reading() as session:
        assert outbox.paused_servers(session) == []
    assert deliver(store, herrljunga, env, OPENED + backoff(1)).sent == tried
    last = deliver(store, herrljunga, env, OPENED + dt.timedelta(seconds=10) + backoff(1))
    assert last.sent == 1
    assert Counter(m.message["Message-ID"] for m in smtp.messages) == Counter(
        {r.message_id: 1 for r in queued}
    )
    assert all(r.status == "sent" for r in rows(store))


def test_a_crash_between_sending_and_marking_sends_again_with_the_same_message_id(
    engine: Engine,
    store: Store,
    herrljunga: Organisation,
    smtp: SmtpServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    queued = rows(store)
    monkeypatch.setattr(outbox, "MARK_SECONDS", 3600.0)  # one mark, after the last message
    mark = outbox._mark
    crashes = []

    def crash_once(*args: Any) -> set[int]:
        if not crashes:
            crashes.append(1)
            raise SystemExit("killed after sending")
        return mark(*args)

    monkeypatch.setattr(outbox, "_mark", crash_once)
    monkeypatch.setattr(outbox._Marks, "release", lambda self: None)  # a kill writes nothing
    with pytest.raises(SystemExit):
        deliver(store, herrljunga, env, OPENED)
    assert len(smtp.messages) == len(queued)  # sent, but never marked
    assert all(r.status == "pending" and r.attempts == 0 for r in rows(store))
    assert deliver(store, herrljunga, env, OPENED + outbox.LEASE / 2).sent == 0  # still leased
    # The lease runs from when the killed delivery claimed (its clock: OPENED and the moments it
    # had run), so a minute later it has surely run out.
    expired = OPENED + outbox.LEASE + dt.timedelta(minutes=1)
    assert deliver(store, herrljunga, env, expired).sent == len(queued)
    arrived = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert arrived == Counter({r.message_id: 2 for r in queued})
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(store))
    assert deliver(store, herrljunga, env, expired + outbox.LEASE).sent == 0


def test_a_crash_while_sending_resends_only_what_was_not_yet_marked(
    engine: Engine,
    store: Store,
    herrljunga: Organisation,
    smtp: SmtpServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for period in ("2027-03", "2027-04", "2027-05", "2027-06", "2027-08"):
        engine.open_cycle(CHAIR, "est", period)
    queued = rows(store)
    assert len(queued) > 3 * outbox.MARK_EVERY
    monkeypatch.setattr(outbox, "MARK_SECONDS", 3600.0)  # marks by count only: deterministic
    mark = outbox._mark
    marks: list[int] = []

    def crash_at_third_mark(*args: Any) -> set[int]:
        marks.append(len(args[2]))
        if len(marks) == 3:
            raise SystemExit("killed while sending")
        return mark(*args)

    monkeypatch.setattr(outbox, "_mark", crash_at_third_mark)
    monkeypatch.setattr(outbox._Marks, "release", lambda self: None)  # a kill writes nothing
    with pytest.raises(SystemExit):
        deliver(store, herrljunga, env, OPENED)
    sent_before = 3 * outbox.MARK_EVERY
    assert marks == [outbox.MARK_EVERY] * 3
    assert len(smtp.messages) == sent_before  # one connection: the crash stopped it there
    assert Counter(r.status for r in rows(store)) == {
        "sent": 2 * outbox.MARK_EVERY,
        "pending": len(queued) - 2 * outbox.MARK_EVERY,
    }

    monkeypatch.setattr(outbox, "_mark", mark)
    again = deliver(store, herrljunga, env, OPENED + outbox.LEASE + dt.timedelta(minutes=1))
    assert again.sent == len(queued) - 2 * outbox.MARK_EVERY
    arrived = Counter(m.message["Message-ID"] for m in smtp.messages)
    assert set(arrived) == {r.message_id for r in queued}
    assert sum(arrived.values()) - len(arrived) == outbox.MARK_EVERY  # only the unmarked twice
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(store))


def test_a_message_that_cannot_be_rendered_fails_alone(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    first = rows(store)[0]
    broken = {k: v for k, v in first.context.items() if k != "cycle"}
    with store.transaction() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == first.id).values(context=broken)
        )
    queued = rows(store)
    result = deliver(store, herrljunga, env, OPENED)
    assert (result.sent, result.failed) == (len(queued) - 1, 1)
    [failed] = rows(store, status="failed")
    assert failed.id == first.id
    assert failed.last_reply is not None
    assert failed.last_reply.startswith(  # said in the language spoken, Swedish by default
        "kan inte skapas: e-postmallen 'cycle_opened.subject.txt'"
    )


def test_a_users_text_with_line_breaks_and_markup_cannot_add_headers(
    engine: Engine, store: Store, herrljunga: Organisation, smtp: SmtpServer, env: dict[str, str]
) -> None:
    evil = "Stängd\r\nBcc: thief@evil.example\r\n\r\n<script>alert('x')</script> & <b>klart</b>"
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    Decisions(engine).propose(
        "hanna.nyberg",
        cycle.ref,
        "Belysning <i>nu</i>\r\nBcc: thief@evil.example\nX-Evil: 1",
        cost=350_000,
    )
    engine.close_cycle(CHAIR, cycle.ref, evil, force=True)
    deliver(store, herrljunga, env, OPENED)
    assert all(r.status == "sent" for r in rows(store))
    for received in smtp.messages:
        headers = {name.lower() for name in received.message.keys()}  # noqa: SIM118
        assert headers == {
            "message-id",
            "date",
            "from",
            "to",
            "subject",
            "content-type",
            "mime-version",
        }
        assert len(received.rcpt_tos) == 1
        assert "thief" not in received.rcpt_tos[0]
    closed = next(r for r in rows(store, template="cycle_closed") if r.recipient == CHAIR)
    mail = next(m for m in smtp.messages if m.message["Message-ID"] == closed.message_id)
    bodies = parts(mail.message)
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;klart&lt;/b&gt;"
        in bodies["text/html"]
    )
    assert "<script>" not in bodies["text/html"]
    assert "Anteckning:  Stängd\nBcc: thief@evil.example" in bodies["text/plain"]  # just text
    assert "<script>alert('x')</script>" in bodies["text/plain"]
    routed = rows(store, template="decision_routed")[0]
    mail = next(m for m in smtp.messages if m.message["Message-ID"] == routed.message_id)
    subject = str(mail.message["Subject"])
    assert subject == "Beslutsärende till KS: Belysning <i>nu</i> Bcc: thief@evil.example X-Evil: 1"
    assert mail.message["X-Evil"] is None
    assert "Belysning &lt;i&gt;nu&lt;/i&gt;" in parts(mail.message)["text/html"]

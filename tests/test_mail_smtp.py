"""Sending over real SMTP: an aiosmtpd server on 127.0.0.1 (tests/smtp_server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from aiosmtpd.smtp import AuthResult

from tests.smtp_server import DROP, HANG, SmtpServer
from tsk_workflow.mail.ics import meeting_invitation
from tsk_workflow.mail.message import OutgoingMail, make_message_id
from tsk_workflow.mail.render import render
from tsk_workflow.mail.smtp import (
    SendResult,
    SmtpSettings,
    send_batch,
    send_batch_sync,
)

SENDER = "TSK Herrljunga <tsk@herrljunga.se>"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(host=smtp_server.host, port=smtp_server.port, sender=SENDER, timeout=5.0)


def outgoing(n: int = 0, **changes: Any) -> OutgoingMail:
    mail = OutgoingMail(
        message_id=make_message_id(f"test/{n}", "herrljunga.se"),
        sender=SENDER,
        recipient=f"person{n}@herrljunga.se",
        recipient_name="Åsa Öberg",
        subject="Uppgift: Månadsrapport till EST – senast fredag 12 mars 2027",
        text="Hej Åsa!\n\nDin uppgift: lägesbild för mars.\n",
        html="<p>Hej Åsa!</p><p>Din uppgift: lägesbild för mars.</p>",
    )
    return replace(mail, **changes)


def statuses(results: list[SendResult]) -> list[str]:
    return [result.status for result in results]


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        found[part.get_content_type()] = part
    return found


def test_a_mail_arrives_with_envelope_subject_parts_and_message_id(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    mail = outgoing()
    [result] = send_batch_sync(smtp_settings, [mail])
    assert result == SendResult(mail.message_id, "sent", "250 OK")
    [received] = smtp_server.messages
    assert received.mail_from == "tsk@herrljunga.se"
    assert received.rcpt_tos == ("person0@herrljunga.se",)
    message = received.message
    assert message["Subject"] == mail.subject
    assert message["Message-ID"] == mail.message_id
    assert message["To"].addresses[0].display_name == "Åsa Öberg"
    assert message["From"].addresses[0].display_name == "TSK Herrljunga"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert bodies["text/plain"].get_content() == mail.text
    assert "<p>Hej Åsa!</p>" in bodies["text/html"].get_content()
    assert "text/calendar" not in bodies


def test_a_meeting_invitation_arrives_as_a_calendar_request(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    start = datetime(2027, 3, 16, 13, 0, tzinfo=UTC)
    ics = meeting_invitation(
        "est-2027-03-meeting@herrljunga.se",
        "EST-möte mars",
        start,
        start + timedelta(hours=2),
        "Kommunhuset, sal Ljungen",
        "tsk@herrljunga.se",
        ["person0@herrljunga.se"],
        "Dagordning: lägesbild, orsaksanalys, åtgärdsplan",
    )
    assert statuses(send_batch_sync(smtp_settings, [outgoing(ics=ics)])) == ["sent"]
    calendar_part = parts(smtp_server.messages[0].message)["text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(calendar_part.get_content())
    [event] = calendar.walk("VEVENT")
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == "est-2027-03-meeting@herrljunga.se"
    assert event.decoded("DTSTART") == start
    assert str(event["SUMMARY"]) == "EST-möte mars"


def test_451_is_temporary_and_the_retry_is_sent(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.respond("451 4.3.0 Try again later")
    [first] = send_batch_sync(smtp_settings, [outgoing()])
    assert (first.status, first.reply) == ("temporary", "451 4.3.0 Try again later")
    assert smtp_server.messages == []
    [retry] = send_batch_sync(smtp_settings, [outgoing()])
    assert retry.status == "sent"
    assert len(smtp_server.messages) == 1


def test_550_is_permanent_with_the_reply_kept(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.respond(then="550 5.7.1 Message rejected as spam")
    results = send_batch_sync(smtp_settings, [outgoing(0), outgoing(1)])
    assert statuses(results) == ["permanent", "permanent"]
    assert results[0].reply == "550 5.7.1 Message rejected as spam"


@pytest.mark.parametrize(
    ("reply", "status"),
    [("550 5.1.1 No such user", "permanent"), ("450 4.2.1 Mailbox busy", "temporary")],
)
def test_a_refused_recipient_is_classified_by_its_code(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings, reply: str, status: str
) -> None:
    smtp_server.respond(reply, stage="rcpt")
    results = send_batch_sync(smtp_settings, [outgoing(0), outgoing(1)])
    assert [(r.status, r.reply) for r in results] == [(status, reply), ("sent", "250 OK")]


def test_server_down_is_temporary_then_up_is_sent(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.stop()
    down = send_batch_sync(smtp_settings, [outgoing(0), outgoing(1)])
    assert statuses(down) == ["temporary", "temporary"]
    assert down[0].reply.startswith("Error connecting to 127.0.0.1")
    smtp_server.start()
    assert statuses(send_batch_sync(smtp_settings, [outgoing(0), outgoing(1)])) == ["sent"] * 2
    assert len(smtp_server.messages) == 2


def test_a_dropped_connection_fails_one_message_and_the_next_reconnects(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.respond("250 OK", DROP)
    results = send_batch_sync(smtp_settings, [outgoing(n) for n in range(5)])
    assert statuses(results) == ["sent", "temporary", "sent", "sent", "sent"]
    assert smtp_server.connections == 2
    assert len(smtp_server.messages) == 4


def test_a_time_out_is_temporary_and_the_next_message_reconnects(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    smtp_server.respond(HANG)
    fast = replace(smtp_settings, timeout=0.3)
    results = send_batch_sync(fast, [outgoing(0), outgoing(1)])
    assert statuses(results) == ["temporary", "sent"]
    assert "timed out" in results[0].reply.lower()


def test_a_batch_of_50_goes_over_one_connection_in_order(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    mails = [outgoing(n) for n in range(50)]
    results = send_batch_sync(smtp_settings, mails)
    assert [r.message_id for r in results] == [m.message_id for m in mails]
    assert statuses(results) == ["sent"] * 50
    assert smtp_server.connections == 1
    assert [r.message["Message-ID"] for r in smtp_server.messages] == [m.message_id for m in mails]


def test_max_in_flight_bounds_the_connections(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    mails = [outgoing(n) for n in range(30)]
    results = asyncio.run(send_batch(smtp_settings, mails, max_in_flight=2, per_connection=10))
    assert [r.message_id for r in results] == [m.message_id for m in mails]
    assert statuses(results) == ["sent"] * 30
    assert smtp_server.connections == 2


def test_each_result_is_reported_as_soon_as_it_is_known(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    mails = [outgoing(n) for n in range(30)]
    reported: list[tuple[SendResult, int]] = []

    def on_result(result: SendResult) -> None:
        reported.append((result, len(smtp_server.messages)))

    results = asyncio.run(
        send_batch(smtp_settings, mails, max_in_flight=3, per_connection=10, on_result=on_result)
    )
    assert sorted(r.message_id for r, _ in reported) == sorted(r.message_id for r in results)
    assert {r for r, _ in reported} == set(results)
    # Reported while the batch was still going: the first report came long before the last mail.
    assert reported[0][1] < len(mails) // 2
    for share in (results[0:10], results[10:20], results[20:30]):
        in_order = [r for r, _ in reported if r in share]
        assert in_order == share  # each connection reports in the order it sends


def test_a_malformed_address_is_permanent_and_the_batch_goes_on(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    results = send_batch_sync(smtp_settings, [outgoing(0, recipient="nobody"), outgoing(1)])
    assert statuses(results) == ["permanent", "sent"]
    assert "nobody" in results[0].reply


def test_a_non_ascii_address_needs_smtputf8(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    mail = outgoing(recipient="åsa.öberg@herrljunga.se")
    assert statuses(send_batch_sync(smtp_settings, [mail])) == ["sent"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("åsa.öberg@herrljunga.se",)
    # Its headers are UTF-8 (RFC 6532), which Python's parser of bytes does not decode.
    headers = message_from_string(received.raw.decode(), policy=policy.default)
    assert str(headers["To"]) == "Åsa Öberg <åsa.öberg@herrljunga.se>"
    with SmtpServer(enable_SMTPUTF8=False) as plain:
        [refused] = send_batch_sync(replace(smtp_settings, port=plain.port), [mail])
    assert refused.status == "permanent"
    assert "SMTPUTF8" in refused.reply


def test_an_empty_batch_sends_nothing(smtp_settings: SmtpSettings) -> None:
    assert send_batch_sync(smtp_settings, []) == []


def test_max_in_flight_must_be_positive(smtp_settings: SmtpSettings) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        send_batch_sync(smtp_settings, [outgoing()], max_in_flight=0)


def test_injected_headers_and_markup_do_not_get_through(
    smtp_server: SmtpServer, smtp_settings: SmtpSettings
) -> None:
    evil = "Rapport\r\nBcc: thief@evil.example\r\n\r\n<script>alert('x')</script>"
    rendered = render("task_assigned", "sv", _task_context(evil))
    mail = outgoing(
        recipient_name="Anna\r\nBcc: thief@evil.example",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )
    assert statuses(send_batch_sync(smtp_settings, [mail])) == ["sent"]
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("person0@herrljunga.se",)
    assert received.message["Bcc"] is None
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
    assert "\n" not in received.message["Subject"]
    html = parts(received.message)["text/html"].get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_login_with_user_and_password() -> None:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = (auth.login, auth.password) == (b"tsk", b"hemligt")
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    with SmtpServer(authenticator=authenticate, auth_require_tls=False) as server:
        settings = SmtpSettings(
            host=server.host, port=server.port, user="tsk", password="hemligt", sender=SENDER
        )
        assert statuses(send_batch_sync(settings, [outgoing()])) == ["sent"]
        wrong = replace(settings, password="fel")
        [refused] = send_batch_sync(wrong, [outgoing()])
        assert refused.status == "temporary"  # fix the password and the mail goes
        assert refused.reply.startswith("535")


def _task_context(title: str) -> dict[str, Any]:
    return {
        "person": {"name": "Anna Berg"},
        "municipality": {"name": "Herrljunga kommun"},
        "task": {
            "id": 42,
            "key": "report",
            "title": title,
            "description": "",
            "role": "Samordnare",
            "due": datetime(2027, 3, 12, 16, 0, tzinfo=UTC),
        },
        "cycle": {"id": "est-2027-03", "title": "EST mars 2027", "period": "", "subject": ""},
        "process": {"title": "EST"},
        "command": 'tsk --org herrljunga --as anna.berg task done 42 --note "..."',
    }

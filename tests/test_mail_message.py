"""Building the MIME message: headers safe from injection, stable Message-IDs, the parts."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsk_workflow.mail.message import OutgoingMail, build_email, header_safe, make_message_id

MAIL = OutgoingMail(
    message_id="<abc123@herrljunga.se>",
    sender="TSK Herrljunga <tsk@herrljunga.se>",
    recipient="anna.berg@herrljunga.se",
    recipient_name="Anna Berg",
    subject="Uppgift: Månadsrapport till EST – senast fredag 12 mars 2027",
    text="Hej Anna!\n",
    html="<p>Hej Anna!</p>\n",
)


def reparsed(message: EmailMessage) -> EmailMessage:
    """The message as a receiver sees it: serialised to bytes and parsed again."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_header_safe_puts_text_on_one_line() -> None:
    assert header_safe("Rapport\r\nBcc: x@y") == "Rapport Bcc: x@y"
    assert header_safe(" a\tb\x00c\u2028d\x85e ") == "a b c d e"
    assert header_safe("Åtgärdsplan för Ödegärdet") == "Åtgärdsplan för Ödegärdet"


@given(st.text())
def test_header_safe_leaves_no_control_characters(text: str) -> None:
    safe = header_safe(text)
    assert not any(unicodedata.category(ch) == "Cc" for ch in safe)
    assert "\u2028" not in safe
    assert "\u2029" not in safe
    assert header_safe(safe) == safe


def test_message_ids_are_stable_per_key() -> None:
    first = make_message_id("outbox:17", "herrljunga.se")
    assert first == make_message_id("outbox:17", "herrljunga.se")
    assert first != make_message_id("outbox:18", "herrljunga.se")
    assert re.fullmatch(r"<[0-9a-f]{32}@herrljunga\.se>", first)


@pytest.mark.parametrize("domain", ["", "herr ljunga.se", "x.se>\r\nBcc: y", "-bad.se"])
def test_message_id_refuses_a_bad_domain(domain: str) -> None:
    with pytest.raises(ValueError, match="not a domain"):
        make_message_id("key", domain)


def test_the_headers() -> None:
    date = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
    message = reparsed(build_email(MAIL, date=date))
    assert message["Message-ID"] == "<abc123@herrljunga.se>"
    assert message["Date"].datetime == date
    assert message["Subject"] == MAIL.subject
    assert str(message["From"]) == "TSK Herrljunga <tsk@herrljunga.se>"
    assert str(message["To"]) == "Anna Berg <anna.berg@herrljunga.se>"


def test_non_ascii_headers_are_encoded_on_the_wire() -> None:
    wire = build_email(
        OutgoingMail(**{**MAIL.__dict__, "recipient_name": "Örjan Åkesson"})
    ).as_bytes()
    assert wire.isascii()
    assert reparsed(build_email(MAIL))["Subject"] == MAIL.subject


def test_text_and_html_as_alternatives() -> None:
    message = reparsed(build_email(MAIL))
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]


def test_a_calendar_invitation_is_a_third_alternative_with_method_request() -> None:
    ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    message = reparsed(build_email(OutgoingMail(**{**MAIL.__dict__, "ics": ics})))
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    assert parts[2].get_param("method") == "REQUEST"
    assert parts[2].get_content_charset() == "utf-8"
    assert "METHOD:REQUEST" in parts[2].get_content()


def test_a_line_break_in_the_subject_or_a_name_adds_no_header() -> None:
    mail = OutgoingMail(
        **{
            **MAIL.__dict__,
            "subject": "Rapport\r\nBcc: thief@evil.example",
            "recipient_name": "Anna\r\nCc: thief@evil.example",
            "sender": "TSK\r\nBcc: thief@evil.example <tsk@herrljunga.se>",
        }
    )
    message = reparsed(build_email(mail))
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert sorted(message.keys()) == sorted(  # noqa: SIM118
        ["Message-ID", "Date", "From", "To", "Subject", "MIME-Version", "Content-Type"]
    )
    assert message["Subject"] == "Rapport Bcc: thief@evil.example"
    assert [a.addr_spec for a in message["To"].addresses] == ["anna.berg@herrljunga.se"]


@pytest.mark.parametrize(
    "recipient", ["nobody", "a@b@c.se", "anna@x.se, thief@evil.example", "anna@x.se>\r\nBcc: y"]
)
def test_a_malformed_recipient_is_refused(recipient: str) -> None:
    with pytest.raises(ValueError, match="not a mail address"):
        build_email(OutgoingMail(**{**MAIL.__dict__, "recipient": recipient}))

"""Building the MIME message: headers safe from injection, stable Message-IDs, the parts, and
the bytes as sent (``mail_bytes``): folded and encoded headers, 7-bit bodies, exact text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsk_workflow import i18n
from tsk_workflow.mail.ics import meeting_invitation
from tsk_workflow.mail.message import (
    OutgoingMail,
    build_email,
    header_safe,
    mail_bytes,
    make_message_id,
)

DATE = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
START = datetime(2027, 3, 16, 13, 0, tzinfo=UTC)
MAIL = OutgoingMail(
    message_id="<abc123@herrljunga.se>",
    sender="TSK Herrljunga <tsk@herrljunga.se>",
    recipient="anna.berg@herrljunga.se",
    recipient_name="Anna Berg",
    subject="Uppgift: Månadsrapport till EST – senast fredag 12 mars 2027",
    text="Hej Anna!\n",
    html="<p>Hej Anna!</p>\n",
)
SWEDISH = replace(
    MAIL,
    recipient="asa.oberg@herrljunga.se",
    recipient_name="Åsa Öberg",
    text="Hej Åsa!\n\nDin uppgift: lägesbild för mars.\n",
    html="<p>Hej Åsa!</p><p>Din uppgift: lägesbild för mars.</p>",
)
INVITATION = meeting_invitation(
    "est-2027-03-meeting@herrljunga.se",
    "EST-möte mars: lägesbild och åtgärdsplan",
    START,
    START + timedelta(hours=2),
    "Kommunhuset, sal Ljungen",
    "tsk@herrljunga.se",
    ["asa.oberg@herrljunga.se"],
    "Dagordning: lägesbild, orsaksanalys, åtgärdsplan. " * 4,
    stamp=DATE,
    organizer_name="Trygg och säker kommun",
)
VARIED = {
    "swedish": SWEDISH,
    "invitation": replace(SWEDISH, ics=INVITATION),
    "ascii and short": replace(MAIL, subject="Rapport", text="Hej\n"),
    "long ascii subject": replace(MAIL, subject="Rapport " * 30),
    "long swedish name": replace(SWEDISH, recipient_name="Åsa-Märta Öberg-Ärlig " * 5),
    "name with specials": replace(
        MAIL, recipient_name='Berg, Anna "Annie" (EST)', sender='"Herrljunga, TSK" <t@x.se>'
    ),
    "no names": replace(MAIL, recipient_name="", sender="tsk@herrljunga.se"),
    "line ends and dots": replace(
        MAIL, text="a\r\nb  \r\n.\r\n..x\rFrom here\n\n\tend", html="x = y =3D\n" * 3
    ),
    "long lines": replace(MAIL, text="Rad med text, å. " * 200, html="<p>Rad.</p>" * 300),
    "empty bodies": replace(MAIL, text="", html=""),
    "cyrillic": replace(MAIL, subject="Отчёт за март", text="Привет, мир!\n" * 20),
    "control characters": replace(
        MAIL,
        subject="Rapport\r\nBcc: thief@evil.example",
        recipient_name="Anna\r\nCc: thief@evil.example",
        text="nul\x00 bell\x07 form\x0c feed",
    ),
}
HEADERS = ["Message-ID", "Date", "From", "To", "Subject", "MIME-Version", "Content-Type"]


def reparsed(mail: OutgoingMail, date: datetime | None = None) -> EmailMessage:
    """The message as a receiver sees it: the bytes as sent, parsed again."""
    parsed = message_from_bytes(mail_bytes(mail, date=date), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def display_names(raw: bytes) -> list[list[tuple[str, str]]]:
    """From and To decoded as RFC 2047 says (the email package's address parser puts a space
    between two encoded words of a name, where RFC 2047 6.2 says to drop the white space)."""
    headers = message_from_string(raw.decode(), policy=policy.compat32)
    found = []
    for field in ("From", "To"):
        value = "".join(str(headers[field]).splitlines())
        found.append([(str(make_header(decode_header(n))), a) for n, a in getaddresses([value])])
    return found


def lines_of(text: str) -> str:
    """A body as it arrives: each line ended by one line end (CR, LF or CRLF before), and an
    empty body one empty line."""
    return "\n".join(line.decode() for line in text.encode().splitlines()) + "\n"


def spaced(name: str) -> str:
    return " ".join(name.split())


def check_arrives_exactly(mail: OutgoingMail, raw: bytes) -> None:
    """No defects; the subject as ``header_safe`` made it, and the names but for runs of white
    space (one space in a phrase, RFC 5322 3.2.2); the bodies verbatim but for line ends (CRLF
    on the wire, RFC 2045 6.8)."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    assert list(message.keys()) == HEADERS  # noqa: SIM118
    assert message["Subject"] == header_safe(mail.subject)
    [[(sender, _)], [(recipient, to)]] = display_names(raw)
    assert spaced(sender) == spaced(parseaddr(header_safe(mail.sender))[0])
    assert (spaced(recipient), to) == (spaced(header_safe(mail.recipient_name)), mail.recipient)
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts][:2] == ["text/plain", "text/html"]
    for part, text in zip(parts, [mail.text, mail.html], strict=False):
        assert isinstance(part, EmailMessage)
        assert not part.defects
        assert part.get_content().replace("\r\n", "\n") == lines_of(text)


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
    with pytest.raises(ValueError, match="ingen domän för ett Message-ID"):
        make_message_id("key", domain)


def test_a_non_ascii_message_id_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        mail_bytes(replace(MAIL, message_id="<åäö@herrljunga.se>"))


def test_the_headers() -> None:
    message = reparsed(MAIL, DATE)
    assert message["Message-ID"] == "<abc123@herrljunga.se>"
    assert message["Date"].datetime == DATE
    assert message["Subject"] == MAIL.subject
    assert str(message["From"]) == "TSK Herrljunga <tsk@herrljunga.se>"
    assert str(message["To"]) == "Anna Berg <anna.berg@herrljunga.se>"


def test_swedish_headers_are_encoded_words() -> None:
    head = mail_bytes(SWEDISH, date=DATE).split(b"\r\n\r\n")[0].decode()
    assert "Åsa" not in head
    assert "Månad" not in head
    assert re.search(r"\nTo: =\?utf-8\?[bq]\?\S+\?= <asa.oberg@herrljunga.se>\r", head)
    assert re.search(r"\r\nSubject: .*=\?utf-8\?[bq]\?", head)
    assert reparsed(SWEDISH)["Subject"] == SWEDISH.subject


def test_text_and_html_as_alternatives() -> None:
    message = reparsed(MAIL)
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]


def test_a_calendar_invitation_is_a_third_alternative_with_method_request() -> None:
    message = reparsed(VARIED["invitation"])
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar = parts[2]
    assert isinstance(calendar, EmailMessage)
    assert calendar["Content-Type"] == 'text/calendar; charset="utf-8"; method="REQUEST"'
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_content() == INVITATION


@pytest.mark.parametrize("mail", VARIED.values(), ids=VARIED.keys())
def test_is_ascii_with_crlf_lines_of_at_most_78(mail: OutgoingMail) -> None:
    """No server needs 8BITMIME or SMTPUTF8, and every line is as short as RFC 5322 2.1.1 asks."""
    wire = mail_bytes(mail, date=DATE)
    assert wire.isascii()
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert b"\r" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78


@pytest.mark.parametrize("mail", VARIED.values(), ids=VARIED.keys())
def test_arrives_exactly(mail: OutgoingMail) -> None:
    check_arrives_exactly(mail, mail_bytes(mail, date=DATE))


words = st.text(
    st.sampled_from("abcxyzABCÅÄÖåäöé –-,.:;\"'()<>@[]\\=?_\t\r\n\x00\u2028"), max_size=120
)


@settings(max_examples=200, deadline=None)
@given(name=words, subject=words, text=words, html=words)
def test_any_text_arrives_exactly(name: str, subject: str, text: str, html: str) -> None:
    mail = replace(SWEDISH, recipient_name=name, subject=subject, text=text, html=html)
    wire = mail_bytes(mail, date=DATE)
    check_arrives_exactly(mail, wire)
    assert wire.isascii()
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998  # RFC 5322 2.1.1's MUST


def test_a_non_ascii_address_keeps_the_headers_in_utf8() -> None:
    """Such an address has no ASCII form; the message needs SMTPUTF8 for its envelope anyway."""
    mail = replace(SWEDISH, recipient="åsa@herrljunga.se")
    wire = mail_bytes(mail, date=DATE)
    assert "To: Åsa Öberg <åsa@herrljunga.se>\r\n".encode() in wire
    check_arrives_exactly(mail, wire)


def test_a_line_break_in_the_subject_or_a_name_adds_no_header() -> None:
    mail = OutgoingMail(
        **{
            **MAIL.__dict__,
            "subject": "Rapport\r\nBcc: thief@evil.example",
            "recipient_name": "Anna\r\nCc: thief@evil.example",
            "sender": "TSK\r\nBcc: thief@evil.example <tsk@herrljunga.se>",
        }
    )
    message = reparsed(mail)
    assert message["Bcc"] is None
    assert message["Cc"] is None
    assert list(message.keys()) == HEADERS  # noqa: SIM118
    assert message["Subject"] == "Rapport Bcc: thief@evil.example"
    assert [a.addr_spec for a in message["To"].addresses] == ["anna.berg@herrljunga.se"]


@pytest.mark.parametrize(
    "recipient", ["nobody", "a@b@c.se", "anna@x.se, thief@evil.example", "anna@x.se>\r\nBcc: y"]
)
def test_a_malformed_recipient_is_refused(recipient: str) -> None:
    with pytest.raises(ValueError, match="inte en e-postadress"):
        build_email(OutgoingMail(**{**MAIL.__dict__, "recipient": recipient}))
    with i18n.speaking("en"), pytest.raises(ValueError, match="not a mail address"):
        build_email(OutgoingMail(**{**MAIL.__dict__, "recipient": recipient}))

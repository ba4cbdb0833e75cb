"""The fast wire builder against the email package: both must parse back to the same message.

``mail_bytes`` composes the bytes itself (tsk_workflow/mail/wire.py); ``build_email`` builds an
``EmailMessage`` that aiosmtplib flattened as it did before. A receiver must not be able to tell
them apart: the same headers (decoded), the same parts with the same types, parameters and
decoded content. Only the boundary and the transfer encodings may differ.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import given, settings
from hypothesis import strategies as st

from tsk_workflow.mail.ics import meeting_invitation
from tsk_workflow.mail.message import OutgoingMail, build_email, header_safe
from tsk_workflow.mail.wire import mail_bytes

DATE = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)
START = datetime(2027, 3, 16, 13, 0, tzinfo=UTC)
MAIL = OutgoingMail(
    message_id="<0123456789abcdef0123456789abcdef@herrljunga.se>",
    sender="TSK Herrljunga <tsk@herrljunga.se>",
    recipient="asa.oberg@herrljunga.se",
    recipient_name="Åsa Öberg",
    subject="Uppgift: Månadsrapport till EST – senast fredag 12 mars 2027",
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
    "swedish": MAIL,
    "invitation": replace(MAIL, ics=INVITATION),
    "ascii and short": replace(MAIL, recipient_name="Anna Berg", subject="Rapport", text="Hej\n"),
    "long ascii subject": replace(MAIL, subject="Rapport " * 30),
    "long swedish name": replace(MAIL, recipient_name="Åsa-Märta Öberg-Ärlig " * 5),
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


def flattened(mail: OutgoingMail) -> bytes:
    """How it went before: build_email, flattened by aiosmtplib (8BITMIME server)."""
    return flatten_message(build_email(mail, date=DATE))


def summary(raw: bytes) -> dict[str, Any]:
    """What a receiver sees, minus the boundary, the transfer encodings and some white space.

    White space in headers is left out: the email package's folder drops a space that stands
    where it folds between encoded words, and its address parser puts one between two encoded
    words of a name (``mail_bytes`` keeps the text exactly, see :func:`check_exact`). Line ends in
    bodies count as equal: a base64 body decodes verbatim, and the email package encodes the text
    with LF where ``mail_bytes`` uses CRLF, the canonical form (RFC 2045 6.8).
    """
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    parts = []
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        assert not part.defects
        content = part.get_content().replace("\r\n", "\n")
        parts.append((part.get_content_type(), part.get_params(), content))
    headers = [(k, str(v)) for k, v in message.items() if k not in {"From", "To", "Content-Type"}]
    return {
        "headers": [(k, "".join(v.split())) for k, v in headers],
        "addresses": [[a.addr_spec for a in message[k].addresses] for k in ("From", "To")],
        "names": [[("".join(n.split()), a) for n, a in names] for names in display_names(raw)],
        "type": message.get_content_type(),
        "parts": parts,
    }


def display_names(raw: bytes) -> list[list[tuple[str, str]]]:
    """From and To decoded as RFC 2047 says (the space between two encoded words dropped)."""
    headers = message_from_string(raw.decode(), policy=policy.compat32)
    found = []
    for field in ("From", "To"):
        value = "".join(str(headers[field]).splitlines())
        found.append([(decoded(n), a) for n, a in getaddresses([value])])
    return found


def decoded(words: str) -> str:
    return str(make_header(decode_header(words)))


def check_exact(mail: OutgoingMail, raw: bytes) -> None:
    """The subject and the names arrive exactly as ``header_safe`` made them."""
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == header_safe(mail.subject)
    [[(sender, _)], [(recipient, _)]] = display_names(raw)
    assert sender == parseaddr(header_safe(mail.sender))[0]
    assert recipient == header_safe(mail.recipient_name)


@pytest.mark.parametrize("mail", VARIED.values(), ids=VARIED.keys())
def test_parses_back_like_the_email_package_message(mail: OutgoingMail) -> None:
    wire = mail_bytes(mail, date=DATE)
    assert summary(wire) == summary(flattened(mail))
    check_exact(mail, wire)


@pytest.mark.parametrize("mail", VARIED.values(), ids=VARIED.keys())
def test_is_ascii_with_crlf_lines_of_at_most_78(mail: OutgoingMail) -> None:
    wire = mail_bytes(mail, date=DATE)
    assert wire.isascii()
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert b"\r" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78


def test_the_invitation_is_a_calendar_request_and_unchanged() -> None:
    parsed = message_from_bytes(mail_bytes(VARIED["invitation"], date=DATE), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    calendar = list(parsed.iter_parts())[2]
    assert calendar["Content-Type"] == 'text/calendar; charset="utf-8"; method="REQUEST"'
    assert calendar.get_content() == INVITATION


def test_swedish_headers_are_encoded_words() -> None:
    head = mail_bytes(MAIL, date=DATE).split(b"\r\n\r\n")[0].decode()
    assert "Åsa" not in head
    assert re.search(r"\nTo: =\?utf-8\?b\?[A-Za-z0-9+/=]+\?= <asa.oberg@herrljunga.se>\r", head)
    assert "\r\nSubject: =?utf-8?b?" in head


def test_a_non_ascii_message_id_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        mail_bytes(replace(MAIL, message_id="<åäö@herrljunga.se>"))


def test_a_non_ascii_address_stays_utf8_as_with_smtputf8_before() -> None:
    mail = replace(MAIL, recipient="åsa@herrljunga.se")
    wire = mail_bytes(mail, date=DATE)
    assert "<åsa@herrljunga.se>".encode() in wire
    assert display_names(wire)[1] == [("Åsa Öberg", "åsa@herrljunga.se")]
    before = flatten_message(build_email(mail, date=DATE), utf8=True)
    assert summary(wire) == summary(before)


words = st.text(
    st.sampled_from("abcxyzABCÅÄÖåäöé –-,.:;\"'()<>@[]\\=?_\t\r\n\x00\u2028"), max_size=120
)


@settings(max_examples=200, deadline=None)
@given(name=words, subject=words, text=words, html=words)
def test_any_text_parses_back_alike(name: str, subject: str, text: str, html: str) -> None:
    mail = replace(MAIL, recipient_name=name, subject=subject, text=text, html=html)
    wire = mail_bytes(mail, date=DATE)
    assert summary(wire) == summary(flattened(mail))
    check_exact(mail, wire)


def test_a_line_break_in_user_text_adds_no_header() -> None:
    wire = mail_bytes(VARIED["control characters"], date=DATE)
    message = message_from_bytes(wire, policy=policy.default)
    assert list(message.keys()) == [  # noqa: SIM118
        "Message-ID",
        "Date",
        "From",
        "To",
        "Subject",
        "MIME-Version",
        "Content-Type",
    ]
    assert message["Subject"] == "Rapport Bcc: thief@evil.example"

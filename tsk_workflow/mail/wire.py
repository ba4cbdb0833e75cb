"""The bytes of a mail as sent after SMTP DATA, composed directly rather than via EmailMessage.

Why not :func:`~.message.build_email` and a generator: the ``email`` package's default policy
parses every header into objects and refolds it on output, about 2.4 ms per message here, more
than the SMTP exchange itself (benchmark 4, ``benchmarks/mail.py``); this takes about 0.05 ms.
Our messages always have the same small shape, so they are composed from strings with the
standard library's encoders: RFC 2047 encoded words (base64) for non-ASCII or long headers, and
quoted-printable (:func:`binascii.b2a_qp`) or base64 for bodies. Every body is 7-bit clean, so
no server needs 8BITMIME. Only an address with non-ASCII characters stays raw UTF-8 in its
header; such a message needs SMTPUTF8, like its envelope.

The same rules as ``build_email`` hold: user text reaches a header only through
:func:`~.message.header_safe` and :func:`~.message.address`. ``tests/test_mail_wire.py`` parses
both messages with the standard parser and checks that the same headers, bodies and parts come
out, so this cannot drift from ``build_email``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime

from tsk_workflow.mail.message import OutgoingMail, address, header_safe, sender_address

_CRLF = b"\r\n"
_MAX_LINE = 78
"""RFC 5322 2.1.1: header and 7bit lines SHOULD be no longer (the email package's limit too)."""
_WORD_BYTES = 39
"""Per encoded word: 52 base64 characters, so "Subject: =?utf-8?b?...?=" stays within 78."""
_SEVEN_BIT = re.compile(rb"(?:[\t\x20-\x7e]{0,78}\r\n)*")
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def mail_bytes(mail: OutgoingMail, *, date: datetime | None = None) -> bytes:
    """The message ``build_email(mail, date=date)`` describes, as bytes with CRLF line ends.

    Raises ``ValueError`` when it cannot be sent: a malformed address, a non-ASCII Message-ID,
    or text that is not Unicode (lone surrogates).
    """
    parts = [_part("text/plain", mail.text), _part("text/html", mail.html)]
    if mail.ics is not None:
        parts.append(_part("text/calendar", mail.ics, '; method="REQUEST"'))
    delimiter = _delimiter(parts)
    head = [*_headers(mail, date), "MIME-Version: 1.0"]
    head.append(f'Content-Type: multipart/alternative;\r\n boundary="{delimiter[2:].decode()}"')
    chunks = ["\r\n".join(head).encode(), b"\r\n\r\n"]
    for part in parts:
        chunks += [delimiter, _CRLF, part, _CRLF]
    chunks += [delimiter, b"--\r\n"]
    return b"".join(chunks)


def _headers(mail: OutgoingMail, date: datetime | None) -> list[str]:
    message_id = header_safe(mail.message_id)
    if not message_id.isascii():
        # make_message_id never gives one; an encoded word would not be an id any more.
        raise ValueError(f"not an ASCII Message-ID: {message_id!r}")
    return [
        f"Message-ID: {message_id}",
        f"Date: {format_datetime(date or datetime.now().astimezone())}",
        _address_field("From", sender_address(mail.sender)),
        _address_field("To", address(mail.recipient_name, mail.recipient)),
        _text_field("Subject", header_safe(mail.subject)),
    ]


def _address_field(field: str, mailbox: Address) -> str:
    """``Field: Name <addr>``; the name quoted as RFC 5322 wants, or encoded words."""
    spec = mailbox.addr_spec
    name = mailbox.display_name
    if not name:
        return f"{field}: {spec}"
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    line = f"{field}: {name} <{spec}>"
    if name.isascii() and len(line) <= _MAX_LINE:
        return line
    # Non-ASCII, or so long that the line must fold: encoded words can be split anywhere.
    return f"{field}: {_encoded_words(mailbox.display_name)} <{spec}>"


def _text_field(field: str, text: str) -> str:
    line = f"{field}: {text}"
    if line.isascii() and len(line) <= _MAX_LINE:
        return line
    return f"{field}: {_encoded_words(text)}"


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 "B" encoded words, one per folded line, no character split.

    Written here because :class:`email.header.Header` re-encodes the growing line for every
    character to find where to fold, which alone cost more than the rest of the message.
    """
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and 0x80 <= data[end] < 0xC0:  # a UTF-8 continuation byte
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode()}?=")
        start = end
    return "\r\n ".join(words)


def _part(content_type: str, text: str, params: str = "") -> bytes:
    """One body part, headers included; line ends become CRLF and the text ends with one.

    That is what ``EmailMessage.set_content`` does to a text, so both parse back the same.
    """
    body = _CRLF.join(text.encode("utf-8").splitlines()) + _CRLF
    encoding, encoded = _transfer_encoded(body)
    head = f'Content-Type: {content_type}; charset="utf-8"{params}\r\n'
    return f"{head}Content-Transfer-Encoding: {encoding}\r\n\r\n".encode() + encoded


def _transfer_encoded(body: bytes) -> tuple[str, bytes]:
    """7bit when it is printable ASCII in short lines, else the shorter of QP and base64."""
    if _SEVEN_BIT.fullmatch(body):
        return "7bit", body
    quoted = binascii.b2a_qp(body, istext=True)
    if 3 * len(quoted) <= 4 * len(body):  # base64 is at least 4/3 of the size
        return "quoted-printable", quoted
    return "base64", base64.encodebytes(body).replace(b"\n", _CRLF)


def _delimiter(parts: list[bytes]) -> bytes:
    """``--`` and a random boundary found in no part ("=_" never occurs in QP or base64)."""
    while True:
        delimiter = b"--=_" + secrets.token_hex(16).encode()
        if not any(delimiter in part for part in parts):
            return delimiter

"""One outgoing mail as plain data, and the MIME message built from it.

Every piece of user text that can reach a header (subject, display names, addresses) goes through
:func:`header_safe` first, so a title such as ``"x\\r\\nBcc: someone@example.org"`` can never add a
header. The Message-ID is given, not made here: it is derived from a stable key with
:func:`make_message_id`, so a re-send after a crash carries the same id and receivers can drop the
duplicate.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class OutgoingMail:
    """A rendered mail to one recipient.

    ``sender`` is an address, optionally with a display name (``"TSK Herrljunga <tsk@x.se>"``);
    ``message_id`` is the full header value, angle brackets included (see :func:`make_message_id`);
    ``ics`` is an iCalendar text (METHOD:REQUEST) sent as a ``text/calendar`` alternative.
    """

    message_id: str
    sender: str
    recipient: str
    recipient_name: str
    subject: str
    text: str
    html: str
    ics: str | None = None


def header_safe(text: str) -> str:
    """``text`` on one line: each run of control characters (CR, LF, TAB, NUL...) becomes a space.

    Unicode line and paragraph separators count as control characters here too.
    """
    return _CONTROL_RUN.sub(" ", unicodedata.normalize("NFC", text)).strip()


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID (with angle brackets) that depends only on ``key`` and ``domain``.

    The key names the message for good, e.g. ``"outbox:1234"`` or ``"herrljunga/task/42/assigned"``;
    it is hashed, so it may hold any text without leaking into the header.
    """
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain for a Message-ID: {domain!r}")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain.lower()}>"


def address(name: str, addr: str) -> Address:
    """A header address with a safe display name; raises ``ValueError`` on a malformed address."""
    addr = header_safe(addr)
    if addr.count("@") != 1 or any(ch in addr for ch in ' <>,;:"()[]\\'):
        raise ValueError(f"not a mail address: {addr!r}")
    username, _, domain = addr.rpartition("@")
    return Address(display_name=header_safe(name), username=username, domain=domain)


def sender_address(sender: str) -> Address:
    """The sender as an :class:`Address`, from ``addr`` or ``Name <addr>``."""
    name, addr = parseaddr(header_safe(sender))
    return address(name, addr or sender)


def build_email(mail: OutgoingMail, *, date: datetime | None = None) -> EmailMessage:
    """The MIME message: multipart/alternative of text, HTML and (if any) the calendar invitation.

    ``date`` is the Date header (default: now, in the local time zone). Sending does not use
    this but :func:`tsk_workflow.mail.wire.mail_bytes`, which composes the same message as bytes
    about 50 times faster; this one, built with the email package, is what tests check it
    against.
    """
    msg = EmailMessage()
    msg["Message-ID"] = header_safe(mail.message_id)
    msg["Date"] = format_datetime(date or datetime.now().astimezone())
    msg["From"] = sender_address(mail.sender)
    msg["To"] = address(mail.recipient_name, mail.recipient)
    msg["Subject"] = header_safe(mail.subject)
    _add_bodies(msg, mail)
    return msg


def _add_bodies(msg: EmailMessage, mail: OutgoingMail) -> None:
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    if mail.ics is not None:
        msg.add_alternative(mail.ics, subtype="calendar", params={"method": "REQUEST"})

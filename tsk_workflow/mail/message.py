"""One outgoing mail as plain data, and the MIME message built from it with the ``email`` package.

:func:`build_email` builds the message, :func:`mail_bytes` gives it as sent after SMTP DATA:
CRLF line ends, headers folded (at 78 characters where the email package can) and encoded as
RFC 2047 words when not ASCII, bodies quoted-printable or base64 when not 7-bit ASCII (RFC
2045), so that no server needs 8BITMIME. Only a message with a non-ASCII address keeps its
headers in UTF-8 (RFC 6532); it needs SMTPUTF8 anyway, for its envelope.

Every piece of user text that can reach a header (subject, display names, addresses) goes through
:func:`header_safe` first, so a title such as ``"x\\r\\nBcc: someone@example.org"`` can never add a
header. The Message-ID is given, not made here: it is derived from a stable key with
``tsk_workflow.messages.make_message_id``, so a re-send after a crash carries the same id and
receivers can drop the duplicate.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from tsk_workflow.i18n import _
from tsk_workflow.messages import make_message_id as make_message_id  # where it is made

_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_WIRE = policy.SMTP.clone(cte_type="7bit")
"""CRLF, and bodies that are not 7-bit ASCII in short lines are encoded (quoted-printable or
base64, whichever ``set_content`` finds shorter)."""
_WIRE_UTF8 = policy.SMTPUTF8.clone(cte_type="7bit")
"""The same with headers in UTF-8: for a non-ASCII address, which has no ASCII form."""


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


def address(name: str, addr: str) -> Address:
    """A header address with a safe display name; raises ``ValueError`` on a malformed address."""
    addr = header_safe(addr)
    if addr.count("@") != 1 or any(ch in addr for ch in ' <>,;:"()[]\\'):
        raise ValueError(_("not a mail address: {address}").format(address=repr(addr)))
    username, _at, domain = addr.rpartition("@")
    return Address(display_name=header_safe(name), username=username, domain=domain)


def sender_address(sender: str) -> Address:
    """The sender as an :class:`Address`, from ``addr`` or ``Name <addr>`` (a name that is an
    RFC 2047 encoded word, as :func:`named_sender` writes one that is not ASCII, decoded)."""
    name, addr = parseaddr(header_safe(sender))
    return address(str(make_header(decode_header(name))) if name else "", addr or sender)


def named_sender(sender: str, name: str) -> str:
    """``sender`` with ``name`` as its display name (``"Herrljunga kommun – Trygg och säker"
    <tsk@herrljunga.se>``) when it has none; a sender written ``Name <addr>`` keeps its name.
    The name is put on one line first: it comes from the organisation file."""
    current, addr = parseaddr(header_safe(sender))
    if current or not addr or not header_safe(name):
        return sender
    return formataddr((header_safe(name), addr))


SENDER_NAME = "{organisation} – Trygg och säker"
"""The display name of mail from a municipality without one in its sender setting: a name (the
work's, "Trygg och säker kommun"), the same whatever its readers' languages, so not translated."""


def build_email(mail: OutgoingMail, *, date: datetime | None = None) -> EmailMessage:
    """The MIME message: multipart/alternative of text, HTML and (if any) the calendar invitation.

    ``date`` is the Date header (default: now, in the local time zone). Raises ``ValueError``
    when it cannot be sent: a malformed address, or a Message-ID that is not ASCII
    (:func:`make_message_id` never gives one; an encoded word would not be an id any more).
    """
    message_id = header_safe(mail.message_id)
    if not message_id.isascii():
        raise ValueError(_("not an ASCII Message-ID: {id}").format(id=repr(message_id)))
    msg = EmailMessage(policy=_WIRE)
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date or datetime.now().astimezone())
    msg["From"] = sender_address(mail.sender)
    msg["To"] = address(mail.recipient_name, mail.recipient)
    msg["Subject"] = header_safe(mail.subject)
    _add_bodies(msg, mail)
    return msg


def mail_bytes(mail: OutgoingMail, *, date: datetime | None = None) -> bytes:
    """:func:`build_email`'s message as sent after SMTP DATA (see the module docstring).

    ASCII unless an address is not; raises ``ValueError`` as :func:`build_email` does, or when
    a body is not Unicode (lone surrogates).
    """
    msg = build_email(mail, date=date)
    addresses = [a.addr_spec for field in ("From", "To") for a in msg[field].addresses]
    ascii_only = all(addr.isascii() for addr in addresses)
    return msg.as_bytes(policy=_WIRE if ascii_only else _WIRE_UTF8)


def _add_bodies(msg: EmailMessage, mail: OutgoingMail) -> None:
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    if mail.ics is not None:
        msg.add_alternative(mail.ics, subtype="calendar", params={"method": "REQUEST"})

"""Meeting invitations as iCalendar (RFC 5545) text, METHOD:REQUEST, one VEVENT.

Start and end must be aware datetimes (typically in ``Europe/Stockholm``); they are written in UTC
(``...Z``), which every client (Outlook, Google Calendar, Apple Calendar, Thunderbird) shows in the
reader's own zone. UTC rather than ``TZID`` + VTIMEZONE: a one-off meeting needs no zone rules,
and the VTIMEZONE icalendar derives from zoneinfo lists every transition as an RDATE, which is
valid but unlike what Outlook and Google write (RRULEs); UTC does not depend on how a client
reads it.

Send the text as the ``text/calendar; method=REQUEST`` part of a mail (the ``ics`` of
:class:`tsk_workflow.mail.message.OutgoingMail`). Re-sending the same ``uid`` with a
higher ``sequence`` updates the meeting in the attendees' calendars.
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress

from tsk_workflow.i18n import _

PRODID = "-//tsk-workflow//Trygg och säker kommun//SV"


def meeting_invitation(
    uid: str,
    title: str,
    start: datetime,
    end: datetime,
    location: str,
    organizer_email: str,
    attendees: list[str],
    description: str,
    *,
    stamp: datetime | None = None,
    sequence: int = 0,
    organizer_name: str | None = None,
) -> str:
    """The VCALENDAR text of an invitation; ``stamp`` (DTSTAMP) defaults to now.

    Put the recipient among ``attendees``: Outlook and Google offer Accept/Decline only then.
    """
    _check_times(start, end)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", title)
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("location", location)
    event.add("description", description)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _organizer(organizer_email, organizer_name))
    for email in attendees:
        event.add("attendee", _attendee(email))
    ical: bytes = _calendar(event).to_ical()
    return ical.decode("utf-8")


def _check_times(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(_("meeting times must be aware datetimes (e.g. in Europe/Stockholm)"))
    if end <= start:
        raise ValueError(
            _("the meeting ends ({end}) before it starts ({start})").format(end=end, start=start)
        )


def _organizer(email: str, name: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


def _attendee(email: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "TRUE"
    return address


def _calendar(event: Event) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    calendar.add_component(event)
    return calendar

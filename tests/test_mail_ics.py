"""Meeting invitations: valid iCalendar that parses back to what was asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tsk_workflow import i18n
from tsk_workflow.mail.ics import meeting_invitation

TZ = ZoneInfo("Europe/Stockholm")
START = datetime(2027, 3, 16, 13, 0, tzinfo=TZ)
END = datetime(2027, 3, 16, 15, 0, tzinfo=TZ)
STAMP = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
ATTENDEES = ["anna.berg@herrljunga.se", "orjan.akesson@herrljunga.se"]
DESCRIPTION = "Dagordning:\n1. Lägesbild; polisen, kommunen\n2. Åtgärdsplan"


def invitation(
    start: datetime = START, end: datetime = END, sequence: int = 0, organizer_name: str = ""
) -> str:
    return meeting_invitation(
        "est-2027-03-meeting@herrljunga.se",
        "EST-möte mars, Herrljunga",
        start,
        end,
        "Kommunhuset, sal Ljungen; Torget 1",
        "tsk@herrljunga.se",
        ATTENDEES,
        DESCRIPTION,
        stamp=STAMP,
        sequence=sequence,
        organizer_name=organizer_name or None,
    )


def parse(text: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return calendar, event


def test_it_parses_back_to_the_meeting() -> None:
    calendar, event = parse(invitation())
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert "PRODID" in calendar
    assert event.uid == "est-2027-03-meeting@herrljunga.se"
    assert event.summary == "EST-möte mars, Herrljunga"
    assert event.location == "Kommunhuset, sal Ljungen; Torget 1"
    assert event.description == DESCRIPTION
    assert event.start == START
    assert event.end == END
    assert event.stamp == STAMP
    assert event.sequence == 0


def test_times_are_written_in_utc_with_daylight_saving_applied() -> None:
    summer = datetime(2027, 6, 15, 13, 0, tzinfo=TZ)
    text = invitation(summer, summer + timedelta(hours=2))
    assert "DTSTART:20270615T110000Z" in text
    assert "DTSTART:20270316T120000Z" in invitation()


def test_organizer_and_attendees() -> None:
    _, event = parse(invitation(organizer_name="Örjan Åkesson"))
    organizer = event.organizer
    assert organizer is not None
    assert str(organizer) == "mailto:tsk@herrljunga.se"
    assert organizer.params["CN"] == "Örjan Åkesson"
    attendees = event.attendees
    assert [str(a) for a in attendees] == [f"mailto:{email}" for email in ATTENDEES]
    assert all(a.params["RSVP"] == "TRUE" for a in attendees)
    assert all(a.params["PARTSTAT"] == "NEEDS-ACTION" for a in attendees)


def test_an_update_carries_a_higher_sequence() -> None:
    _, event = parse(invitation(sequence=2))
    assert event.sequence == 2


def test_lines_are_crlf_and_folded_at_75_octets() -> None:
    text = invitation(organizer_name="Örjan Åkesson, säkerhetschef i Herrljunga kommun")
    assert text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")
    assert "\n" not in "".join(lines)
    assert max(len(line.encode("utf-8")) for line in lines) <= 75


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="mötestider måste ha en tidszon"):
        invitation(datetime(2027, 3, 16, 13, 0), datetime(2027, 3, 16, 15, 0))
    with i18n.speaking("en"), pytest.raises(ValueError, match="aware"):
        invitation(datetime(2027, 3, 16, 13, 0), datetime(2027, 3, 16, 15, 0))


def test_a_meeting_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="innan det börjar"):
        invitation(END, START)
    with i18n.speaking("en"), pytest.raises(ValueError, match="before it starts"):
        invitation(END, START)

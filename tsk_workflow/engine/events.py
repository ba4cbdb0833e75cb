"""Events reported at any time, not only when a monthly task asks (``tsk event report``, the
page ``/report``, ``POST /api/v1/events``).

A report has one or several events. Each event has a category (a choice of the lägesbild's
category question, ``forms.lagesbild_categories``: the categories come from the process
definitions the organisation runs, never from a list of our own), a day and, if known, the
local time, a town or area of the organisation, an optional place in it ("stationen"), an
optional point on a map (latitude and longitude, WGS 84; only with a town), and a description
of what happened.

Who may report: every person of the organisation; a person of a partner organisation (the
police, the housing company, the rescue service: ``events.partners``) only where the
organisation allows it (``events.partners_may_report``). A refusal is recorded.

The act checks each field of each event and refuses with every problem at once
(:class:`InvalidEvents`, keyed ``events.N.FIELD``, in the language spoken), records the report
and an audit event ``events.reported`` (no free text in its payload: the categories, days,
towns and the SHA-256 of the whole report), and returns what it made. A second submit of the
same form (``form_id``) makes no second report: it returns the first, ``repeated``.

The events feed the lägesbild of the month they happened in (``lagesbild.collect``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.calendar import OutsideYears, check_years
from tsk_workflow.canonical import digest
from tsk_workflow.definitions.model import Label
from tsk_workflow.engine import access, privacy
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.errors import Refused
from tsk_workflow.forms import AnswerProblem, InvalidAnswers, lagesbild_categories
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Organisation, Person
from tsk_workflow.store import events as stored

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.models import EventReport, ReportedEvent

ACTION = "events.reported"
FIELDS = ("category", "date", "time", "town", "place", "latitude", "longitude", "description")
"""The fields of an event, in the order a form shows them (and problems are listed)."""
MAX_EVENTS = 20
MAX_PLACE = 200
MAX_DESCRIPTION = 4000
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far after the clock an event may be said to have happened (a phone's clock ahead)."""
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---------------------------------------------------------------- what a report is


@dataclass(frozen=True)
class Event:
    """One event as recorded: ``time`` is local ``HH:MM`` or None; ``point`` (lat, lon)."""

    id: int
    category: str
    day: dt.date
    time: str | None
    town: str
    place: str | None
    point: tuple[float, float] | None
    description: str | None

    @property
    def when(self) -> str:
        """As people read it: ``2027-03-14 22:15`` (or the day alone)."""
        return f"{self.day.isoformat()} {self.time}" if self.time else self.day.isoformat()

    @classmethod
    def of(cls, row: ReportedEvent) -> Event:
        point = (
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        )
        return cls(
            row.id, row.category, row.day, row.time, row.town, row.place, point, row.description
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "date": self.day.isoformat(),
            "time": self.time,
            "when": self.when,
            "town": self.town,
            "place": self.place,
            "latitude": self.point[0] if self.point else None,
            "longitude": self.point[1] if self.point else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class Report:
    """A report as recorded; ``repeated``: found again from its form, not made now."""

    id: int
    reporter: str
    department: str | None
    partner: str | None
    form_id: str | None
    reported_at: dt.datetime
    events: tuple[Event, ...]
    repeated: bool = False

    @classmethod
    def of(cls, row: EventReport, repeated: bool = False) -> Report:
        return cls(
            row.id,
            row.reporter,
            row.department,
            row.partner,
            row.form_id,
            row.reported_at,
            tuple(Event.of(e) for e in row.events),
            repeated,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reporter": self.reporter,
            "department": self.department,
            "partner": self.partner,
            "form_id": self.form_id,
            "reported_at": self.reported_at.isoformat(),
            "repeated": self.repeated,
            "events": [event.to_dict() for event in self.events],
        }


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class EventProblem(AnswerProblem):
    """A wrong field of one event: ``index`` (from 0) and ``field`` (one of ``FIELDS``)."""

    index: int = 0
    field: str = ""


class InvalidEvents(InvalidAnswers):
    """Events that do not fit: one problem per wrong field of each event (``events.N.FIELD``,
    N from 0); ``by_event()`` groups them for a form."""

    def __init__(self, problems: Sequence[EventProblem]) -> None:
        self.task_id = None
        self.problems = list[AnswerProblem](problems)
        self.fields = list(problems)
        listed = "; ".join(
            _("event {n}, {field}: {message}").format(
                n=p.index + 1, field=p.field, message=p.message
            )
            for p in problems
        )
        Refused.__init__(self, _("the events are not right: {problems}").format(problems=listed))

    def by_event(self) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for problem in self.fields:
            found.setdefault(problem.index, {}).setdefault(problem.field, problem.message)
        return found


def _problem(index: int, name: str, message: str) -> EventProblem:
    return EventProblem(f"events.{index}.{name}", message, index, name)


# ---------------------------------------------------------------- who may report, and what


def categories(engine: Engine) -> dict[str, Label]:
    """The lägesbild's categories in the processes the organisation runs, by key."""
    definitions = [
        engine.catalog.definitions[key]
        for key in engine.org.processes
        if key in engine.catalog.definitions
    ]
    return lagesbild_categories(definitions)


def places(org: Organisation) -> dict[str, str]:
    """The towns and areas of the organisation by key, with their names (towns first)."""
    return {t.key: t.name for t in org.towns} | {a.key: a.name for a in org.areas}


@dataclass(frozen=True)
class Standing:
    """Whether a person may report, and as whom: ``partner`` names their organisation."""

    allowed: bool
    partner: str | None
    reason: str = ""


def standing(org: Organisation, person: Person) -> Standing:
    partner = org.events.partner_of(person.department)
    if partner is None or org.events.partners_may_report:
        return Standing(True, partner)
    reason = _(
        "{organisation} does not take events from partner organisations ({partner}):"
        " report to your own organisation"
    ).format(organisation=org.name, partner=partner)
    return Standing(False, partner, reason)


# ---------------------------------------------------------------- checking an event


@dataclass
class _Checked:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[EventProblem] = field(default_factory=list)


def check_event(
    index: int,
    given: Mapping[str, Any],
    known: Mapping[str, Label],
    org: Organisation,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> tuple[dict[str, Any], list[EventProblem]]:
    """The columns of one event and its problems. ``given`` has the ``FIELDS`` as text (or
    ``when``: a date, or a date and a time, ``2027-03-14T22:15``, instead of date and time)."""
    out = _Checked()

    def wrong(name: str, message: str) -> None:
        out.problems.append(_problem(index, name, message))

    for name in given:
        if name not in (*FIELDS, "when"):
            wrong(
                str(name),
                _("no such field of an event (fields: {fields})").format(fields=", ".join(FIELDS)),
            )
    text = {name: _text(given.get(name)) for name in (*FIELDS, "when")}
    date_field, time_field = "date", "time"
    if text["when"] is not None:
        date_field = time_field = "when"
        day_text, _sep, time_text = text["when"].replace(" ", "T", 1).partition("T")
        text["date"], text["time"] = day_text, time_text or None
    _category(text["category"], known, out, wrong)
    _moment(text["date"], text["time"], now, zone, out, wrong, date_field, time_field)
    _town(text["town"], org, out, wrong)
    place = text["place"]
    if place is not None and len(place) > MAX_PLACE:
        wrong("place", _too_long(len(place), MAX_PLACE))
    elif place is not None and ("\n" in place or "\r" in place):
        wrong("place", _("give the place on one line"))
    out.values["place"] = place
    _point(text["latitude"], text["longitude"], out, wrong)
    description = text["description"]
    if description is None:
        wrong("description", _("describe what happened (it is required)"))
    elif len(description) > MAX_DESCRIPTION:
        wrong("description", _too_long(len(description), MAX_DESCRIPTION))
    out.values["description"] = description
    order = {name: i for i, name in enumerate(FIELDS)} | {"when": FIELDS.index("date")}
    out.problems.sort(key=lambda p: order.get(p.field, len(order)))
    return out.values, out.problems


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\r\n", "\n").strip()
    return text or None


def _too_long(length: int, most: int) -> str:
    return _("is {length} characters long; at most {most} are allowed").format(
        length=length, most=most
    )


def _category(text: str | None, known: Mapping[str, Label], out: _Checked, wrong: Any) -> None:
    if text is None:
        wrong("category", _("choose a category (it is required)"))
        return
    wanted = text.casefold()
    for key, label in known.items():
        if wanted in {key.casefold(), label.sv.strip().casefold(), label.en.strip().casefold()}:
            out.values["category"] = key
            return
    wrong(
        "category",
        _("{value} is not one of the categories ({allowed})").format(
            value=repr(text), allowed=", ".join(known)
        ),
    )


def _moment(
    day_text: str | None,
    time_text: str | None,
    now: dt.datetime,
    zone: dt.tzinfo,
    out: _Checked,
    wrong: Any,
    date_field: str,
    time_field: str,
) -> None:
    if day_text is None:
        wrong(date_field, _("give the date it happened (it is required)"))
        return
    if not _DATE.fullmatch(day_text):
        wrong(date_field, _("{value} is not a date (YYYY-MM-DD)").format(value=repr(day_text)))
        return
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        wrong(date_field, _("{value} is not a date that exists").format(value=repr(day_text)))
        return
    time: str | None = None
    if time_text is not None:
        match = _TIME.fullmatch(time_text)
        if match is None:
            wrong(time_field, _("{value} is not a time (HH:MM)").format(value=repr(time_text)))
            return
        time = f"{match[1]}:{match[2]}"
    local_now = now.astimezone(zone)
    if day.year < 2000:
        wrong(date_field, _("{date} is too long ago").format(date=day.isoformat()))
        return
    if day > local_now.date():
        wrong(
            date_field,
            _("{date} is in the future (today is {today})").format(
                date=day.isoformat(), today=local_now.date().isoformat()
            ),
        )
        return
    if time is not None:
        moment = dt.datetime.combine(day, dt.time.fromisoformat(time), tzinfo=zone)
        if moment > now + CLOCK_SKEW:
            wrong(
                time_field,
                _("{when} is in the future (it is now {now})").format(
                    when=f"{day.isoformat()} {time}", now=local_now.strftime("%Y-%m-%d %H:%M")
                ),
            )
            return
    out.values["day"] = day
    out.values["time"] = time


def _town(text: str | None, org: Organisation, out: _Checked, wrong: Any) -> None:
    known = places(org)
    if text is None:
        wrong("town", _("choose the town or area it happened in (it is required)"))
        return
    wanted = text.casefold()
    for key, name in known.items():
        if wanted in {key.casefold(), name.casefold()}:
            out.values["town"] = key
            return
    if not known:
        wrong("town", _("{org} has no towns or areas listed").format(org=org.name))
        return
    wrong(
        "town",
        _("{value} is not a town or area of {org} ({keys})").format(
            value=repr(text), org=org.name, keys=", ".join(known)
        ),
    )


def _point(lat_text: str | None, lon_text: str | None, out: _Checked, wrong: Any) -> None:
    out.values["latitude"] = out.values["longitude"] = None
    if lat_text is None and lon_text is None:
        return
    found, problems = check_point(lat_text, lon_text)
    for name, message in problems:
        wrong(name, message)
    if found:
        if "town" not in out.values:
            wrong("town", _("a point on the map needs the town or area it is in"))
        out.values.update(found)


def check_point(
    lat_text: str | None, lon_text: str | None
) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """A point on the map from its latitude and longitude as typed (WGS 84, a decimal comma
    or a minus sign as typed on a phone allowed): ``{"latitude": ..., "longitude": ...}`` when
    both are right (rounded to 6 decimals, about 0.1 m), and the problems by field. The
    reported events' and the actions' points are checked here."""
    found: dict[str, float] = {}
    problems: list[tuple[str, str]] = []
    for name, text, most in (("latitude", lat_text, 90.0), ("longitude", lon_text, 180.0)):
        if text is None:
            problems.append((name, _("give both latitude and longitude, or neither")))
            continue
        try:
            value = float(text.replace(",", ".").replace("\u2212", "-"))
        except ValueError:
            problems.append((name, _("{value} is not a number").format(value=repr(text))))
            continue
        if not math.isfinite(value) or not -most <= value <= most:
            problems.append(
                (
                    name,
                    _("{value} is outside {low} to {high} (degrees, WGS 84)").format(
                        value=text, low=f"{-most:g}", high=f"{most:g}"
                    ),
                )
            )
            continue
        found[name] = round(value, 6)
    return (found if len(found) == 2 else {}), problems


# ---------------------------------------------------------------- the act


NOT_TO_REPORT = N_(
    "{organisation} runs no process whose reporters' form has a category: there is nothing to"
    " report events to"
)


def report_events(
    engine: Engine,
    actor: str | None,
    events: Sequence[Mapping[str, Any]],
    *,
    form_id: str | None = None,
) -> Report:
    """Record a report of ``events`` by ``actor`` (see the module's docstring): one act."""
    who = engine.actor(actor, "events.report")
    if form_id is not None and not FORM_ID.fullmatch(form_id):
        raise Refused(_("form_id must be 8 to 64 letters, digits, '-' or '_'"))
    if not events:
        raise Refused(_("a report needs at least one event"))
    if len(events) > MAX_EVENTS:
        raise Refused(
            _("a report has at most {most} events; this one has {n}").format(
                most=MAX_EVENTS, n=len(events)
            )
        )
    org = engine.org
    known = categories(engine)
    if not known:
        raise Refused(_(NOT_TO_REPORT).format(organisation=org.name))
    municipality = org.municipality
    with engine.act() as act:
        if form_id is not None:
            earlier = stored.report_of_form(act.session, municipality, form_id)
            if earlier is not None:
                if earlier.reporter != who:
                    raise Refused(_("this form was sent by someone else: open a new one"))
                return Report.of(earlier, repeated=True)
        person = engine.directory.person(who)
        found = standing(org, person)
        if not found.allowed:
            raise PermissionDenied(
                who, "events.report", f"municipality:{municipality}", found.reason
            )
        rows: list[dict[str, Any]] = []
        problems: list[EventProblem] = []
        for index, given in enumerate(events):
            values, wrong = check_event(index, given, known, org, act.now, engine.cal.zone)
            rows.append(values)
            problems += wrong
            free = {name: values.get(name) for name in ("place", "description")}
            problems += [
                _problem(index, name, privacy.refusal()) for name in privacy.refuses(org, free)
            ]
        if problems:
            raise InvalidEvents(problems)
        row = stored.add_report(
            act.session,
            {
                "municipality": municipality,
                "reporter": who,
                "department": person.department,
                "partner": found.partner,
                "form_id": form_id,
                "reported_at": act.now,
            },
            rows,
        )
        report = Report.of(row)
        role = "partner" if found.partner else (person.roles[0] if person.roles else "member")
        act.record(
            audit.Act(
                municipality, who, role, ACTION, f"event_report:{report.id}", _payload(report)
            )
        )
        return report


def _payload(report: Report) -> dict[str, Any]:
    """The audit payload: what is not personal, and the SHA-256 of the whole report (the free
    text stays in the rows, where a purge can blank it)."""
    return {
        "report": report.id,
        "form_id": report.form_id,
        "partner": report.partner,
        "events": [
            {
                "id": e.id,
                "category": e.category,
                "when": e.when,
                "town": e.town,
                "point": e.point is not None,
            }
            for e in report.events
        ],
        "digest": digest([e.to_dict() for e in report.events]),
    }


# ---------------------------------------------------------------- reading


def labelled(engine: Engine, report: Report, lang: str) -> dict[str, Any]:
    """``report.to_dict()`` with each event's category and town as people read them in
    ``lang`` (``category_label``, ``town_name``): what the API and the command line print."""
    known = categories(engine)
    names = places(engine.org)
    found = report.to_dict()
    for event in found["events"]:
        label = known.get(event["category"])
        event["category_label"] = label.get(lang) if label is not None else event["category"]
        event["town_name"] = names.get(event["town"], event["town"])
    return found


def month_days(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of ``YYYY-MM``, or ``Refused``."""
    match = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", month.strip())
    if match is None:
        raise Refused(_("{value} is not a month (YYYY-MM)").format(value=repr(month)))
    first = dt.date(int(match[1]), int(match[2]), 1)
    try:
        check_years(first, month.strip())
    except OutsideYears as exc:
        raise Refused(str(exc)) from None
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def readable_reports(
    engine: Engine,
    person: str | None,
    *,
    month: str | None = None,
    everyone: bool = False,
    limit: int | None = None,
) -> list[Report]:
    """The reports ``person`` may read: their own; with ``everyone`` all of the organisation's
    (who may read every task, ``read_all_tasks``, or an admin). ``month``: those with an event
    in it."""
    who = engine.actor(person, "events.list")
    if everyone and who not in engine.org.admins:
        engine.require_permission(who, access.READ_ALL_TASKS, "events")
    first, last = month_days(month) if month else (None, None)
    with engine.store.reading() as session:
        rows = stored.reports(
            session,
            engine.org.municipality,
            reporter=None if everyone else who,
            first=first,
            last=last,
            limit=limit,
        )
        return [Report.of(row) for row in rows]

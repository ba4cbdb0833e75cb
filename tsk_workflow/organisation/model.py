"""The typed, frozen model of a municipality: people, roles, groups, towns, rhythms and rules."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from tsk_workflow.definitions.durations import parse_duration
from tsk_workflow.definitions.model import Duration, Frozen, Key, Label, Month, OneLine, Text, Title
from tsk_workflow.i18n import _

PersonId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9._-]*$", max_length=64)]
Body = Literal["klg", "ks", "kf", "styrgrupp", "forvaltning", "delegat"]
"""Where a decision may be routed and who decides it (the decisions table keeps the key, at most
16 letters): ``klg`` kommunledningsgruppen, ``ks`` kommunstyrelsen, ``kf``
kommunfullmäktige, ``styrgrupp`` the styrgrupp (a group of ``groups:``), ``forvaltning`` the
department concerned (berörd förvaltning: its head decides), ``delegat`` an official who decides
under the delegationsordning."""
BODIES: tuple[Body, ...] = ("klg", "ks", "kf", "styrgrupp", "forvaltning", "delegat")


def _check_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        message = _("{value} is not a valid email address: {error}")
        raise ValueError(message.format(value=repr(value), error=exc)) from None


Email = Annotated[str, AfterValidator(_check_email)]


class Person(Frozen):
    id: PersonId
    name: OneLine = Field(min_length=1, max_length=200)
    email: Email
    language: Literal["sv", "en"] = "sv"
    department: str | None = None
    roles: tuple[Key, ...] = ()
    deputy_for: tuple[Key, ...] = Field((), description="Roles this person stands in for")
    digest: bool | None = Field(
        None, description="One mail a day; the municipality's default if unset"
    )
    login: str | None = Field(
        None,
        pattern=r"^[a-z_][a-z0-9_.-]*[$]?$",
        max_length=64,
        description="The person's login on the server, for the CLI on a local database",
    )


class Group(Frozen):
    """A standing group (EST, styrgrupp, SSPF, ...): its chair and deputy open and close cycles."""

    key: Key
    name: OneLine = Field(min_length=1)
    chair: PersonId
    deputy: PersonId | None = None
    members: tuple[PersonId, ...] = ()
    place: OneLine | None = Field(
        None,
        min_length=1,
        description="Where the group meets (a meeting invitation's place; without it the"
        " invitation says the chair will tell)",
    )


class Town(Frozen):
    key: Key
    name: OneLine = Field(min_length=1)
    main: bool = Field(False, description="The main town (centralort)")


class Area(Frozen):
    """A geographic area (Svenljunga's Träffpunkt areas), made of towns."""

    key: Key
    name: OneLine = Field(min_length=1)
    towns: tuple[Key, ...] = ()


class CalendarSettings(Frozen):
    timezone: str = "Europe/Stockholm"
    summer_months: tuple[Month, ...] = (7,)
    closed_days: tuple[dt.date, ...] = ()
    shift: Literal["before", "after"] = Field(
        "before", description="A date on a non-working day moves to the working day before or after"
    )


class ProcessSettings(Frozen):
    """A process the municipality runs: which group runs it, and overrides of its schedule.

    ``group`` runs it: the scheduler opens its cycles for that group. ``also_run_by`` are other
    groups whose chairs may open a cycle of it for their own group when they need one ("även
    andra operativa grupper ska vid behov ta fram lägesbilder och åtgärdsplaner", seed 003)."""

    group: Key
    also_run_by: tuple[Key, ...] = Field(
        (),
        description="Other groups whose chairs may open a cycle of the process for their own"
        " group when they need one (vid behov)",
    )
    schedule: dict[str, Any] | None = Field(
        None,
        description="Keys that replace the definition's schedule keys (except_months, day, ...)",
    )
    title: Title | None = None


class Meetings(Frozen):
    """Meeting dates of a body: listed, or as an iCalendar RRULE (FREQ=MONTHLY;BYDAY=-1MO)."""

    dates: tuple[dt.date, ...] = ()
    rrule: str | None = None
    time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "13:00"


class BodySettings(Frozen):
    """A body a decision is routed to: when it meets, how early an item must be ready, and who
    records its decisions.

    A body that meets (KLG, KS, KF, the styrgrupp) puts a decision on the agenda of its next
    meeting that leaves the lead time. One that decides without a meeting (the head of the
    department concerned, a delegate) has no agenda date; its decisions are numbered in its own
    register (a delegation decision's number) instead of by the paragraph of minutes."""

    name: str
    meets: bool = Field(
        True,
        description="The body decides at meetings; false for one person deciding alone (the"
        " förvaltningschef, a delegate), whose decision has no agenda date",
    )
    meetings: Meetings = Meetings()
    lead_time: Duration = "P3W"
    secretary: PersonId | None = Field(
        None, description="Records the body's decisions and receives its items"
    )
    group: Key | None = Field(
        None,
        description="The standing group that is this body (the styrgrupp): its chair, and the"
        " deputy in the chair's place, record its decisions too",
    )
    recorders: tuple[str, ...] = Field(
        (),
        description="Who decides and records for a body without a meeting, as person ids or"
        " roles: the head of the department (forvaltningschef), the delegate the"
        " delegationsordning names. For forvaltning, the one whose department the proposal's"
        " attribute 'forvaltning' names, when one does",
    )


class RuleCondition(Frozen):
    """All given conditions must hold for the rule to match."""

    cost_over: Annotated[float, Field(ge=0)] | None = None
    cost_at_least: Annotated[float, Field(ge=0)] | None = None
    attr: dict[Key, str] | None = Field(None, description="Attributes that must equal these values")
    attr_at_least: dict[Key, float] | None = None
    attr_given: tuple[Key, ...] | None = Field(
        None, description="Attributes the proposal must give, whatever their value"
    )


class RoutingRule(Frozen):
    name: Key
    when: RuleCondition
    to: Body
    reason: Text
    example: bool = Field(
        False,
        description="An example rule that no source document of the municipality states (a cost"
        " threshold, a count of departments): shown and given as the route's reason as such"
        " until the municipality sets it and removes the mark",
    )


class Routing(Frozen):
    rules: tuple[RoutingRule, ...] = ()
    default: Body | None = Field(None, description="Where a decision goes when no rule matches")
    default_reason: Text = Label(
        sv="Ingen regel träffade: standardvägen", en="No rule matched: the default route"
    )


class MailSettings(Frozen):
    """Mail settings; the TSK_SMTP_* and TSK_MAIL_FROM environment variables win over these."""

    sender: Email
    digest: bool = Field(
        False, description="Default for people: one mail a day instead of one per event"
    )
    digest_time: str = Field(
        "07:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local time (HH:MM) after which the day's digest is composed",
    )
    templates: str | None = Field(
        None,
        description="Name (not a path) of a folder of this municipality's own mail templates "
        "(sv/, en/) under TSK_TEMPLATE_ROOT, which the administrator sets for the service; "
        "default municipalities/<key>/notifications",
    )
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    smtp_starttls: bool | None = None
    smtp_tls: bool | None = Field(None, description="Implicit TLS (port 465)")
    smtp_user: str | None = Field(
        None, description="The password comes only from TSK_SMTP_PASSWORD"
    )


HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class AuditSettings(Frozen):
    """The audit trail's checkpoints: signed by the scheduler each day, kept off the database."""

    checkpoint_time: HourMinute = Field(
        "23:45", description="Local time (HH:MM) of the day's signed checkpoint of the audit trail"
    )


class Privacy(Frozen):
    show_reporter_names: bool = False
    retention: Duration = "P3Y"
    personal_numbers: Literal["refuse", "warn"] = Field(
        "refuse",
        description="A personnummer or samordningsnummer in free text (reports, answers,"
        " notes): refuse the act (the default), or let it through with a warning"
        " (docs/privacy.md)",
    )


class EventSettings(Frozen):
    """Events reported at any time (``tsk event report``, the page ``/report``): who may.

    Every person of the organisation may report. A person whose ``department`` is one of
    ``partners`` (or begins with it: ``Polisen – polisområdeschef``) belongs to a partner
    organisation, and may report only when ``partners_may_report`` is true."""

    partners: tuple[OneLine, ...] = Field(
        (),
        description="Departments that are partner organisations (the police, the housing"
        " company, the rescue service), as the people's 'department' names them",
    )
    partners_may_report: bool = Field(
        False, description="People of the partner organisations may report events too"
    )

    def partner_of(self, department: str | None) -> str | None:
        """The partner organisation ``department`` belongs to, or None."""
        if not department:
            return None
        folded = " ".join(department.split()).casefold()
        for partner in self.partners:
            name = " ".join(partner.split()).casefold()
            if folded == name or any(folded.startswith(name + sep) for sep in SEPARATORS):
                return partner
        return None


SEPARATORS = (" – ", " - ", " — ", ", ", ": ", " (")
"""What follows a partner's name in a department of it (``Polisen – polisområdeschef``)."""


def _latitude(value: float) -> float:
    if not (math.isfinite(value) and -90 <= value <= 90):
        message = _("{value} is not a latitude: a latitude is between -90 and 90 degrees")
        raise ValueError(message.format(value=value))
    return value


def _longitude(value: float) -> float:
    if not (math.isfinite(value) and -180 <= value <= 180):
        message = _("{value} is not a longitude: a longitude is between -180 and 180 degrees")
        raise ValueError(message.format(value=value))
    return value


Latitude = Annotated[
    float, AfterValidator(_latitude), Field(json_schema_extra={"minimum": -90, "maximum": 90})
]
Longitude = Annotated[
    float, AfterValidator(_longitude), Field(json_schema_extra={"minimum": -180, "maximum": 180})
]


class MapSettings(Frozen):
    """Where the organisation's maps start (the map of the page ``/report``): a centre and a
    zoom level. Without it the maps start over Sweden."""

    centre: tuple[Latitude, Longitude] = Field(
        description="The centre, [latitude, longitude] in decimal degrees (WGS 84),"
        " for example [58.078, 13.025]"
    )
    zoom: int = Field(
        11, ge=1, le=18, description="The zoom level, 1 (the world) to 18 (a street); 11 a town"
    )


PERMISSIONS = ("read_audit", "read_all_tasks", "act_for")
"""What ``permissions:`` may grant beyond what the roles in the processes give."""


class Permissions(Frozen):
    """Who may do what no process step gives: each a list of roles or person ids.

    The admins read the audit trail and everyone's tasks without being listed."""

    read_audit: tuple[str, ...] = Field(
        (), description="Read the audit trail and the refused acts (the auditor, the registrar)"
    )
    read_all_tasks: tuple[str, ...] = Field(
        (), description="Read every task and cycle of the municipality, whatever the group"
    )
    act_for: tuple[str, ...] = Field(
        (), description="Act for another person (--as), recorded with both names"
    )


PERIOD_PATTERN = r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$"


def _check_period(value: str) -> str:
    if value == "P":
        raise ValueError(_("'P' is not a period: give years, months, weeks or days (P1Y, P6M)"))
    return value


Period = Annotated[
    str,
    Field(pattern=PERIOD_PATTERN, description="An ISO 8601 period in whole days or more: P1Y, P6M"),
    AfterValidator(_check_period),
]
"""A cadence of the municipality's own work (a follow-up, a revision): years, months, weeks or
days, no working days and no hours."""


def add_period(day: dt.date, period: str, times: int = 1) -> dt.date:
    """``day`` plus ``times`` the ``period`` (``P1Y`` from 29 February is 28 February)."""
    delta = parse_duration(period).delta
    assert delta is not None  # a Period is never in working days
    result: dt.date = day + delta * times
    return result


class Decided(Frozen):
    """A decision as the minutes record it: the body, the date, the paragraph (§) and the case."""

    body: OneLine = Field(
        min_length=1,
        description="The body that decided, as the minutes name it: Kommunstyrelsen, KF, the"
        " styrgrupp, the kommundirektör",
    )
    date: dt.date
    paragraph: Annotated[int, Field(ge=1)] | None = Field(
        None, description="The paragraph (§) of the minutes: 112 for § 112"
    )
    case: OneLine | None = Field(
        None, min_length=1, description="The case number (diarienummer): KS-2023-00226"
    )

    def text(self) -> str:
        """``Kommunstyrelsen 2023-06-07 § 112 (KS-2023-00226)``."""
        words = f"{self.body} {self.date.isoformat()}"
        if self.paragraph is not None:
            words += f" § {self.paragraph}"
        return words + (f" ({self.case})" if self.case else "")


class ContactRoute(Frozen):
    """How partners and the public reach the samordningsfunktion: a function's mailbox and
    phone rather than one person's, so that the route outlives who holds the function."""

    email: Email | None = Field(None, description="The function's mailbox")
    phone: OneLine | None = Field(
        None, pattern=r"^\+?[0-9][0-9 ()-]{4,24}$", description="The function's phone number"
    )
    web: OneLine | None = Field(
        None, pattern=r"^https?://\S+$", description="The page where the public finds the function"
    )
    note: Text | None = Field(None, description="Who answers and when, in words")

    @property
    def empty(self) -> bool:
        return self.email is None and self.phone is None and self.web is None


class Samordningsfunktion(Frozen):
    """The coordinating function every municipality must set up (Lag 2023:196; prop.
    2022/23:43): who holds it and how partners and the public reach it."""

    holders: tuple[PersonId, ...] = Field(
        (), description="The people who hold the function (person ids); at least one"
    )
    contact: ContactRoute = Field(
        description="The external contact route: how partners and the public reach the function"
    )
    decided: Decided | None = Field(None, description="The decision that set the function up")
    description: Text | None = Field(None, description="What the function does, in words")


PolicyKind = Literal[
    "modell", "plan", "policy", "program", "regel", "riktlinje", "rutin", "strategi", "taxa"
]
"""The kinds of a municipality's governing documents (Svenljunga's cover page, seed 001)."""
ON_DEMAND = "vid_behov"
"""``revise: vid_behov``: the document is revised when needed ("Revideras: Vid behov")."""


class Policy(Frozen):
    """One of the municipality's own governing documents for the work (a riktlinje, a model,
    a plan), with when it is to be followed up and revised."""

    key: Key
    title: Title
    kind: PolicyKind | None = None
    decided: Decided | None = Field(None, description="The decision that adopted the document")
    owner: str = Field(
        min_length=1,
        max_length=64,
        description="Who answers for the document (dokumentansvarig): a person id or a role",
    )
    follow_up: Period | None = Field(
        None, description="How often it is followed up (P1Y: 'Följas upp: Årligen'); none: never"
    )
    revise: Period | Literal["vid_behov"] = Field(
        ON_DEMAND, description="How often it is revised: a period, or vid_behov (on demand)"
    )
    last_followed_up: dt.date | None = None
    last_revised: dt.date | None = None

    @property
    def adopted(self) -> dt.date | None:
        """The date of the text in force: its last revision, else its decision."""
        return self.last_revised or (self.decided.date if self.decided else None)

    def follow_ups(self) -> Iterator[dt.date]:
        """The follow-ups due from the last one (or the adoption) on, each a period apart."""
        base = self.last_followed_up or self.adopted
        if self.follow_up is None or base is None:
            return
        for times in itertools.count(1):
            yield add_period(base, self.follow_up, times)

    def revisions(self) -> Iterator[dt.date]:
        """The revisions due from the adoption on; none when it is revised on demand."""
        base = self.adopted
        if self.revise == ON_DEMAND or base is None:
            return
        for times in itertools.count(1):
            yield add_period(base, self.revise, times)

    @property
    def next_follow_up(self) -> dt.date | None:
        return next(self.follow_ups(), None)

    @property
    def next_revision(self) -> dt.date | None:
        return next(self.revisions(), None)


class ComplianceSettings(Frozen):
    """Where Lag (2023:196) leaves the cadence to the municipality: its own choices, shown as
    such (``tsk org show``), from which a compliance view judges what is due."""

    lagesbild_renewal: Period = Field(
        "P2Y",
        description="The strategic lägesbild is renewed at least this often. The law's text we"
        " have sets no interval ('at least every other year' is unverified there; Herrljunga's"
        " guideline, seed 003, says it): the municipality's choice. Default P2Y",
    )
    followup_interval: Period = Field(
        "P1Y",
        description="The decided action plan is followed up at least this often (Brå's step 5);"
        " the municipality's choice. Default P1Y, as KS reports yearly to KF",
    )
    plan_renewal: Period = Field(
        "P2Y",
        description="The action plan is decided anew at least this often, after the lägesbild it"
        " rests on; the municipality's choice. Default P2Y",
    )


class Organisation(Frozen):
    municipality: Key
    name: OneLine = Field(min_length=1)
    calendar: CalendarSettings = CalendarSettings()
    mail: MailSettings
    privacy: Privacy = Privacy()
    audit: AuditSettings = AuditSettings()
    admins: tuple[PersonId, ...] = Field(
        (),
        description="People who may load a new version of this organisation into the database "
        "(tsk org load)",
    )
    permissions: Permissions = Permissions()
    events: EventSettings = EventSettings()
    map: MapSettings | None = Field(
        None, description="Where the maps start; without it, over Sweden"
    )
    samordningsfunktion: Samordningsfunktion | None = Field(
        None,
        description="The coordinating function the law asks for (Lag 2023:196); the validator"
        " requires it",
    )
    policies: tuple[Policy, ...] = Field(
        (), description="The municipality's own governing documents, followed up and revised"
    )
    compliance: ComplianceSettings = Field(
        ComplianceSettings(), description="Cadences the law leaves to the municipality"
    )
    people: tuple[Person, ...] = Field(min_length=1)
    groups: tuple[Group, ...] = ()
    towns: tuple[Town, ...] = ()
    areas: tuple[Area, ...] = ()
    bodies: dict[Body, BodySettings] = {}
    processes: dict[Key, ProcessSettings] = {}
    routing: Routing

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def group(self, key: str) -> Group | None:
        return next((g for g in self.groups if g.key == key), None)

    def holders(self, role: str) -> list[Person]:
        return [p for p in self.people if role in p.roles]

    def deputies(self, role: str) -> list[Person]:
        return [p for p in self.people if role in p.deputy_for]

    @property
    def main_town(self) -> Town | None:
        return next((t for t in self.towns if t.main), None)

"""The action register: what the meetings decide to do, who does it by when, and how it went.

An action (åtgärd) has Brå's columns ("Upprätta åtgärdsplan": Orsak, Åtgärd, Operativa mål,
När, Vem, Uppföljning) and a status, green, yellow or red; with its cost, the cycle it came
from (a lägesbild, a walk's sammanställning, samverkan's steps), the place it acts on (a town
or area, a place in it, a point), the lägesbild category its effect is measured on, the
decision that took it and the medborgarlöfte it serves.

Every change is an act with its audit event: ``action.added``, ``action.updated`` (each field
changed, old and new), ``action.followed_up`` (the status and state it left the action in; the
note stays in its row, the event keeps its SHA-256), ``action.due_soon`` and
``action.overdue`` (the scheduler's reminder and notice, once per due date).

Who may add and change actions: the admins, the chairs and deputies of the groups, the
coordinators (``samordnare``, ``sakerhetschef`` and who stands in for them) and the people of
the samordningsfunktion; for an action from a cycle, also the members of the cycle's group. The
owner may follow up their own action. Everyone of the organisation may read the register: it is
the municipality's plan, not personal data.

The act checks every field and refuses with every problem at once, in one sentence
(:class:`InvalidAction`, ``field`` the first one wrong), and changes nothing then.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.canonical import digest
from tsk_workflow.engine import notify, privacy
from tsk_workflow.engine.directory import SYSTEM, PermissionDenied
from tsk_workflow.engine.events import categories, check_point, places
from tsk_workflow.engine.plan import ActionDates
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.i18n import N_, _
from tsk_workflow.routing import sek
from tsk_workflow.store import actions as stored
from tsk_workflow.store import cycles as stored_cycles

if TYPE_CHECKING:
    from tsk_workflow.engine.act import Act
    from tsk_workflow.engine.service import Engine
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Action, ActionFollowUp

STATUSES = ("green", "yellow", "red")
STATUS_WORDS = {"green": N_("green"), "yellow": N_("yellow"), "red": N_("red")}
"""Brå's traffic light as a word: the colour is never shown alone."""
STATE_WORDS = {"active": N_("active"), "done": N_("done"), "cancelled": N_("cancelled")}
"""Brå's traffic light: on track, at risk, off track."""
STATES = ("active", "done", "cancelled")
TEXT_FIELDS = ("title", "cause", "goal", "followup_plan")
FIELDS = (
    "title",
    "cause",
    "goal",
    "start",
    "due",
    "owner",
    "owner_organisation",
    "followup_plan",
    "status",
    "cost",
    "category",
    "town",
    "place",
    "latitude",
    "longitude",
    "window_days",
    "cycle",
    "decision",
    "promise",
)
"""What an action is given, in the order a form shows them (and problems are listed)."""
REQUIRED = ("title", "cause", "due", "owner")
MAX_TITLE = 300
MAX_TEXT = 4000
MAX_COST = 10_000_000_000
WINDOW_DAYS = 90
"""The default window of an effect follow-up: 90 days before the start and after the end."""
REMIND_BEFORE = dt.timedelta(days=14)
"""The owner's reminder comes two weeks before the due date."""
PROMISE_PROCESS = "medborgarloften"
MANAGER_ROLES = ("samordnare", "sakerhetschef")


# ---------------------------------------------------------------- what an action is


@dataclass(frozen=True)
class FollowUp:
    at: dt.datetime
    by: str
    status: str
    state: str
    note: str | None

    @classmethod
    def of(cls, row: ActionFollowUp) -> FollowUp:
        return cls(row.at, row.by, row.status, row.state, row.note)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "by": self.by,
            "status": self.status,
            "state": self.state,
            "note": self.note,
        }


@dataclass(frozen=True)
class ActionView:
    """An action as people read it; ``overdue``: active and its due date has passed."""

    id: int
    title: str
    cause: str
    goal: str | None
    followup_plan: str | None
    start: dt.date
    due: dt.date
    owner: str
    owner_organisation: str | None
    status: str
    state: str
    cost: float | None
    category: str | None
    town: str | None
    place: str | None
    point: tuple[float, float] | None
    window_days: int
    cycle_id: int | None
    decision_id: int | None
    promise_cycle_id: int | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    done_on: dt.date | None
    followups: tuple[FollowUp, ...]
    overdue: bool

    @classmethod
    def of(cls, row: Action, today: dt.date) -> ActionView:
        point = (
            (row.latitude, row.longitude)
            if row.latitude is not None and row.longitude is not None
            else None
        )
        return cls(
            id=row.id,
            title=row.title,
            cause=row.cause,
            goal=row.goal,
            followup_plan=row.followup_plan,
            start=row.start,
            due=row.due,
            owner=row.owner,
            owner_organisation=row.owner_organisation,
            status=row.status,
            state=row.state,
            cost=row.cost,
            category=row.category,
            town=row.town,
            place=row.place,
            point=point,
            window_days=row.window_days,
            cycle_id=row.cycle_id,
            decision_id=row.decision_id,
            promise_cycle_id=row.promise_cycle_id,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            done_on=row.done_on,
            followups=tuple(FollowUp.of(f) for f in row.followups),
            overdue=row.state == "active" and row.due < today,
        )

    @property
    def last_followup(self) -> FollowUp | None:
        return self.followups[-1] if self.followups else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "cause": self.cause,
            "goal": self.goal,
            "followup_plan": self.followup_plan,
            "start": self.start.isoformat(),
            "due": self.due.isoformat(),
            "owner": self.owner,
            "owner_organisation": self.owner_organisation,
            "status": self.status,
            "state": self.state,
            "overdue": self.overdue,
            "cost": self.cost,
            "category": self.category,
            "town": self.town,
            "place": self.place,
            "latitude": self.point[0] if self.point else None,
            "longitude": self.point[1] if self.point else None,
            "window_days": self.window_days,
            "cycle_id": self.cycle_id,
            "decision_id": self.decision_id,
            "promise_cycle_id": self.promise_cycle_id,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "followups": [f.to_dict() for f in self.followups],
        }


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class ActionProblem:
    field: str
    message: str


class InvalidAction(Refused):
    """An action that does not fit: every problem, in one sentence; ``field`` is the first."""

    def __init__(self, problems: Sequence[ActionProblem]) -> None:
        self.problems = list(problems)
        listed = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(
            _("the action is not right: {problems}").format(problems=listed),
            field=problems[0].field if problems else None,
        )

    def by_field(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for problem in self.problems:
            found.setdefault(problem.field, problem.message)
        return found


# ---------------------------------------------------------------- checking what is given


@dataclass
class _Checked:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[ActionProblem] = field(default_factory=list)

    def wrong(self, name: str, message: str) -> None:
        self.problems.append(ActionProblem(name, message))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\r\n", "\n").strip()
    return text or None


def _day(text: str | None, name: str, out: _Checked) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        out.wrong(name, _("{value} is not a date (YYYY-MM-DD)").format(value=repr(text)))
        return None


class Checker:
    """Checks the fields given to an action against the organisation and the database."""

    def __init__(self, engine: Engine, session: Session, today: dt.date) -> None:
        self.engine = engine
        self.org = engine.org
        self.session = session
        self.today = today

    def check(
        self, given: Mapping[str, Any], current: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[ActionProblem]]:
        """The columns ``given`` sets, and the problems, checked with the ``current`` columns
        of an action being changed (None: a new action, whose required fields must be given)."""
        out = _Checked()
        for name in given:
            if name not in FIELDS:
                out.wrong(
                    str(name),
                    _("no such field of an action (fields: {fields})").format(
                        fields=", ".join(FIELDS)
                    ),
                )
        text = {name: _text(given.get(name)) for name in FIELDS if name in given}
        if current is None:
            for name in REQUIRED:
                if text.get(name) is None:
                    out.wrong(name, _required(name))
        else:
            for name in REQUIRED:
                if name in text and text[name] is None:
                    out.wrong(name, _required(name))
        self._texts(text, out)
        self._dates(text, current, out)
        self._owner(text, out)
        self._status(text, out)
        self._cost(text, out)
        self._place(text, current, out)
        self._links(text, out)
        if "window_days" in text:
            self._window(text["window_days"], out)
        order = {name: i for i, name in enumerate(FIELDS)}
        out.problems.sort(key=lambda p: order.get(p.field, len(order)))
        return out.values, out.problems

    def _texts(self, text: Mapping[str, str | None], out: _Checked) -> None:
        for name in TEXT_FIELDS:
            if name not in text:
                continue
            value = text[name]
            most = MAX_TITLE if name == "title" else MAX_TEXT
            if value is not None and len(value) > most:
                out.wrong(
                    name,
                    _("is {length} characters long; at most {most} are allowed").format(
                        length=len(value), most=most
                    ),
                )
                continue
            if name == "title" and value is not None:
                value = " ".join(value.split())
            out.values[name] = value

    def _dates(
        self, text: Mapping[str, str | None], current: Mapping[str, Any] | None, out: _Checked
    ) -> None:
        start = _day(text.get("start"), "start", out) if "start" in text else None
        due = _day(text.get("due"), "due", out) if "due" in text else None
        if start is not None:
            out.values["start"] = start
        elif current is None and "start" not in [p.field for p in out.problems]:
            out.values["start"] = start = self.today
        if due is not None:
            out.values["due"] = due
        first = start or (current or {}).get("start")
        last = due or (current or {}).get("due")
        for day, name in ((first, "start"), (last, "due")):
            if day is not None and not dt.date(2000, 1, 1) <= day <= dt.date(2200, 12, 31):
                out.wrong(name, _("{date} is not a plausible date").format(date=day))
                return
        if first is not None and last is not None and last < first:
            out.wrong(
                "due",
                _("the due date {due} is before the start {start}").format(
                    due=last.isoformat(), start=first.isoformat()
                ),
            )

    def _owner(self, text: Mapping[str, str | None], out: _Checked) -> None:
        owner = text.get("owner")
        if owner is not None:
            person = self.org.person(owner)
            if person is None:
                out.wrong(
                    "owner",
                    _("{value} is not a person of {org}").format(
                        value=repr(owner), org=self.org.name
                    ),
                )
            else:
                out.values["owner"] = person.id
                if "owner_organisation" not in text:
                    out.values["owner_organisation"] = person.department
        if "owner_organisation" in text:
            organisation = text["owner_organisation"]
            if organisation is not None and len(organisation) > 200:
                out.wrong("owner_organisation", _("give the organisation in 200 characters"))
            else:
                out.values["owner_organisation"] = organisation

    def _status(self, text: Mapping[str, str | None], out: _Checked) -> None:
        if "status" not in text:
            return
        status = (text["status"] or "").casefold()
        found = _STATUS_WORDS.get(status)
        if found is None:
            out.wrong(
                "status",
                _("{value} is not a status (green, yellow or red)").format(
                    value=repr(text["status"])
                ),
            )
        else:
            out.values["status"] = found

    def _cost(self, text: Mapping[str, str | None], out: _Checked) -> None:
        if "cost" not in text:
            return
        value = text["cost"]
        if value is None:
            out.values["cost"] = None
            return
        try:
            cost = float(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except ValueError:
            out.wrong("cost", _("{value} is not an amount in kronor").format(value=repr(value)))
            return
        if not math.isfinite(cost) or not 0 <= cost <= MAX_COST:
            out.wrong(
                "cost",
                _("cost {cost} kr is not a plausible amount (0 to {most})").format(
                    cost=value, most=sek(MAX_COST)
                ),
            )
            return
        out.values["cost"] = cost

    def _place(
        self, text: Mapping[str, str | None], current: Mapping[str, Any] | None, out: _Checked
    ) -> None:
        if "category" in text:
            category = text["category"]
            if category is None:
                out.values["category"] = None
            else:
                known = categories(self.engine)
                key = _match(category, {k: (v.sv, v.en) for k, v in known.items()})
                if key is None:
                    out.wrong(
                        "category",
                        _("{value} is not one of the categories ({allowed})").format(
                            value=repr(category), allowed=", ".join(known)
                        ),
                    )
                else:
                    out.values["category"] = key
        if "town" in text:
            town = text["town"]
            if town is None:
                out.values["town"] = None
            else:
                known_places = places(self.org)
                key = _match(town, {k: (v,) for k, v in known_places.items()})
                if key is None:
                    out.wrong(
                        "town",
                        _("{value} is not a town or area of {org} ({keys})").format(
                            value=repr(town), org=self.org.name, keys=", ".join(known_places)
                        ),
                    )
                else:
                    out.values["town"] = key
        if "place" in text:
            place = text["place"]
            if place is not None and (len(place) > 200 or "\n" in place):
                out.wrong("place", _("give the place on one line, in 200 characters"))
            else:
                out.values["place"] = place
        self._point(text, current, out)

    def _point(
        self, text: Mapping[str, str | None], current: Mapping[str, Any] | None, out: _Checked
    ) -> None:
        if "latitude" not in text and "longitude" not in text:
            return
        lat, lon = text.get("latitude"), text.get("longitude")
        if lat is None and lon is None:
            out.values["latitude"] = out.values["longitude"] = None
            return
        found, problems = check_point(lat, lon)
        for name, message in problems:
            out.wrong(name, message)
        if found:
            town = out.values.get("town", (current or {}).get("town"))
            if town is None:
                out.wrong("town", _("a point on the map needs the town or area it is in"))
            out.values.update(found)

    def _links(self, text: Mapping[str, str | None], out: _Checked) -> None:
        municipality = self.org.municipality
        if "cycle" in text:
            ref = text["cycle"]
            cycle = _cycle(self.session, municipality, ref) if ref else None
            if ref is not None and cycle is None:
                out.wrong("cycle", _("no cycle {ref} in {org}").format(ref=ref, org=self.org.name))
            else:
                out.values["cycle_id"] = cycle.id if cycle is not None else None
        if "promise" in text:
            ref = text["promise"]
            cycle = _cycle(self.session, municipality, ref) if ref else None
            if ref is not None and cycle is None:
                out.wrong(
                    "promise", _("no cycle {ref} in {org}").format(ref=ref, org=self.org.name)
                )
            elif cycle is not None and cycle.process != PROMISE_PROCESS:
                out.wrong(
                    "promise",
                    _("cycle {ref} is not a medborgarlöfte (a cycle of '{process}')").format(
                        ref=cycle.ref, process=PROMISE_PROCESS
                    ),
                )
            else:
                out.values["promise_cycle_id"] = cycle.id if cycle is not None else None
        if "decision" in text:
            ref = text["decision"]
            if ref is None:
                out.values["decision_id"] = None
                return
            number = ref.lstrip("#")
            found = (
                stored_cycles.decision(self.session, municipality, int(number))
                if number.isdigit()
                else None
            )
            if found is None:
                out.wrong(
                    "decision",
                    _("no decision {id} in {organisation}").format(
                        id=ref, organisation=self.org.name
                    ),
                )
            else:
                out.values["decision_id"] = found.id

    def _window(self, value: str | None, out: _Checked) -> None:
        if value is None:
            out.values["window_days"] = WINDOW_DAYS
            return
        if not value.isdigit() or not 7 <= int(value) <= 730:
            out.wrong(
                "window_days",
                _("{value} is not a window of 7 to 730 days").format(value=repr(value)),
            )
            return
        out.values["window_days"] = int(value)


_STATUS_WORDS = {
    "green": "green",
    "grön": "green",
    "gron": "green",
    "yellow": "yellow",
    "gul": "yellow",
    "red": "red",
    "röd": "red",
    "rod": "red",
}


def _match(text: str, known: Mapping[str, tuple[str, ...]]) -> str | None:
    wanted = text.strip().casefold()
    for key, names in known.items():
        if wanted == key.casefold() or wanted in (n.strip().casefold() for n in names):
            return key
    return None


def _required(name: str) -> str:
    return {
        "title": _("say what the action is (it is required)"),
        "cause": _("give the cause it answers, as the lägesbild or analysis found it"),
        "due": _("give the date it is to be done by (YYYY-MM-DD)"),
        "owner": _("name the person who answers for it (an action needs an owner)"),
    }.get(name, _("it is required"))


def _cycle(session: Session, municipality: str, ref: str) -> Any:
    by, key = ("id", int(ref)) if ref.isdigit() else ("ref", ref)
    return stored_cycles.cycle(session, municipality, by, key)


# ---------------------------------------------------------------- who may


def may_manage(engine: Engine, who: str, cycle_group: str | None = None) -> bool:
    """Whether ``who`` may add and change actions (see the module's docstring)."""
    org = engine.org
    if who in org.admins:
        return True
    person = org.person(who)
    if person is None:
        return False
    if any(r in (*person.roles, *person.deputy_for) for r in MANAGER_ROLES):
        return True
    if who in _coordinating(engine):
        return True
    for group in org.groups:
        if who in (group.chair, group.deputy):
            return True
        if cycle_group is not None and group.key == cycle_group and who in group.members:
            return True
    return False


def _coordinating(engine: Engine) -> tuple[str, ...]:
    """The people of the samordningsfunktion, where the organisation names it."""
    function = getattr(engine.org, "samordningsfunktion", None)
    return tuple(getattr(function, "holders", ()) or ())


def _require_manager(
    engine: Engine, who: str, action: str, subject: str, group: str | None
) -> None:
    if may_manage(engine, who, group):
        return
    raise PermissionDenied(
        who,
        action,
        subject,
        _(
            "only the coordinators, the chairs of the groups and the samordningsfunktion"
            " may change the action register"
        ),
    )


def role_of(engine: Engine, who: str) -> str:
    """The role an act of ``who`` is recorded under: the scheduler's ``system``, a person's
    first role, else ``member``."""
    if who == SYSTEM:
        return "system"
    person = engine.org.person(who)
    return person.roles[0] if person is not None and person.roles else "member"


# ---------------------------------------------------------------- the acts


class Actions:
    """The acts on the action register of one organisation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.org = engine.org

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.engine.cal.zone).date()

    def add(self, actor: str | None, given: Mapping[str, Any]) -> ActionView:
        """A new action from ``given`` (the ``FIELDS`` as text): one act."""
        who = self.engine.actor(actor, "action.add")
        with self.engine.act() as act:
            today = self.today(act.now)
            values, problems = Checker(self.engine, act.session, today).check(given)
            group = self._group_of(act.session, values.get("cycle_id"))
            _require_manager(
                self.engine, who, "action.add", f"municipality:{self.org.municipality}", group
            )
            if problems:
                raise InvalidAction(problems)
            values.setdefault("status", "green")
            values.setdefault("window_days", WINDOW_DAYS)
            row = stored.add_action(
                act.session,
                {
                    "municipality": self.org.municipality,
                    "state": "active",
                    "created_by": who,
                    "created_at": act.now,
                    "updated_at": act.now,
                    **values,
                },
            )
            view = ActionView.of(row, today)
            self._record(act, who, "action.added", view, _added_payload(view))
            if view.cycle_id is not None:
                self._settle(act, view.cycle_id, who)
            return view

    def _settle(self, act: Act, cycle_id: int, who: str) -> None:
        """The cycle an action came from moves on if it waited for one (``actions_recorded``)
        and its step's work is done."""
        cycle = self.engine.cycle_state(act, cycle_id)
        if cycle.closed_at is not None:
            return
        ctx = self.engine.cycle_context(act, cycle)
        step = ctx.process.definition.step(cycle.state)
        if step.actions:
            self.engine.settle(ctx, cycle, SYSTEM)

    def update(self, actor: str | None, action_id: int, given: Mapping[str, Any]) -> ActionView:
        """Change the fields ``given`` of an action; its status only with a follow-up."""
        who = self.engine.actor(actor, "action.update", f"action:{action_id}")
        if "status" in given:
            raise Refused(
                _(
                    "a status changes with a follow-up that says why:"
                    " tsk action followup {id} --status STATUS --note TEXT"
                ).format(id=action_id),
                field="status",
            )
        if not given:
            raise Refused(_("nothing to change: give the fields to change"))
        with self.engine.act() as act:
            today = self.today(act.now)
            row = self._find(act.session, action_id)
            _require_manager(
                self.engine,
                who,
                "action.update",
                f"action:{row.id}",
                self._group_of(act.session, row.cycle_id),
            )
            current = {name: getattr(row, name) for name in ("start", "due", "town")}
            values, problems = Checker(self.engine, act.session, today).check(given, current)
            if problems:
                raise InvalidAction(problems)
            changes = {
                name: (_plain(getattr(row, name)), _plain(value))
                for name, value in values.items()
                if getattr(row, name) != value
            }
            if not changes:
                return ActionView.of(row, today)
            for name, value in values.items():
                setattr(row, name, value)
            if "due" in changes:
                row.reminded_for = row.overdue_noticed_for = None
            row.updated_at = act.now
            act.session.flush()
            view = ActionView.of(row, today)
            self._record(
                act,
                who,
                "action.updated",
                view,
                {"action": view.id, "changes": {k: list(v) for k, v in changes.items()}},
            )
            return view

    def followup(
        self,
        actor: str | None,
        action_id: int,
        *,
        status: str | None = None,
        state: str | None = None,
        note: str | None = None,
    ) -> ActionView:
        """Follow up an action: its status (green, yellow, red), whether it is done or
        cancelled (``state``), and a note that says how it goes. A change of status or state
        needs the note."""
        who = self.engine.actor(actor, "action.followup", f"action:{action_id}")
        note = _text(note)
        problems: list[ActionProblem] = []
        found_status = None
        if status is not None:
            found_status = _STATUS_WORDS.get(status.strip().casefold())
            if found_status is None:
                problems.append(
                    ActionProblem(
                        "status",
                        _("{value} is not a status (green, yellow or red)").format(
                            value=repr(status)
                        ),
                    )
                )
        if state is not None and state not in STATES:
            problems.append(
                ActionProblem(
                    "state",
                    _("{value} is not a state ({allowed})").format(
                        value=repr(state), allowed=", ".join(STATES)
                    ),
                )
            )
        if note is not None and len(note) > MAX_TEXT:
            problems.append(
                ActionProblem(
                    "note",
                    _("is {length} characters long; at most {most} are allowed").format(
                        length=len(note), most=MAX_TEXT
                    ),
                )
            )
        problems += [
            ActionProblem(key, privacy.refusal())
            for key in privacy.refuses(self.engine.org, {"note": note})
        ]
        if problems:
            raise InvalidAction(problems)
        with self.engine.act() as act:
            today = self.today(act.now)
            row = self._find(act.session, action_id)
            if who != row.owner:
                _require_manager(
                    self.engine,
                    who,
                    "action.followup",
                    f"action:{row.id}",
                    self._group_of(act.session, row.cycle_id),
                )
            new_status = found_status or row.status
            new_state = state or row.state
            changed = new_status != row.status or new_state != row.state
            if changed and note is None:
                raise InvalidAction(
                    [
                        ActionProblem(
                            "note",
                            _(
                                "say why the status changes: a follow-up note is required"
                                " ({old} to {new})"
                            ).format(
                                old=_status_state(row.status, row.state),
                                new=_status_state(new_status, new_state),
                            ),
                        )
                    ]
                )
            if not changed and note is None:
                raise InvalidAction(
                    [ActionProblem("note", _("a follow-up says how it goes: give a note"))]
                )
            before = (row.status, row.state)
            row.status, row.state = new_status, new_state
            if new_state == "done" and before[1] != "done":
                row.done_on = today
            elif new_state != "done":
                row.done_on = None
            row.updated_at = act.now
            stored.add_followup(
                act.session,
                row,
                {"at": act.now, "by": who, "status": new_status, "state": new_state, "note": note},
            )
            view = ActionView.of(row, today)
            self._record(
                act,
                who,
                "action.followed_up",
                view,
                {
                    "action": view.id,
                    "status": [before[0], new_status],
                    "state": [before[1], new_state],
                    "note_digest": digest(note) if note else None,
                },
            )
            return view

    # ---------------------------------------------------------------- reading

    def listing(
        self,
        *,
        states: Sequence[str] | None = ("active",),
        owner: str | None = None,
        cycle: str | None = None,
        status: str | None = None,
        overdue: bool = False,
        promise: str | None = None,
    ) -> list[ActionView]:
        """The register, by due date: active actions unless ``states`` says otherwise; those
        from the cycle ``cycle``, or serving the medborgarlöfte of the cycle ``promise``."""
        now = self.engine.clock()
        today = self.today(now)
        with self.engine.store.reading() as session:
            cycle_id, promise_id = (
                self._cycle_id(session, ref) if ref is not None else None
                for ref in (cycle, promise)
            )
            if status is not None and status not in STATUSES:
                found_status = _STATUS_WORDS.get(status.casefold())
                if found_status is None:
                    raise Refused(
                        _("{value} is not a status (green, yellow or red)").format(
                            value=repr(status)
                        )
                    )
                status = found_status
            rows = stored.actions(
                session,
                self.org.municipality,
                states=states,
                owner=owner,
                cycle_id=cycle_id,
                promise_cycle_id=promise_id,
                status=status,
                due_before=today if overdue else None,
            )
            views = [ActionView.of(row, today) for row in rows]
        return [v for v in views if v.overdue] if overdue else views

    def _cycle_id(self, session: Session, ref: str) -> int:
        found = _cycle(session, self.org.municipality, ref)
        if found is None:
            raise NotFound(_("no cycle {ref} in {org}").format(ref=ref, org=self.org.name))
        return int(found.id)

    def plan_dates(self) -> list[ActionDates]:
        """The active actions' due dates and next follow-ups (each a
        ``compliance.followup_interval`` after the last follow-up, or after the action was
        added), for the year plan."""
        from tsk_workflow.organisation.model import add_period

        interval = self.org.compliance.followup_interval
        found = []
        for view in self.listing():
            last = view.last_followup.at if view.last_followup else view.created_at
            following = add_period(last.astimezone(self.engine.cal.zone).date(), interval)
            found.append(ActionDates(view.id, view.title, view.owner, view.due, following))
        return found

    def show(self, action_id: int) -> ActionView:
        now = self.engine.clock()
        with self.engine.store.reading() as session:
            return ActionView.of(self._find(session, action_id), self.today(now))

    def may_change(self, who: str, view: ActionView) -> bool:
        """Whether ``who`` may change ``view`` (a manager); :meth:`may_follow_up` for its owner."""
        group = None
        if view.cycle_id is not None:
            with self.engine.store.reading() as session:
                group = self._group_of(session, view.cycle_id)
        return may_manage(self.engine, who, group)

    def may_follow_up(self, who: str, view: ActionView) -> bool:
        return who == view.owner or self.may_change(who, view)

    # ---------------------------------------------------------------- the scheduler's notices

    def send_notices(self, now: dt.datetime) -> int:
        """Queue the owners' reminders (two weeks before the due date) and overdue notices
        (the day after it; to the owner and the chairs of the group the action came from), each
        once per due date, with their audit events. Returns how many were queued."""
        today = self.today(now)
        with self.engine.store.reading() as session:
            if not stored.notices_due(session, self.org.municipality, today + REMIND_BEFORE):
                return 0
        count = 0
        with self.engine.store.transaction() as session:
            audit.lock_chain(session)
            with self.engine.act_in(session, now) as act:
                for row in stored.notices_due(
                    session, self.org.municipality, today + REMIND_BEFORE
                ):
                    count += self._notice(act, row, today)
        return count

    def _notice(self, act: Act, row: Action, today: dt.date) -> int:
        overdue = row.due < today
        if not overdue and row.reminded_for == row.due:
            return 0
        view = ActionView.of(row, today)
        people = [row.owner]
        if overdue:
            people += self._chairs_of(act.session, row.cycle_id)
            row.overdue_noticed_for = row.due
        row.reminded_for = row.due
        template = "action_overdue" if overdue else "action_due_soon"
        notify.queue(
            act.effects,
            self.org,
            list(dict.fromkeys(people)),
            template,
            f"action:{row.id}:{template}:{row.due.isoformat()}",
            action_mail(self.engine, view),
            act.now,
            row.cycle_id,
        )
        self._record(
            act,
            SYSTEM,
            "action.overdue" if overdue else "action.due_soon",
            view,
            {"action": row.id, "due": row.due.isoformat(), "to": list(dict.fromkeys(people))},
        )
        return 1

    # ---------------------------------------------------------------- helpers

    def _find(self, session: Session, action_id: int) -> Action:
        row = stored.action(session, self.org.municipality, action_id)
        if row is None:
            raise NotFound(
                _("no action {id} in {organisation}").format(
                    id=action_id, organisation=self.org.name
                )
            )
        return row

    def _group_of(self, session: Session, cycle_id: int | None) -> str | None:
        if cycle_id is None:
            return None
        cycle = stored_cycles.cycle(session, self.org.municipality, "id", cycle_id)
        return cycle.group_key if cycle is not None else None

    def _chairs_of(self, session: Session, cycle_id: int | None) -> list[str]:
        group_key = self._group_of(session, cycle_id)
        group = self.org.group(group_key) if group_key else None
        if group is None:
            return [p.id for p in self.org.holders("samordnare")][:2]
        return [p for p in (group.chair, group.deputy) if p]

    def _record(
        self, act: Act, who: str, action: str, view: ActionView, payload: dict[str, Any]
    ) -> None:
        act.record(
            audit.Act(
                self.org.municipality,
                who,
                role_of(self.engine, who),
                action,
                f"action:{view.id}",
                payload,
                view.cycle_id,
            )
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _status_state(status: str, state: str) -> str:
    return status if state == "active" else f"{status}, {state}"


def _added_payload(view: ActionView) -> dict[str, Any]:
    found = view.to_dict()
    for name in ("followups", "created_at", "updated_at", "overdue", "done_on"):
        found.pop(name)
    return found


def action_mail(engine: Engine, view: ActionView) -> dict[str, Any]:
    """What an action's reminder and overdue notice say."""
    from tsk_workflow.engine.mailctx import name_of, tsk

    org = engine.org
    return {
        "action": {
            "id": view.id,
            "title": view.title,
            "cause": view.cause,
            "goal": view.goal or "",
            "start": view.start.isoformat(),
            "due": view.due.isoformat(),
            "status": view.status,
            "owner": name_of(org, view.owner),
        },
        "command": tsk(
            org, "action", "followup", str(view.id), "--status", "green|yellow|red", "--note", '"…"'
        ),
    }

"""The year plan's pages: a month (``/plan?month=2027-03``) and a week
(``/plan?week=2027-W11``) of openings, meetings, deadlines and reminders, and each person's
private ICS subscription address.

The items are the API's (``api_record._plan_items``: ``engine/plan.py``'s year, filtered by
mine, role and kind as ``GET /api/v1/plan/{year}`` filters them). An item links to its cycle
when the cycle is open or was (a planned one may not be yet), and to its task when the task is
the person's.

**The subscription.** ``GET /ics/{token}.ics`` answers without a session: the person's plan
(what concerns their roles, this year and the next) in the language they chose, as the API's
ICS. The token grants that and nothing else; only its SHA-256 is kept (``store/ics_tokens.py``).
It is shown once, when made: keeping it to show it again would mean keeping it. A person has
one address in force at most; making a new one revokes the old; "revoke" ends it. An unknown
or revoked token gets 404, the same either way, and the door is rate-limited. Making and
revoking an address are not in the audit trail, as API tokens are not (``web/tokens.py``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tsk_workflow import calendar as tsk_calendar
from tsk_workflow import i18n
from tsk_workflow.engine import plan as planning
from tsk_workflow.engine.plan import PlanItem
from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _
from tsk_workflow.store import ics_tokens
from tsk_workflow.web import bearer, onetime
from tsk_workflow.web.api_record import _plan_items
from tsk_workflow.web.deps import Acting, Reading
from tsk_workflow.web.pages import PageActor, PageReader, render
from tsk_workflow.web.problem import Problem
from tsk_workflow.web.ratelimit import limit
from tsk_workflow.web.sessions import state_of
from tsk_workflow.web.state import Someone

router = APIRouter(include_in_schema=False)

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
TOKEN_PREFIX = "tskics_"


@dataclass
class Day:
    date: dt.date
    inside: bool
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Week:
    number: int
    days: list[Day]


YEARS = range(1970, 2201)
"""The years the plan shows (those the API plans)."""


def _parse_month(text: str) -> dt.date:
    found = MONTH.match(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) not in YEARS:
        raise Problem(
            422, "invalid", _("{text} is not a month: write it as 2027-03.").format(text=text)
        )
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def _parse_week(text: str) -> dt.date:
    found = WEEK.match(text)
    try:
        if found is None or int(found.group(1)) not in YEARS:
            raise ValueError(text)
        return dt.date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        raise Problem(
            422, "invalid", _("{text} is not a week: write it as 2027-W11.").format(text=text)
        ) from None


def week_text(day: dt.date) -> str:
    """``2027-W11``, the week of ``day`` as ``?week=`` takes it."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


@router.get("/plan")
def plan_page(
    request: Request,
    reader: PageReader,
    month: Annotated[str, Query(max_length=10)] = "",
    week: Annotated[str, Query(max_length=10)] = "",
    mine: Annotated[str, Query(max_length=5)] = "",
    role: Annotated[list[str] | None, Query(max_length=64)] = None,
    kind: Annotated[list[str] | None, Query(max_length=16)] = None,
) -> Response:
    return _page(request, reader, month, week, mine == "1", role or [], kind or [])


def _page(
    request: Request,
    reader: Reading,
    month: str,
    week: str,
    mine: bool,
    roles: Sequence[str],
    kinds: Sequence[str],
    made: str | None = None,
) -> Response:
    engine = reader.engine
    zone = engine.cal.zone
    today = engine.clock().astimezone(zone).date()
    kinds = [k for k in kinds if k in planning.KINDS]
    errors: dict[str, str] = {}
    if week:
        first = _parse_week(week)
        last = first + dt.timedelta(days=6)
        grid_first, grid_last = first, last
    else:
        first = _parse_month(month) if month else today.replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        grid_first = first - dt.timedelta(days=first.weekday())
        grid_last = last + dt.timedelta(days=6 - last.weekday())
    items: list[PlanItem] = []
    try:
        for year in range(grid_first.year, grid_last.year + 1):
            found, _cal = _plan_items(reader, year, mine, roles, kinds)
            items += found
    except Refused as exc:
        errors["role"] = str(exc)
        items = []
    days = _days(reader, items, grid_first, grid_last, first, last)
    filters = {"mine": mine, "roles": list(roles), "kinds": kinds}
    keep = _query(mine, roles, kinds)
    if week:
        previous, following = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
        nav = {
            "previous": f"?week={week_text(previous)}{keep}",
            "next": f"?week={week_text(following)}{keep}",
            "other": f"?month={first:%Y-%m}{keep}",
        }
    else:
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        following = last + dt.timedelta(days=1)
        nav = {
            "previous": f"?month={previous:%Y-%m}{keep}",
            "next": f"?month={following:%Y-%m}{keep}",
            "other": f"?week={week_text(today if _same_month(first, today) else first)}{keep}",
        }
    weeks = [Week(days[i].date.isocalendar()[1], days[i : i + 7]) for i in range(0, len(days), 7)]
    someone = reader.someone
    subscription = ics_tokens.current(engine.store, someone.municipality, someone.person)
    context = {
        "view": "week" if week else "month",
        "first": first,
        "last": last,
        "month_name": _month_name(first),
        "week_number": first.isocalendar()[1],
        "weeks": weeks,
        "days": days,
        "listed": [d for d in days if d.inside and d.items],
        "today": today,
        "nav": nav,
        "filters": filters,
        "errors": errors,
        "kind_labels": {k: planning.kind_label(k, i18n.language()) for k in planning.KINDS},
        "role_options": _role_options(reader),
        "weekdays": [_(name) for name in planning.WEEKDAYS],
        "subscription": subscription,
        "subscription_made": (
            subscription.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            if subscription
            else None
        ),
        "made": made,
        "revoked": request.query_params.get("revoked") == "1",
        "form_id": onetime.new_form_id(),
        "month_value": f"{first:%Y-%m}",
        "week_value": week_text(first),
    }
    return render(request, "plan.html", context)


def _same_month(one: dt.date, other: dt.date) -> bool:
    return (one.year, one.month) == (other.year, other.month)


def _query(mine: bool, roles: Sequence[str], kinds: Sequence[str]) -> str:
    parts = (
        (["mine=1"] if mine else []) + [f"role={r}" for r in roles] + [f"kind={k}" for k in kinds]
    )
    return "".join(f"&{part}" for part in parts)


def _month_name(day: dt.date) -> str:
    """``mars 2027``, ``March 2027``: the calendar's month name in the language spoken."""
    return f"{tsk_calendar.month_name(day.month)} {day.year}"


def _role_options(reader: Reading) -> list[str]:
    org = reader.engine.org
    return sorted({role for p in org.people for role in (*p.roles, *p.deputy_for)})


def _days(
    reader: Reading,
    items: Sequence[PlanItem],
    grid_first: dt.date,
    grid_last: dt.date,
    first: dt.date,
    last: dt.date,
) -> list[Day]:
    """The days from ``grid_first`` to ``grid_last``, each with its items (those of the
    days from ``first`` to ``last`` only) as the page shows them."""
    engine = reader.engine
    lang = i18n.language()
    zone = engine.cal.zone
    cycles = {c.ref: c for c in engine.readable_cycles(reader.session, reader.person)}
    tasks = {
        (task.cycle.ref, task.key): task.id
        for task in engine.tasks(reader.session, person=reader.person, only_open=False)
    }
    days = [
        Day(grid_first + dt.timedelta(days=n), first <= grid_first + dt.timedelta(days=n) <= last)
        for n in range((grid_last - grid_first).days + 1)
    ]
    by_date = {d.date: d for d in days}
    for item in items:
        day = by_date.get(item.date)
        if day is None or not day.inside:
            continue
        link = None
        task = tasks.get((item.cycle, item.task)) if item.cycle and item.task else None
        if task is not None:
            link = f"/tasks/{task}"
        elif item.cycle is not None and item.cycle in cycles:
            link = f"/cycles/{item.cycle}"
        day.items.append(
            {
                "kind": item.kind,
                "label": planning.kind_label(item.kind, lang),
                "title": item.title.get(lang),
                "time": item.start.astimezone(zone).strftime("%H:%M") if item.start else None,
                "link": link,
                "cycle": item.cycle,
            }
        )
    return days


# ---------------------------------------------------------------- the subscription


@router.post("/plan/ics")
async def make_subscription(request: Request, actor: PageActor) -> Response:
    """A new private address (the old one revoked), shown on this answer only."""
    form = await request.form()
    form_id = form.get("form_id")
    if not isinstance(form_id, str) or not form_id:
        raise Problem(400, "invalid", _("The form is out of date: open it again."))
    who = actor.someone
    made: list[str] = []

    def act() -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        ics_tokens.issue(
            actor.engine.store,
            token_hash=bearer.digest(token),
            municipality=who.municipality,
            person=who.person,
            now=bearer.wall_clock(),
        )
        made.append(token)
        return "/plan#ics"

    key = onetime.key(who.municipality, who.person, "ics", form_id)
    where, ran = await run_in_threadpool(lambda: onetime.of(request).once(key, act))
    if not ran:  # sent twice: the first answer showed the address
        return RedirectResponse(where, status_code=303)
    address = f"{state_of(request).config.base_url}/ics/{made[0]}.ics"
    return await run_in_threadpool(lambda: _page_after(request, actor, address))


def _page_after(request: Request, actor: Acting, address: str) -> Response:
    with actor.engine.store.reading() as session:
        reader = Reading(actor.someone, actor.engine, session)
        page = _page(request, reader, "", "", False, [], [], made=address)
    page.headers["Cache-Control"] = "no-store"
    return page


@router.get("/plan/ics")
@router.get("/plan/ics/revoke")
def subscription_page(reader: PageReader) -> Response:
    """The forms' addresses, asked for with GET (back from signing in): the plan's page."""
    return RedirectResponse("/plan#ics", status_code=303)


@router.post("/plan/ics/revoke")
async def revoke_subscription(request: Request, actor: PageActor) -> Response:
    who = actor.someone
    store = actor.engine.store
    await run_in_threadpool(
        lambda: ics_tokens.revoke(store, who.municipality, who.person, bearer.wall_clock())
    )
    return RedirectResponse("/plan?revoked=1#ics", status_code=303)


@router.get("/ics/{token}.ics")
def subscription(request: Request, token: str) -> Response:
    """The person's plan as iCalendar, for the token of their address; no session."""
    limit(request, "ics")
    state = state_of(request)
    row = ics_tokens.find(state.store, bearer.digest(token)) if len(token) <= 100 else None
    engines = state.engines()
    engine = engines.get(row.municipality) if row is not None else None
    person = engine.org.person(row.person) if engine is not None and row is not None else None
    if engine is None or person is None:
        raise Problem(404, "not-found", _("There is no calendar at this address."))
    today = engine.clock().astimezone(engine.cal.zone).date()
    items: list[PlanItem] = []
    with engine.store.reading() as session:
        reader = Reading(Someone(engine.org.municipality, person.id), engine, session)
        for year in (today.year, today.year + 1):
            found, cal = _plan_items(reader, year, True)
            items += found
    body = planning.to_ics(items, engine.org, today.year, person.language, engine.clock(), cal)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"},
    )

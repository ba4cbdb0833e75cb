"""The year plan's pages (``web/page_plan.py``): Herrljunga's March 2027 as a month (weeks
with their ISO numbers, Monday first) and as a week, each item's kind in words and a link to
its cycle or task; the filters; and the private ICS subscription: made, fetched without a
session, only the person's own items, a new address revoking the old, revoked then 404.
On SQLite and PostgreSQL (the addresses are kept in ``ics_tokens``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import IcsToken

CLOCK_START = local(2027, 3, 1, 8)

CHAIR = "jessica.wahlstrom"  # chairs EST (trygghetssamordnare)
REPORTER = "ida.wikstrom"  # inrapportör
SECRETARY = "nina.bergqvist"  # sekreterare: KS's meetings are hers


@pytest.fixture
def client(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    engine.open_cycle(CHAIR, "est", "2027-03")
    with service_client(store, clock) as client:
        yield client


def _hidden(html: str, action: str) -> dict[str, str]:
    form = html[html.index(f'action="{action}"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', form))


# ---------------------------------------------------------------- the calendar


def test_the_month_shows_the_weeks_and_the_items_of_march(client: Any) -> None:
    demo_sign_in(client, CHAIR)
    page = client.get("/plan?month=2027-03")
    assert page.status_code == 200, page.text
    html = page.text
    assert "mars 2027" in html
    # 2027-03-01 is a Monday of week 9; the month ends in week 13 (Wednesday 31 March).
    for number in range(9, 14):
        assert f'href="/plan?week=2027-W{number:02d}"' in html
        assert f"v. {number}" in html
    assert "v. 14" not in html
    header = re.search(r"<thead>(.*?)</thead>", html, re.S)
    assert header is not None
    assert header.group(1).index("mån") < header.group(1).index("sön")  # Monday first
    # KS meets on the first Wednesday (3 March); EST opens on the 1st: its kind in words.
    assert re.search(r'kind-meeting">möte</span>\s*<span class="time">13:00</span>', html)
    assert "Kommunstyrelsen" in html
    assert 'kind-cycle_open">öppnas</span>' in html
    # The cycle of March is open: its items link to it; a planned one of April does not exist.
    assert 'href="/cycles/est-2027-03"' in html
    assert 'href="/cycles/est-2027-04"' not in html
    assert 'href="?month=2027-02" rel="prev"' in html
    assert 'href="?month=2027-04" rel="next"' in html
    # The list by day (what a phone shows) has the same items.
    listed = html[html.index('class="month-list"') :]
    assert "2027-03-03" in listed
    assert "Kommunstyrelsen" in listed


def test_the_week_lists_its_seven_days_monday_first(client: Any) -> None:
    demo_sign_in(client, CHAIR)
    page = client.get("/plan?week=2027-W09")
    assert page.status_code == 200, page.text
    html = page.text
    assert "vecka 9" in html
    days = re.findall(r'<h2 class="day">(\S+) (\d{4}-\d\d-\d\d)', html)
    assert [d for _name, d in days] == [f"2027-03-0{n}" for n in range(1, 8)]
    assert days[0][0] == "mån"
    assert "Kommunstyrelsen" in html  # Wednesday 3 March
    assert 'href="?week=2027-W08" rel="prev"' in html
    assert 'href="?week=2027-W10" rel="next"' in html
    english = client.get("/plan?week=2027-W09&lang=en").text
    assert "week 9" in english
    assert "meeting" in english


def test_a_week_across_the_new_year(client: Any) -> None:
    demo_sign_in(client, CHAIR)
    page = client.get("/plan?week=2027-W53")
    assert page.status_code == 422  # 2027 has 52 weeks
    page = client.get("/plan?week=2026-W53")
    assert page.status_code == 200
    days = re.findall(r'<h2 class="day">\S+ (\d{4}-\d\d-\d\d)', page.text)
    assert days[0] == "2026-12-28"
    assert days[-1] == "2027-01-03"


def test_the_filters_mine_role_and_kind(client: Any) -> None:
    demo_sign_in(client, REPORTER)
    meetings = client.get("/plan?month=2027-03&kind=meeting").text
    assert "kind-meeting" in meetings
    assert "kind-cycle_open" not in meetings
    assert 'name="kind" value="meeting" checked' in meetings
    assert 'href="?month=2027-04&amp;kind=meeting" rel="next"' in meetings
    mine = client.get("/plan?month=2027-03&mine=1").text
    assert "Kommunstyrelsen: möte" not in mine  # the secretary's, not the reporter's
    assert "kind-due" in mine
    secretary = client.get("/plan?month=2027-03&role=sekreterare").text
    assert "Kommunstyrelsen" in secretary
    unknown = client.get("/plan?month=2027-03&role=kung")
    assert unknown.status_code == 200
    assert re.search(r'id="e-role">[^<]*kung', unknown.text)


def test_bad_months_and_weeks_are_refused_with_a_sentence(client: Any) -> None:
    demo_sign_in(client, CHAIR)
    bad = ("month=2027-13", "month=mars", "month=0000-01", "week=2027-11", "week=9999-W52")
    for query in (*bad, "week=<script>"):
        answer = client.get(f"/plan?{query}")
        assert answer.status_code == 422, query
        assert "<script>" not in answer.text


def test_the_plan_needs_a_session(client: Any) -> None:
    answer = client.get("/plan?month=2027-03")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    made = client.post("/plan/ics", data={"form_id": "x"})
    assert made.status_code == 303
    assert made.headers["location"] == "/signin"
    demo_sign_in(client, CHAIR)
    back = client.get("/plan/ics")  # where signing in returns to
    assert back.status_code == 303
    assert back.headers["location"] == "/plan#ics"


# ---------------------------------------------------------------- the subscription


def _make_address(client: Any) -> str:
    page = client.get("/plan")
    made = client.post("/plan/ics", data=_hidden(page.text, "/plan/ics"))
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = re.search(r'value="(http://testserver/ics/[^"]+\.ics)"', made.text)
    assert found, made.text
    return found.group(1).removeprefix("http://testserver")


def _events(answer: Any) -> list[Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    return list(Calendar.from_ical(answer.content).walk("VEVENT"))


def test_an_address_made_fetched_without_a_session_and_revoked(client: Any, store: Store) -> None:
    demo_sign_in(client, SECRETARY)
    address = _make_address(client)
    with store.reading() as session:
        kept = session.scalars(select(IcsToken)).all()
    assert len(kept) == 1
    token = address.removeprefix("/ics/").removesuffix(".ics")
    assert token not in kept[0].token_hash
    assert len(kept[0].token_hash) == 64

    shown_again = client.get("/plan")
    assert token not in shown_again.text  # shown once
    assert "Du har en privat adress" in shown_again.text

    client.cookies.clear()  # a calendar program: no session
    events = _events(client.get(address))
    summaries = [str(e["summary"]) for e in events]
    assert any("Kommunstyrelsen" in s for s in summaries)
    assert any(str(e["dtstart"].dt).startswith("2028") for e in events)  # and next year

    demo_sign_in(client, SECRETARY)
    revoke = client.post(
        "/plan/ics/revoke", data=_hidden(client.get("/plan").text, "/plan/ics/revoke")
    )
    assert revoke.status_code == 303
    assert "Din adress är återkallad" in client.get(revoke.headers["location"]).text
    client.cookies.clear()
    gone = client.get(address)
    unknown = client.get("/ics/tskics_nothing.ics")
    assert gone.status_code == unknown.status_code == 404
    assert gone.text.replace(address, "") == unknown.text.replace("/ics/tskics_nothing.ics", "")


def test_a_new_address_revokes_the_old_and_a_double_submit_makes_one(
    client: Any, store: Store
) -> None:
    demo_sign_in(client, SECRETARY)
    old = _make_address(client)
    page = client.get("/plan")
    assert "Skapa en ny adress" in page.text
    form = _hidden(page.text, "/plan/ics")
    first = client.post("/plan/ics", data=form)
    second = client.post("/plan/ics", data=form)
    assert first.status_code == 200
    assert second.status_code == 303
    with store.reading() as session:
        kept = session.scalars(select(IcsToken).order_by(IcsToken.id)).all()
    assert len(kept) == 2
    assert [t.revoked_at is None for t in kept] == [False, True]
    new = re.search(r'value="http://testserver(/ics/[^"]+\.ics)"', first.text)
    assert new
    client.cookies.clear()
    assert client.get(old).status_code == 404
    assert client.get(new.group(1)).status_code == 200


def test_the_address_gives_only_the_persons_own_plan(client: Any) -> None:
    demo_sign_in(client, REPORTER)
    reporter = _make_address(client)
    demo_sign_in(client, SECRETARY)
    secretary = _make_address(client)
    client.cookies.clear()
    theirs = _events(client.get(reporter))
    hers = _events(client.get(secretary))
    assert theirs
    assert hers

    def roles(event: Any) -> set[str]:
        line = next(x for x in str(event["description"]).splitlines() if x.startswith("Roller: "))
        return set(line.removeprefix("Roller: ").split(", "))

    for event in theirs:  # Ida is socialtjanst and inrapportor
        assert roles(event) & {"socialtjanst", "inrapportor"}, event["summary"]
    for event in hers:  # Nina is sekreterare
        assert "sekreterare" in roles(event), event["summary"]
    assert not any("Kommunstyrelsen" in str(e["summary"]) for e in theirs)
    assert {str(e["uid"]) for e in theirs}.isdisjoint({str(e["uid"]) for e in hers})
    # The token grants the calendar, nothing else.
    token = reporter.removeprefix("/ics/").removesuffix(".ics")
    for path in ("/api/v1/me", "/api/v1/tasks"):
        assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/plan", params={"token": token}).status_code == 303


def test_the_ics_door_is_rate_limited(client: Any) -> None:
    answers = [client.get("/ics/tskics_guess.ics").status_code for _ in range(61)]
    assert answers[:60] == [404] * 60
    assert answers[60] == 429

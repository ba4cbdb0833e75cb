"""Events reported at any time (issue 18, item 4): the act, the store on both databases, the
command line, the API, the lägesbild they feed, and the purge of their free text."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, counts, events, local, shared_catalog
from tests.test_lagesbild import run_month
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import audit, gdpr, i18n
from tsk_workflow.engine import events as reporting
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.events import InvalidEvents, report_events
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.features import build_engine
from tsk_workflow.lagesbild.produce import lagesbild_of
from tsk_workflow.lagesbild.render import render
from tsk_workflow.organisation.model import EventSettings
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct, ReportedEvent

CLOCK_START = local(2027, 3, 20, 12)
STAFF = "ida.wikstrom"  # Bildning – a reporter of the municipality
POLICE = "erik.sundin"  # Polisen: a partner organisation
RESCUE = "johanna.falk"  # Räddningstjänsten: a partner organisation


def event(**given: Any) -> dict[str, Any]:
    return {
        "category": "klotter",
        "when": "2027-03-14T22:15",
        "town": "herrljunga",
        "description": "Taggar på busskuren",
        **given,
    }


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The engine's messages in English (the tests of Swedish say so)."""
    with i18n.speaking("en"):
        yield


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


def with_partners(engine: Engine, allowed: bool) -> Engine:
    settings = EventSettings(partners=engine.org.events.partners, partners_may_report=allowed)
    org = engine.org.model_copy(update={"events": settings})
    return build_engine(engine.store, shared_catalog(), org, engine.clock)


# ---------------------------------------------------------------- the act


def test_a_report_of_two_events_is_recorded_with_its_audit_event(engine: Engine) -> None:
    made = report_events(
        engine,
        RESCUE,
        [
            event(place="stationen", latitude="57.9", longitude="13.02"),
            event(category="Nedskräpning", when="2027-03-15", town="Annelund", description="Sopor"),
        ],
        form_id="form-0001-abcdef",
    )

    assert [e.category for e in made.events] == ["klotter", "nedskrapning"]
    first, second = made.events
    assert (first.day, first.time, first.town, first.place) == (
        dt.date(2027, 3, 14),
        "22:15",
        "herrljunga",
        "stationen",
    )
    assert first.point == (57.9, 13.02)
    assert (second.when, second.town, second.point) == ("2027-03-15", "annelund", None)
    assert (made.reporter, made.partner, made.department) == (
        RESCUE,
        "Räddningstjänsten",
        "Räddningstjänsten",
    )
    (recorded,) = events(engine.store, "events.reported")
    assert (recorded.actor, recorded.role, recorded.subject) == (
        RESCUE,
        "partner",
        f"event_report:{made.id}",
    )
    with engine.store.reading() as session:
        (row,) = [r for r in audit.query(session) if r.seq == recorded.seq]
    assert row.payload is not None
    assert row.payload["events"][0] == {
        "id": first.id,
        "category": "klotter",
        "when": "2027-03-14 22:15",
        "town": "herrljunga",
        "point": True,
    }
    assert "Taggar" not in json.dumps(row.payload)  # the free text stays in the rows


def test_a_double_submit_makes_one_report(engine: Engine) -> None:
    first = report_events(engine, STAFF, [event()], form_id="form-0002-abcdef")
    before = counts(engine.store)

    again = report_events(engine, STAFF, [event()], form_id="form-0002-abcdef")

    assert again.repeated
    assert not first.repeated
    assert again.id == first.id
    assert counts(engine.store) == before
    with pytest.raises(Refused, match="someone else"):
        report_events(engine, POLICE, [event()], form_id="form-0002-abcdef")


def test_each_wrong_field_of_each_event_is_named(engine: Engine) -> None:
    before = counts(engine.store)
    with pytest.raises(InvalidEvents) as caught:
        report_events(
            engine,
            STAFF,
            [
                event(category="inbrott", town="Göteborg"),
                event(when="2027-03-20T14:00", latitude="200", longitude="13"),
                event(when="2027-03-21", description="  "),
                event(when="2027-02-30T10:00", latitude="57.9"),
            ],
        )

    assert caught.value.by_event() == {
        0: {
            "category": "'inbrott' is not one of the categories (skadegorelse, klotter, "
            "nedskrapning, hot_vald, narkotika, ungdomsgang, otrygg_plats, annat)",
            "town": "'Göteborg' is not a town or area of Herrljunga kommun (herrljunga, "
            "ljung, annelund, morlanda, eggvena, od)",
        },
        1: {
            "when": "2027-03-20 14:00 is in the future (it is now 2027-03-20 12:00)",
            "latitude": "200 is outside -90 to 90 (degrees, WGS 84)",
        },
        2: {
            "when": "2027-03-21 is in the future (today is 2027-03-20)",
            "description": "describe what happened (it is required)",
        },
        3: {
            "when": "'2027-02-30' is not a date that exists",
            "longitude": "give both latitude and longitude, or neither",
        },
    }
    assert [p.key for p in caught.value.problems][:2] == ["events.0.category", "events.0.town"]
    assert counts(engine.store) == before


def test_the_problems_are_in_swedish_when_swedish_is_spoken(engine: Engine) -> None:
    with i18n.speaking("sv"), pytest.raises(InvalidEvents) as caught:
        report_events(engine, STAFF, [event(description="")])
    assert caught.value.by_event() == {0: {"description": "beskriv vad som hände (obligatoriskt)"}}


def test_a_point_needs_a_town(engine: Engine) -> None:
    with pytest.raises(InvalidEvents) as caught:
        report_events(engine, STAFF, [event(town=None, latitude="57.9", longitude="13.0")])
    assert caught.value.by_event()[0]["town"].startswith("choose the town or area")


def test_a_partner_is_refused_where_the_organisation_does_not_allow_it(engine: Engine) -> None:
    closed = with_partners(engine, allowed=False)

    with pytest.raises(PermissionDenied, match="does not take events from partner"):
        report_events(closed, POLICE, [event()])
    # The municipality's own staff still may; so may everyone where partners are allowed.
    assert report_events(closed, STAFF, [event()]).partner is None
    assert report_events(engine, POLICE, [event()]).partner == "Polisen"
    with engine.store.reading() as session:
        refused = session.scalars(select(RefusedAct)).all()
    assert [(r.actor, r.action) for r in refused] == [(POLICE, "events.report")]


def test_someone_of_another_department_of_a_partner_is_a_partner(engine: Engine) -> None:
    person = engine.org.person("maria.gran")
    assert person is not None
    assert person.department == "Polisen – polisområdeschef"
    assert reporting.standing(engine.org, person).partner == "Polisen"


def test_the_categories_are_the_reporter_forms_choices(engine: Engine) -> None:
    found = reporting.categories(engine)
    assert list(found)[:3] == ["skadegorelse", "klotter", "nedskrapning"]
    assert found["hot_vald"].sv == "Hot eller våld"


def test_reports_are_read_by_their_reporter_and_by_month(engine: Engine) -> None:
    report_events(engine, STAFF, [event()])
    report_events(engine, STAFF, [event(when="2027-02-10")])
    report_events(engine, POLICE, [event()])

    mine = reporting.readable_reports(engine, STAFF)
    assert len(mine) == 2
    assert len(reporting.readable_reports(engine, STAFF, month="2027-02")) == 1
    assert len(reporting.readable_reports(engine, "jessica.wahlstrom", everyone=True)) == 3
    with pytest.raises(PermissionDenied):
        reporting.readable_reports(engine, STAFF, everyone=True)
    with pytest.raises(Refused, match="not a month"):
        reporting.readable_reports(engine, STAFF, month="2027-13")


# ---------------------------------------------------------------- the lägesbild


def test_the_events_feed_the_next_lagesbild(engine: Engine, clock: Clock) -> None:
    run_month(engine, clock, "2027-02")
    clock.set(local(2027, 2, 20, 9))
    report_events(engine, POLICE, [event(when="2027-02-12T21:00", category="hot_vald")])
    clock.set(local(2027, 3, 3, 9))
    report_events(
        engine,
        RESCUE,
        [
            event(when="2027-03-01T23:40", place="Stationen", latitude="57.92", longitude="13.03"),
            event(when="2027-03-02", category="skadegorelse", town="ljung", description="<b>x</b>"),
        ],
    )
    cycle = run_month(engine, clock, "2027-03")

    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle)
        definition = engine.catalog.definition("est")
        figures = lagesbild_of(session, engine.org, definition, found, lang="en", now=clock())

    assert figures.events == 2
    assert figures.asked == 5  # the reporters asked by their tasks, not the events
    klotter = next(r for r in figures.by_category if r.key == "klotter")
    assert klotter.reports == 3  # two reporters' tasks and one event
    assert next(r for r in figures.by_category if r.key == "skadegorelse").count == 1
    assert next(r for r in figures.by_town if r.key == "ljung").count >= 1
    march = figures.months[-1]
    assert dict(march.by_category)["skadegorelse"] == 1
    february = next(m for m in figures.months if m.period == "2027-02")
    assert dict(february.by_category)["hot_vald"] == 1
    graffiti = next(g for g in figures.groups if g.key == "klotter")
    assert any(e.place == "Stationen" and e.when == "2027-03-01 23:40" for e in graffiti.entries)
    html = render(figures, "html")
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert "Of them, events reported at any time" in html


def test_an_event_has_its_point_in_the_lagesbild_reports(engine: Engine, clock: Clock) -> None:
    from tsk_workflow.lagesbild.collect import gather

    clock.set(local(2027, 3, 3, 9))
    report_events(engine, RESCUE, [event(when="2027-03-01", latitude="57.92", longitude="13.03")])
    cycle = run_month(engine, clock, "2027-03")
    with engine.store.reading() as session:
        found = engine.find_cycle(session, cycle)
        gathered = gather(session, engine.org, engine.catalog.definition("est"), found)
    (reported,) = [r for r in gathered.reports if r.event_id is not None]
    assert (reported.task_id, reported.point, reported.categories) == (
        None,
        (57.92, 13.03),
        ("klotter",),
    )
    assert reported.reporter == RESCUE
    assert reported.department == "Räddningstjänsten"


# ---------------------------------------------------------------- personal data


def test_a_purge_blanks_the_events_free_text(engine: Engine, clock: Clock) -> None:
    old = report_events(engine, STAFF, [event(when="2027-03-14", place="stationen")])
    clock.advance(days=5)
    new = report_events(engine, STAFF, [event(place="skolan")])

    cutoff = dt.date(2027, 3, 22)  # within the retention time: forced, as a test may
    done = gdpr.purge(engine, "marie.lind", cutoff, force=True)

    assert done.counts()["event_texts"] == 1
    with engine.store.reading() as session:
        rows = {r.report_id: r for r in session.scalars(select(ReportedEvent))}
    assert (rows[old.id].description, rows[old.id].place) == (None, None)
    assert rows[old.id].purged_at is not None
    assert rows[old.id].category == "klotter"  # what the lägesbild counts stays
    assert (rows[new.id].description, rows[new.id].place) == ("Taggar på busskuren", "skolan")
    again = gdpr.purge(engine, "marie.lind", cutoff, force=True)
    assert again.counts()["event_texts"] == 0
    from tsk_workflow import replay

    with engine.store.reading() as session:
        verified = replay.verify_record(session)
    assert verified.ok, verified.problems


# ---------------------------------------------------------------- the command line


@pytest.fixture
def tsk(runner: CliRunner, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    return Tsk(runner, engine.store, "herrljunga", clock, monkeypatch)


def test_tsk_event_report_and_list(tsk: Tsk) -> None:
    made = tsk.ok(
        "event",
        "report",
        "--category",
        "klotter",
        "--when",
        "2027-03-14T22:15",
        "--town",
        "Herrljunga",
        "--place",
        "stationen",
        "--lat",
        "57.92",
        "--lon",
        "13.03",
        "--description",
        "Taggar på busskuren",
        as_=RESCUE,
    )
    assert made["events"][0]["when"] == "2027-03-14 22:15"
    assert made["events"][0]["latitude"] == 57.92
    assert made["partner"] == "Räddningstjänsten"

    listed = tsk.ok("event", "list", "--month", "2027-03", as_=RESCUE)
    assert [r["id"] for r in listed] == [made["id"]]
    assert tsk.ok("event", "list", "--month", "2027-02", as_=RESCUE) == []
    text = tsk.text("--lang", "en", "event", "list", as_=RESCUE)
    assert "2027-03-14 22:15" in text
    assert "Herrljunga" in text
    assert "stationen" in text
    assert tsk.text("event", "list", as_=STAFF).strip() == "Inga rapporterade händelser."
    assert tsk.refused("event", "list", "--all", as_=STAFF).startswith("tsk: ")
    assert tsk.text("audit", "verify").startswith("OK: ")


def test_tsk_event_report_refuses_with_the_field_named(tsk: Tsk) -> None:
    line = tsk.refused(
        "--lang",
        "en",
        "event",
        "report",
        "--category",
        "inbrott",
        "--when",
        "2027-03-14",
        "--town",
        "herrljunga",
        "--description",
        "x",
        as_=STAFF,
    )
    assert line.startswith("tsk: the events are not right: event 1, category: 'inbrott'")
    assert tsk.ok("event", "list", as_=STAFF) == []


# ---------------------------------------------------------------- the API


def test_the_api_takes_several_events_and_lists_them(engine: Engine, clock: Clock) -> None:
    client = service_client(engine.store, clock)
    csrf = demo_sign_in(client, RESCUE)
    client.get("/api/v1/me", params={"lang": "en"})
    body = {
        "form_id": "api-form-000001",
        "events": [
            event(place="stationen"),
            {**event(), "when": None, "date": "2027-03-15", "time": "08:30"},
        ],
    }
    made = client.post("/api/v1/events", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    assert [e["when"] for e in made.json()["events"]] == ["2027-03-14 22:15", "2027-03-15 08:30"]
    again = client.post("/api/v1/events", json=body, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 200
    assert again.json()["id"] == made.json()["id"]

    listed = client.get("/api/v1/events", params={"month": "2027-03"})
    assert [r["id"] for r in listed.json()] == [made.json()["id"]]

    bad = client.post(
        "/api/v1/events",
        json={"events": [event(latitude=200, longitude=13)]},
        headers={"X-CSRF-Token": csrf, "Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert {
        "field": "events.0.latitude",
        "message": "200 is outside -90 to 90 (degrees, WGS 84)",
    } in (bad.json()["errors"])


# ---------------------------------------------------------------- the organisation's setting


def test_a_partner_no_department_names_is_a_mistake(engine: Engine) -> None:
    from tsk_workflow.organisation.validate import check_organisation

    settings = EventSettings(partners=("Polisen", "Tullverket"), partners_may_report=True)
    org = engine.org.model_copy(update={"events": settings})
    found = [
        (path, message) for path, message in check_organisation(org, shared_catalog().definitions)
    ]
    assert found == [
        (("events", "partners", 1), "no person's department is 'Tullverket' (or begins with it)")
    ]

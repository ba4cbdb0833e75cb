"""The API's record: the audit trail and refused acts for those allowed, a cycle's documents,
its lägesbild, the year plan (JSON and iCalendar) and the mail's state. On SQLite and
PostgreSQL, through HTTP."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from icalendar import Calendar

from tests.enginekit import Clock, local
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 3, 1, 8)
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"
OUTSIDER = "petra.sjodin"
ADMIN = "marie.lind"


@pytest.fixture
def world(store: Store, clock: Clock) -> Any:
    engine = herrljunga(store, clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    with service_client(store, clock) as client:
        yield client, engine, cycle


def test_the_audit_trail_needs_read_audit_and_the_refusal_is_recorded(world: Any) -> None:
    client, _engine, cycle = world
    demo_sign_in(client, REPORTER)
    refused = client.get("/api/v1/audit")
    assert refused.status_code == 403
    demo_sign_in(client, ADMIN)  # an admin reads the trail without being listed
    events = client.get("/api/v1/audit", params={"cycle": cycle.ref}).json()
    assert [e["action"] for e in events][:1] == ["cycle.opened"]
    kept = client.get("/api/v1/audit/refused").json()
    assert (kept[-1]["actor"], kept[-1]["action"]) == (REPORTER, "read_audit")
    assert client.get("/api/v1/mail/status").status_code == 200


def test_documents_attached_listed_and_fetched_by_members_only(world: Any) -> None:
    client, _engine, cycle = world
    token = demo_sign_in(client, CHAIR)
    content = "Minnesanteckningar från EST\n".encode()
    attached = client.post(
        f"/api/v1/cycles/{cycle.ref}/documents",
        data={"kind": "protokoll"},
        files={"file": ("protokoll mars.txt", content, "text/plain")},
        headers={"X-CSRF-Token": token},
    )
    assert attached.status_code == 201, attached.text
    row = attached.json()
    assert row["sha256"] == hashlib.sha256(content).hexdigest()
    listed = client.get(f"/api/v1/cycles/{cycle.ref}/documents").json()
    assert [d["id"] for d in listed] == [row["id"]]
    fetched = client.get(f"/api/v1/cycles/{cycle.ref}/documents/{row['id']}")
    assert fetched.content == content
    assert "filename*=UTF-8''protokoll%20mars.txt" in fetched.headers["content-disposition"]
    demo_sign_in(client, OUTSIDER)
    assert client.get(f"/api/v1/cycles/{cycle.ref}/documents/{row['id']}").status_code == 403


def test_an_unknown_document_kind_is_refused(world: Any) -> None:
    client, _engine, cycle = world
    token = demo_sign_in(client, CHAIR)
    answer = client.post(
        f"/api/v1/cycles/{cycle.ref}/documents",
        data={"kind": "hemligt"},
        files={"file": ("x.txt", b"x", "text/plain")},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_lagesbild_of_a_cycle(world: Any) -> None:
    client, _engine, cycle = world
    demo_sign_in(client, CHAIR)
    figures = client.get(f"/api/v1/cycles/{cycle.ref}/lagesbild").json()
    assert (figures["cycle_ref"], figures["asked"]) == (cycle.ref, 5)
    markdown = client.get(f"/api/v1/cycles/{cycle.ref}/lagesbild", params={"format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert cycle.ref in markdown.text


def test_the_year_plan_as_json_and_icalendar(world: Any) -> None:
    client, _engine, _cycle = world
    demo_sign_in(client, REPORTER)
    everything = client.get("/api/v1/plan/2027").json()
    mine = client.get("/api/v1/plan/2027", params={"mine": "true"}).json()
    assert 0 < len(mine) < len(everything)
    ics = client.get("/api/v1/plan/2027/ics", params={"mine": "true"})
    assert ics.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(ics.content)
    assert len(calendar.walk("VEVENT")) == len(mine)
    assert client.get("/api/v1/plan/1200").status_code == 422


def test_the_record_verifies_for_those_who_may_read_it(world: Any) -> None:
    client, _engine, _cycle = world
    demo_sign_in(client, REPORTER)
    assert client.get("/api/v1/audit/verify").status_code == 403
    demo_sign_in(client, ADMIN)
    verified = client.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True
    assert verified["events"] >= 2
    assert verified["problems"] == []


def test_the_organisation_and_its_processes(world: Any) -> None:
    client, engine, _cycle = world
    demo_sign_in(client, REPORTER)
    org = client.get("/api/v1/org").json()
    assert org["municipality"] == "herrljunga"
    assert len(org["people"]) == len(engine.org.people)
    processes = client.get("/api/v1/processes?lang=en").json()  # the session speaks Swedish
    est = next(p for p in processes if p["key"] == "est")
    assert est["title"] == engine.catalog.definition("est").title.get("en")

"""The page ``/report`` (issue 18, item 4): one or several events reported in a browser,
without JavaScript; bad input refused next to its field; a double submit makes one report."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.enginekit import Clock, local, shared_catalog
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow.catalog import load_organisation, resolve_organisation_path
from tsk_workflow.engine import setup
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import EventReport, RefusedAct, ReportedEvent

CLOCK_START = local(2027, 3, 20, 12)
STAFF = "ida.wikstrom"
RESCUE = "johanna.falk"  # Räddningstjänsten: a partner organisation
POLICE = "erik.sundin"  # Polisen: a partner organisation
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def sign_in(client: TestClient, person: str, lang: str = "en") -> None:
    """Signed in as ``person``, speaking ``lang`` (kept in the session)."""
    demo_sign_in(client, person)
    assert client.get("/report", params={"lang": lang}).status_code in (200, 403)


def page_form(page: str) -> dict[str, str]:
    """The hidden fields of the report form: its CSRF token and form id."""
    found = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert {"csrf_token", "form_id"} <= set(found), found
    return found


def block(index: int, **given: str) -> dict[str, str]:
    values = {
        "category": "klotter",
        "date": "2027-03-14",
        "time": "22:15",
        "town": "herrljunga",
        "place": "",
        "latitude": "",
        "longitude": "",
        "description": "Taggar på busskuren",
        **given,
    }
    return {f"e{index}.{name}": value for name, value in values.items()}


def reports(store: Store) -> tuple[int, int]:
    with store.reading() as session:
        made = session.scalar(select(func.count()).select_from(EventReport))
        events = session.scalar(select(func.count()).select_from(ReportedEvent))
    return int(made or 0), int(events or 0)


def error_of(page: str, index: int, name: str) -> str:
    found = re.search(rf'<p class="error" id="e{index}-{name}-error">([^<]*)</p>', page)
    assert found, f"no error by e{index}.{name}"
    return html.unescape(found.group(1))


def send(client: TestClient, fields: dict[str, str], **extra: str) -> Any:
    return client.post("/report", data={**fields, **extra})


# ---------------------------------------------------------------- a partner, two events


def test_a_partner_reports_two_events_with_a_place(client: TestClient, engine: Engine) -> None:
    sign_in(client, RESCUE)
    first = client.get("/report")
    assert first.status_code == 200
    assert 'name="e0.category"' in first.text
    assert 'name="e1.category"' not in first.text
    assert "<optgroup" in first.text
    assert "no names or personal identity numbers" in first.text
    assert "partner organisation" in first.text
    hidden = page_form(first.text)

    # "Add another event" sends the form back: one block more, the values kept, nothing recorded.
    one = block(0, place="stationen", latitude="57.9162", longitude="13.0254")
    added = send(client, {**hidden, **one}, add="1")
    assert added.status_code == 200
    assert 'name="e1.category"' in added.text
    assert 'value="stationen"' in added.text
    assert 'value="57.9162"' in added.text
    assert page_form(added.text)["form_id"] == hidden["form_id"]
    assert reports(engine.store) == (0, 0)

    two = block(1, category="nedskrapning", date="2027-03-15", time="", town="annelund",
                place="torget", description="Sopor vid torget")  # fmt: skip
    sent = send(client, {**hidden, **one, **two}, send="1")
    assert sent.status_code == 303
    receipt = client.get(sent.headers["location"])
    assert receipt.status_code == 200
    assert "2 events are recorded in your name" in receipt.text
    assert "stationen" in receipt.text
    assert "torget" in receipt.text
    assert "57.9162, 13.0254" in receipt.text
    assert "Räddningstjänsten" in receipt.text
    assert 'href="/report"' in receipt.text
    assert reports(engine.store) == (1, 2)
    # The person's own reports are listed on the form.
    again = client.get("/report")
    assert re.search(r'<a href="/report/\d+">Report \d+</a>', again.text)


def test_remove_takes_a_block_out(client: TestClient) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    fields = {**hidden, **block(0, place="ett"), **block(1, place="två"), **block(2, place="tre")}
    answer = send(client, fields, remove="1")
    assert answer.status_code == 200
    assert 'value="ett"' in answer.text
    assert 'value="tre"' in answer.text
    assert 'value="två"' not in answer.text
    assert 'name="e2.category"' not in answer.text


# ---------------------------------------------------------------- bad input


def test_bad_values_are_refused_next_to_their_fields(client: TestClient, engine: Engine) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    fields = {
        **hidden,
        **block(0, category="inbrott", town="goteborg"),
        **block(1, date="2027-03-20", time="23:00", latitude="200", longitude="13"),
        **block(2, description=f"Bråk {SCRIPT}"),
    }
    answer = send(client, fields, send="1")

    assert answer.status_code == 422
    assert error_of(answer.text, 0, "category").startswith("Error: 'inbrott' is not one of")
    assert "is not a town or area of Herrljunga kommun" in error_of(answer.text, 0, "town")
    assert error_of(answer.text, 1, "time") == (
        "Error: 2027-03-20 23:00 is in the future (it is now 2027-03-20 12:00)"
    )
    assert error_of(answer.text, 1, "latitude") == (
        "Error: 200 is outside -90 to 90 (degrees, WGS 84)"
    )
    assert 'id="e1-latitude"' in answer.text
    assert 'aria-invalid="true"' in answer.text
    # The text is kept, shown as text: no markup of it reaches the page.
    assert SCRIPT not in answer.text
    assert html.escape(SCRIPT, quote=False) in answer.text or "&lt;script&gt;" in answer.text
    assert reports(engine.store) == (0, 0)


def test_html_in_the_description_is_shown_as_text(client: TestClient) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    sent = send(client, {**hidden, **block(0, description=f"<b>fet</b> {SCRIPT}")}, send="1")
    assert sent.status_code == 303
    receipt = client.get(sent.headers["location"]).text
    assert SCRIPT not in receipt
    assert "<b>fet</b>" not in receipt
    assert "&lt;b&gt;fet&lt;/b&gt;" in receipt


def test_a_double_submit_makes_one_report(client: TestClient, engine: Engine) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    fields = {**hidden, **block(0)}
    first = send(client, fields, send="1")
    second = send(client, fields, send="1")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert reports(engine.store) == (1, 1)
    # A new page is a new form: another report.
    fresh = page_form(client.get("/report").text)
    assert fresh["form_id"] != hidden["form_id"]


def test_someone_elses_receipt_is_not_shown(client: TestClient) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    location = send(client, {**hidden, **block(0)}, send="1").headers["location"]
    sign_in(client, RESCUE)
    assert client.get(location).status_code == 404


def test_the_form_needs_its_csrf_token(client: TestClient, engine: Engine) -> None:
    sign_in(client, STAFF)
    hidden = page_form(client.get("/report").text)
    answer = send(client, {**block(0), "form_id": hidden["form_id"]}, send="1")
    assert answer.status_code == 403
    assert reports(engine.store) == (0, 0)


def test_the_page_speaks_swedish_by_default(client: TestClient) -> None:
    demo_sign_in(client, STAFF)  # Ida Wikström reads Swedish
    page = client.get("/report").text
    assert "Rapportera en händelse" in page
    assert "Lägg till en händelse till" in page


# ---------------------------------------------------------------- partners not allowed


@pytest.fixture
def closed(engine: Engine, clock: Clock, tmp_path: Path) -> Engine:
    """Herrljunga with a new version of its organisation that takes no partners' events."""
    source = resolve_organisation_path("herrljunga")
    text = source.read_text(encoding="utf-8")
    changed = text.replace("partners_may_report: true", "partners_may_report: false")
    assert changed != text
    path = tmp_path / "herrljunga.yaml"
    path.write_text(changed, encoding="utf-8")
    new = load_organisation(str(path), shared_catalog())
    file = setup.OrganisationFile.of(path.read_bytes(), path.name)
    setup.load(engine.store, engine.catalog, engine.org, file, new, "marie.lind", clock)
    return engine


def test_a_partner_is_refused_where_not_allowed(closed: Engine, clock: Clock) -> None:
    with service_client(closed.store, clock) as client:
        sign_in(client, POLICE)
        page = client.get("/report")
        assert page.status_code == 403
        assert "does not take events from partner organisations (Polisen)" in page.text
        assert 'name="e0.category"' not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        fields = {"csrf_token": csrf.group(1), "form_id": "a-form-id-000001", **block(0)}
        answer = client.post("/report", data={**fields, "send": "1"})
        assert answer.status_code == 403
        assert reports(closed.store) == (0, 0)
        with closed.store.reading() as session:
            refused = session.scalars(select(RefusedAct)).all()
        assert [(r.actor, r.action) for r in refused] == [(POLICE, "events.report")]
        # The municipality's own people still report.
        sign_in(client, STAFF)
        hidden = page_form(client.get("/report").text)
        assert client.post("/report", data={**hidden, **block(0), "send": "1"}).status_code == 303


def test_a_report_sent_after_the_session_ended_is_kept_for_after_sign_in(
    store: Store, clock: Clock
) -> None:
    from tests.webkit import csrf_of

    herrljunga(store, clock)
    with service_client(store, clock) as client:
        demo_sign_in(client, STAFF)
        page = client.get("/report")
        client.cookies.clear()  # the session ends while the person writes
        sent = client.post(
            "/report",
            data={
                "csrf_token": csrf_of(page.text),
                "form_id": "form-kept-0001",
                "e0.category": "klotter",
                "e0.when": "2027-03-01",
                "e0.town": "herrljunga",
                "e0.description": "Taggar <b>på</b> busskuren",
            },
        )
        assert (sent.status_code, sent.headers["location"]) == (303, "/signin")
        signin = client.get("/signin")
        back = client.post(
            "/auth/demo",
            data={"person": f"herrljunga:{STAFF}", "csrf_token": csrf_of(signin.text)},
        )
        assert back.headers["location"] == "/report"
        again = client.get("/report")
        assert "Din session hade gått ut" in again.text
        assert "Taggar &lt;b&gt;på&lt;/b&gt; busskuren" in again.text
        with store.reading() as session:
            assert session.scalar(select(func.count()).select_from(EventReport)) == 0

"""The action register's pages (``web/page_actions.py``): the register with its filters (as a
browser without JavaScript sends them) and its CSV; adding an action, following it up and
changing it through the forms, each refused value shown by its field (422) with nothing
changed; who may do what; a double submit acting once; the åtgärdsplan with the version in
force. On SQLite and PostgreSQL, through HTTP (Starlette's TestClient)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.enginekit import Clock, local, meeting
from tests.pagekit import table
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import audit, i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Action, ActionFollowUp, AuditEvent

CLOCK_START = local(2027, 3, 8, 10)  # a Monday
COORDINATOR = "jessica.wahlstrom"  # säkerhetschef, samordnare, chair of EST
OWNER = "jonas.ek"  # Samhällsbyggnad – fastighet: owns actions, keeps no register
MEMBER = "ida.wikstrom"  # a member of EST: may add actions to EST's cycles only
SECRETARY = "nina.bergqvist"
NOBODY = "rachel.moore"  # a reporter of no group: reads the register, keeps none of it


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    engine = herrljunga(store, clock)
    engine.open_cycle(COORDINATOR, "est", "2027-03")
    return engine


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def sign_in(client: TestClient, person: str, lang: str = "en") -> str:
    """Signed in as ``person``, speaking ``lang`` (kept in the session); the CSRF token."""
    token = demo_sign_in(client, person)
    assert client.get("/actions", params={"lang": lang}).status_code == 200
    return token


def lighting(**given: Any) -> dict[str, Any]:
    return {
        "title": "Belysning i Stationsparken",
        "cause": "Otrygghet kvällstid vid stationen",
        "goal": "Färre som undviker parken kvällstid",
        "start": "2027-03-15",
        "due": "2027-05-31",
        "owner": OWNER,
        "followup_plan": "Trygghetsvandring i september",
        "cost": "120 000",
        "category": "otrygg_plats",
        "town": "Herrljunga",
        "place": "Stationsparken",
        **given,
    }


def three(engine: Engine) -> tuple[int, int, int]:
    """A green action of EST's cycle, a red one overdue since 1 March, and a '=' one done."""
    register = Actions(engine)
    first = register.add(COORDINATOR, lighting(cycle="est-2027-03"))
    late = register.add(
        COORDINATOR,
        lighting(title="Klotterplan", start="2027-01-10", due="2027-03-01", status="red"),
    )
    done = register.add(
        COORDINATOR, lighting(title='=HYPERLINK("x") Nattvandring', owner=COORDINATOR)
    )
    register.followup(COORDINATOR, done.id, state="done", note="Genomförd")
    return first.id, late.id, done.id


def form_of(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form that posts to ``action``."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert found, f"no form to {action} on the page"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', found.group(0)))


def actions_of(store: Store) -> list[Action]:
    with store.reading() as session:
        return list(session.scalars(select(Action).order_by(Action.id)))


def followups_of(store: Store) -> list[ActionFollowUp]:
    with store.reading() as session:
        return list(session.scalars(select(ActionFollowUp).order_by(ActionFollowUp.id)))


def audited(store: Store, action: str) -> int:
    with store.reading() as session:
        return len(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


# ---------------------------------------------------------------- the register


def test_everyone_reads_the_register_with_status_as_a_word_and_overdue_in_words(
    engine: Engine, client: TestClient
) -> None:
    first, late, _done = three(engine)
    sign_in(client, MEMBER)
    page = client.get("/actions")
    assert page.status_code == 200
    assert '<a href="/actions" aria-current="page">Actions</a>' in page.text  # the menu
    header, *rows = table(page.text, "actions")
    assert header == ["No.", "Status", "Action", "Owner", "When", "How it stands"]
    assert rows == [
        [str(late), "red", "Klotterplan", "Jonas Ek", "2027-01-10 – 2027-03-01", "7 days overdue"],
        [
            str(first),
            "green",
            "Belysning i Stationsparken",
            "Jonas Ek",
            "2027-03-15 – 2027-05-31",
            "on time",
        ],
    ]  # active ones by default, by due date; the done one is left out
    assert 'class="light light-red"' in page.text  # the colour beside the word
    assert 'href="/actions/new"' in page.text  # a member of a group may add to its cycles

    sign_in(client, NOBODY, "sv")
    assert '<li><a href="/actions">' in client.get("/").text  # in everyone's menu
    assert 'href="/actions/new"' not in client.get("/actions").text  # keeps no register


def test_the_filters_work_without_javascript_and_with_htmx(
    engine: Engine, client: TestClient
) -> None:
    first, late, done = three(engine)
    sign_in(client, OWNER)
    page = client.get("/actions").text
    assert 'hx-get="/actions" hx-trigger="change"' in page  # applied on change with htmx

    def numbers(query: str) -> list[int]:
        answer = client.get(f"/actions?{query}")
        assert answer.status_code == 200, answer.text
        return [int(n) for n in re.findall(r'<a href="/actions/(\d+)">', answer.text)]

    assert numbers("status=red") == [late]
    assert numbers("overdue=1") == [late]
    assert numbers("state=done") == [done]
    assert sorted(numbers("state=all")) == [first, late, done]
    assert numbers("cycle=est-2027-03") == [first]
    assert numbers("cycle=est-1999-01") == []
    assert numbers(f"owner={COORDINATOR}") == []  # the done one is not active
    assert numbers(f"owner={COORDINATOR}&state=all") == [done]
    assert numbers("mine=1") == [late, first]
    assert numbers("status=blå") == [late, first]  # no such status: no filter
    chosen = client.get("/actions?status=red&overdue=1").text
    assert '<option value="red" selected>' in chosen
    assert 'name="overdue" value="1" checked' in chosen
    assert 'href="/actions.csv?status=red&amp;overdue=1"' in chosen


def test_the_csv_export_is_for_swedish_excel_and_keeps_the_filters(
    engine: Engine, client: TestClient
) -> None:
    first, _late, done = three(engine)
    sign_in(client, COORDINATOR, "sv")
    answer = client.get("/actions.csv?state=all")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="atgarder-herrljunga.csv"' in answer.headers["content-disposition"]
    assert answer.content.startswith("\ufeff".encode())
    header, *body = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert len(body) == 3
    named = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert named[str(first)][header[4]] == "2027-03-15"
    assert named[str(first)][header[12]] == "120000"
    assert named[str(first)][header[16]] == "est-2027-03"
    assert named[str(done)][header[1]] == '\'=HYPERLINK("x") Nattvandring'  # not a formula
    assert named[str(done)][header[20]] == "Genomförd"
    filtered = client.get("/actions.csv?status=red").content.decode("utf-8-sig")
    assert filtered.count("\r\n") == 2  # the header and the red one
    english = client.get("/actions.csv?lang=en").content.decode("utf-8-sig")
    assert english.startswith("Action no.;Action;Cause;Operative goal;Start;Due;Owner")


# ---------------------------------------------------------------- adding


def test_a_coordinator_adds_an_action_from_a_cycle(
    engine: Engine, client: TestClient, store: Store
) -> None:
    sign_in(client, COORDINATOR)
    page = client.get("/actions/new?cycle=est-2027-03")
    assert page.status_code == 200
    assert '<option value="est-2027-03" selected>' in page.text  # prefilled
    data = form_of(page.text, "/actions/new") | lighting(cycle="est-2027-03", town="herrljunga")
    made = client.post("/actions/new", data=data)
    assert made.status_code == 303, made.text
    (action,) = actions_of(store)
    assert made.headers["location"] == f"/actions/{action.id}?added=1"
    assert (action.title, action.owner, action.cost, action.created_by) == (
        "Belysning i Stationsparken",
        OWNER,
        120_000.0,
        COORDINATOR,
    )
    shown = client.get(made.headers["location"]).text
    assert "The action is added to the register." in shown
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", shown, re.S))
    assert facts["Cause (Orsak)"] == "Otrygghet kvällstid vid stationen"
    assert facts["When (När)"] == "2027-03-15 – 2027-05-31"
    assert facts["Who (Vem)"] == "Jonas Ek, Samhällsbyggnad – fastighet"
    assert '<a href="/cycles/est-2027-03">est-2027-03</a>' in facts["From cycle"]
    effect = re.search(r'<section id="effect".*?</section>', shown, re.S)
    assert effect, "the effect follow-up is shown"
    assert "too early: the after-window has not begun" in effect.group(0)
    assert "before: 2026-12-15 – 2027-03-08" in effect.group(0)
    assert audited(store, "action.added") == 1


def test_bad_values_are_shown_by_their_fields_and_nothing_is_added(
    engine: Engine, client: TestClient, store: Store
) -> None:
    sign_in(client, COORDINATOR)
    form = form_of(client.get("/actions/new").text, "/actions/new")
    bad = lighting(owner="", start="2027-06-01", due="2027-05-01", town="Atlantis", cost="mycket")
    answer = client.post("/actions/new", data=form | bad)
    assert answer.status_code == 422
    for field in ("owner", "due", "town", "cost"):
        assert re.search(rf'<p class="error" id="e-{field}">', answer.text), field
    assert re.search(r'id="e-due">[^<]*before the start 2027-06-01', answer.text)
    assert 'aria-describedby="h-due e-due" aria-invalid="true"' in answer.text
    assert 'value="mycket"' in answer.text  # what was written is kept
    assert "Otrygghet kvällstid vid stationen</textarea>" in answer.text
    assert actions_of(store) == []


def test_an_action_sent_twice_is_added_once(
    engine: Engine, client: TestClient, store: Store
) -> None:
    sign_in(client, COORDINATOR)
    data = form_of(client.get("/actions/new").text, "/actions/new") | lighting()
    first = client.post("/actions/new", data=data)
    second = client.post("/actions/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(actions_of(store)) == 1


def test_who_may_not_add_is_told_so_and_a_forged_form_changes_nothing(
    engine: Engine, client: TestClient, store: Store
) -> None:
    sign_in(client, NOBODY)
    page = client.get("/actions/new")
    assert page.status_code == 403
    assert "Only the coordinators" in page.text
    assert 'action="/actions/new"' not in page.text
    sign_in(client, MEMBER)  # may add to EST's cycles, not without one
    form = form_of(client.get("/actions/new").text, "/actions/new")
    assert '<option value="est-2027-03">' in client.get("/actions/new").text  # EST's cycles
    refused = client.post("/actions/new", data=form | lighting())
    assert refused.status_code == 403
    assert re.search(r'<p role="alert">[^<]*coordinators', refused.text)
    assert actions_of(store) == []
    made = client.post("/actions/new", data=form | lighting(cycle="est-2027-03"))
    assert made.status_code == 303
    assert len(actions_of(store)) == 1


def test_the_forms_need_their_csrf_token(engine: Engine, client: TestClient, store: Store) -> None:
    sign_in(client, COORDINATOR)
    data = form_of(client.get("/actions/new").text, "/actions/new") | lighting()
    data.pop("csrf_token")
    assert client.post("/actions/new", data=data).status_code == 403
    assert actions_of(store) == []


# ---------------------------------------------------------------- following up and changing


def test_the_owner_follows_up_and_a_status_change_needs_a_note(
    engine: Engine, client: TestClient, store: Store
) -> None:
    _first, first, _done = three(engine)  # the late one: of no cycle, so of no group of his
    before = len(followups_of(store))
    sign_in(client, OWNER)
    page = client.get(f"/actions/{first}").text
    assert f'action="/actions/{first}/followup"' in page
    assert f'action="/actions/{first}/edit"' not in page  # the owner does not change it
    form = form_of(page, f"/actions/{first}/followup")

    no_note = client.post(f"/actions/{first}/followup", data=form | {"status": "yellow"})
    assert no_note.status_code == 422
    assert re.search(
        r'<p class="error" id="e-u-note">[^<]*follow-up note is required', no_note.text
    )
    assert 'value="yellow" checked' in no_note.text  # the choice is kept
    assert len(followups_of(store)) == before

    note = "Leverantören är försenad"
    made = client.post(f"/actions/{first}/followup", data=form | {"status": "yellow", "note": note})
    assert made.status_code == 303, made.text
    again = client.post(
        f"/actions/{first}/followup", data=form | {"status": "yellow", "note": note}
    )
    assert again.status_code == 303  # sent twice: followed up once
    assert len(followups_of(store)) == before + 1
    shown = client.get(made.headers["location"].split("#")[0]).text
    assert "The follow-up is recorded." in shown
    rows = table(shown, "followup-list")
    assert rows[-1][1:] == ["Jonas Ek", "yellow", note]

    form = form_of(shown, f"/actions/{first}/followup")
    done = client.post(f"/actions/{first}/followup", data=form | {"state": "done", "note": "Klar"})
    assert done.status_code == 303
    shown = client.get(f"/actions/{first}").text
    assert 'value="active"' in shown  # done: it may be reopened
    assert actions_of(store)[1].state == "done"


def test_someone_else_gets_no_forms_and_is_refused(
    engine: Engine, client: TestClient, store: Store
) -> None:
    first, _late, _done = three(engine)
    sign_in(client, SECRETARY)
    page = client.get(f"/actions/{first}")
    assert page.status_code == 200  # everyone reads it
    assert 'action="/actions/' not in page.text
    sign_in(client, OWNER)
    form = form_of(client.get(f"/actions/{first}").text, f"/actions/{first}/followup")
    token = sign_in(client, SECRETARY)
    forged = form | {"csrf_token": token, "note": "Jag tycker"}
    refused = client.post(f"/actions/{first}/followup", data=forged)
    assert refused.status_code == 403
    assert re.search(r'<p role="alert">[^<]*coordinators', refused.text)
    assert len(followups_of(store)) == 1  # the done one's, from three()
    assert client.get("/actions/999").status_code == 404


def test_a_coordinator_changes_an_action_and_a_stale_form_conflicts(
    engine: Engine, client: TestClient, store: Store
) -> None:
    first, _late, _done = three(engine)
    sign_in(client, COORDINATOR)
    page = client.get(f"/actions/{first}").text
    form = form_of(page, f"/actions/{first}/edit")
    current = dict(
        re.findall(r'<input id="x-f-(\w+)" name="\w+"(?: [a-z]+="[^"]*")*? value="([^"]*)"', page)
    )
    assert current["due"] == "2027-05-31"
    assert current["cost"] == "120000"
    fields = lighting(cycle="est-2027-03", town="herrljunga", cost="120000", window_days="90")
    fields |= {"owner_organisation": "Samhällsbyggnad – fastighet", "decision": "", "promise": ""}
    fields |= {"latitude": "", "longitude": ""}

    bad = client.post(f"/actions/{first}/edit", data=form | fields | {"due": "2027-01-01"})
    assert bad.status_code == 422
    assert re.search(r'id="e-x-due">[^<]*before the start', bad.text)
    assert 'value="2027-01-01"' in bad.text

    changed = client.post(f"/actions/{first}/edit", data=form | fields | {"due": "2027-06-30"})
    assert changed.status_code == 303, changed.text
    assert actions_of(store)[0].due == dt.date(2027, 6, 30)
    with store.reading() as session:
        (event,) = [r for r in audit.query(session) if r.action == "action.updated"]
    assert event.payload is not None
    assert event.payload["changes"] == {"due": ["2027-05-31", "2027-06-30"]}  # only what changed

    again = client.post(f"/actions/{first}/edit", data=form | fields | {"title": "Annat"})
    assert again.status_code == 303  # the same form sent again: it acted once
    other = form_of(page, f"/actions/{first}/edit") | {"form_id": "another"}
    conflict = client.post(f"/actions/{first}/edit", data=other | fields | {"title": "Annat"})
    assert conflict.status_code == 409
    assert actions_of(store)[0].title == "Belysning i Stationsparken"


# ---------------------------------------------------------------- the åtgärdsplan


def test_the_plan_page_shows_the_versions_and_the_one_in_force(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    first, late, _done = three(engine)
    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    sign_in(client, MEMBER)
    assert "No åtgärdsplan has been proposed." in client.get("/actions/plan").text
    version, route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Åtgärdsplan 2027", [first, late]
    )
    assert "No åtgärdsplan has been adopted yet." in client.get("/actions/plan").text
    adopted = meeting(engine, route.body, dt.date(2027, 3, 8))  # the body's next meeting
    clock.set(local(adopted.year, adopted.month, adopted.day, 15))
    Decisions(engine).record(
        SECRETARY, version.decision_id, route.body, adopted, "§ 41", "approved"
    )
    action_plans.propose(engine, COORDINATOR, cycle.ref, "Reviderad åtgärdsplan", [first])
    page = client.get("/actions/plan")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert f"In force: version 1, adopted by {route.body.upper()} {adopted} § 41." in text
    assert "Version 2: Reviderad åtgärdsplan</h2>" in text
    assert re.search(r"Version 1: Åtgärdsplan 2027 <span class=\"kind\">in force</span>", text)
    assert f'<a href="/actions/{late}">Klotterplan</a>' in page.text
    assert f"{(adopted - dt.date(2027, 3, 1)).days} days overdue" in page.text


def test_the_follow_up_page_shows_the_plan_in_force_with_each_actions_effect(
    engine: Engine, client: TestClient, store: Store, clock: Clock
) -> None:
    """``/actions/review`` and ``GET /api/v1/actions/review``: what ``tsk action review``
    prints, for the styrgrupp."""
    from tsk_workflow.lagesbild.effect import review

    first, late, _done = three(engine)
    sign_in(client, MEMBER)
    empty = re.sub(r"\s+", " ", client.get("/actions/review").text)
    assert "No åtgärdsplan is in force: every action of the register." in empty
    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    version, route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Åtgärdsplan 2027", [first, late]
    )
    adopted = meeting(engine, route.body, dt.date(2027, 3, 8))  # the body's next meeting
    clock.set(local(adopted.year, adopted.month, adopted.day, 15))
    Decisions(engine).record(
        SECRETARY, version.decision_id, route.body, adopted, "§ 41", "approved"
    )
    page = client.get("/actions/review")
    assert page.status_code == 200, page.text
    text = re.sub(r"\s+", " ", page.text)
    assert "Version 1: Åtgärdsplan 2027</a>, adopted by" in text
    assert "How many of the planned actions have been carried out? 0 of 2" in text
    assert f'<a href="/actions/{late}">#{late} Klotterplan</a>' in page.text
    assert f"{(adopted - dt.date(2027, 3, 1)).days} days overdue" in page.text
    found = review(engine)
    with i18n.speaking("en"):  # the page's language
        for item in found.items:
            assert item.effect.judgement in text
    answer = client.get("/api/v1/actions/review")
    assert answer.status_code == 200, answer.text
    assert [a["id"] for a in answer.json()["actions"]] == [i.action.id for i in found.items]
    assert answer.json()["totals"]["planned"] == 2
    assert 'href="/actions/review"' in client.get("/actions").text


def test_a_chair_who_may_not_read_the_cycle_changes_the_action_and_keeps_its_cycle(
    engine: Engine, client: TestClient, store: Store
) -> None:
    first, _late, _done = three(engine)
    sign_in(client, "gunilla.ahlberg")  # chairs KS's groups: keeps the register, not of EST
    page = client.get(f"/actions/{first}").text
    assert '<a href="/cycles/est-2027-03">' not in page  # named, not linked
    assert '<option value="est-2027-03" selected>' in page  # still the action's cycle
    form = form_of(page, f"/actions/{first}/edit")
    fields = lighting(cycle="est-2027-03", town="herrljunga", cost="120000", window_days="90")
    fields |= {"owner_organisation": "Samhällsbyggnad – fastighet", "decision": "", "promise": ""}
    fields |= {"latitude": "", "longitude": "", "due": "2027-06-15"}
    changed = client.post(f"/actions/{first}/edit", data=form | fields)
    assert changed.status_code == 303, changed.text
    (action, *_rest) = actions_of(store)
    assert action.due == dt.date(2027, 6, 15)
    assert action.cycle_id is not None

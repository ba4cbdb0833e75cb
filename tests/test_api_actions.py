"""The API's action register (``web/api_actions.py``) and ``tsk action`` through the service
(``TSK_URL``): add, list with filters, show, change, follow up, the åtgärdsplan's versions;
values the engine refuses as one problem (422) naming each field; who may not, refused (403).
The commands run in-process (``CliRunner``) against the service served by uvicorn on
127.0.0.1 over the test's database, with a personal API token as ``tsk login`` keeps it, and
print what they print on the database."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from tests.enginekit import Clock, local
from tests.webkit import demo_sign_in, herrljunga, live_service, service_client
from tsk_workflow.cli import cli, client
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.store import tokens
from tsk_workflow.store.database import Store
from tsk_workflow.web import bearer

CLOCK_START = local(2027, 3, 8, 10)
COORDINATOR = "jessica.wahlstrom"
OWNER = "jonas.ek"
NOBODY = "rachel.moore"  # of no group: reads the register, keeps none of it
SECRETARY = "nina.bergqvist"
NAMES = {"owner_name", "category_label", "town_name"}


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    engine = herrljunga(store, clock)
    engine.open_cycle(COORDINATOR, "est", "2027-03")
    return engine


@pytest.fixture
def api(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def token_for(store: Store, person: str) -> str:
    token, hashed = bearer.new_token()
    now = bearer.wall_clock()
    tokens.issue(
        store,
        token_hash=hashed,
        municipality="herrljunga",
        person=person,
        label="test",
        now=now,
        expires_at=now + dt.timedelta(days=1),
    )
    return token


def as_(store: Store, person: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(store, person)}", "Accept-Language": "en"}


def lighting(**given: Any) -> dict[str, Any]:
    return {
        "title": "Belysning i Stationsparken",
        "cause": "Otrygghet kvällstid vid stationen",
        "start": "2027-03-15",
        "due": "2027-05-31",
        "owner": OWNER,
        "cost": 120000,
        "category": "otrygg_plats",
        "town": "Herrljunga",
        **given,
    }


# ---------------------------------------------------------------- the API


def test_the_api_adds_lists_shows_changes_and_follows_up(api: TestClient, store: Store) -> None:
    coordinator = as_(store, COORDINATOR)
    made = api.post("/api/v1/actions", json=lighting(cycle="est-2027-03"), headers=coordinator)
    assert made.status_code == 201, made.text
    action = made.json()
    assert (action["owner"], action["owner_name"], action["status"], action["cost"]) == (
        OWNER,
        "Jonas Ek",
        "green",
        120000.0,
    )
    assert (action["town"], action["town_name"]) == ("herrljunga", "Herrljunga")
    number = action["id"]
    late = api.post(
        "/api/v1/actions",
        json=lighting(title="Klotterplan", start="2027-01-10", due="2027-03-01", status="red"),
        headers=coordinator,
    ).json()

    reader = as_(store, NOBODY)  # everyone may read the register
    listed = api.get("/api/v1/actions", headers=reader).json()
    assert [a["id"] for a in listed] == [late["id"], number]
    assert [a["id"] for a in api.get("/api/v1/actions?overdue=true", headers=reader).json()] == [
        late["id"]
    ]
    assert api.get("/api/v1/actions?status=red", headers=reader).json()[0]["title"] == "Klotterplan"
    by_cycle = api.get("/api/v1/actions?cycle=est-2027-03", headers=reader).json()
    assert [a["id"] for a in by_cycle] == [number]
    assert api.get("/api/v1/actions?state=done", headers=reader).json() == []
    owner = as_(store, OWNER)
    assert len(api.get("/api/v1/actions?mine=true", headers=owner).json()) == 2
    shown = api.get(f"/api/v1/actions/{number}", headers=reader).json()
    assert shown["followups"] == []
    assert shown["effect"]["verdict"] == "too_early"
    assert api.get("/api/v1/actions/999", headers=reader).status_code == 404

    changed = api.patch(
        f"/api/v1/actions/{number}", json={"due": "2027-06-30", "goal": None}, headers=coordinator
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["due"] == "2027-06-30"

    followed = api.post(
        f"/api/v1/actions/{number}/followups",
        json={"status": "yellow", "note": "Leverantören är försenad"},
        headers=owner,
    )
    assert followed.status_code == 201, followed.text
    assert followed.json()["status"] == "yellow"
    assert followed.json()["followups"][0]["note"] == "Leverantören är försenad"


def test_refused_values_are_one_problem_naming_each_field(api: TestClient, store: Store) -> None:
    coordinator = as_(store, COORDINATOR)
    bad = api.post(
        "/api/v1/actions",
        json=lighting(owner=None, start="2027-06-01", due="2027-05-01", town="Atlantis"),
        headers=coordinator,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["detail"].startswith("the action is not right: due:")
    assert [e["field"] for e in problem["errors"]] == ["due", "owner", "town"]
    assert api.get("/api/v1/actions", headers=coordinator).json() == []

    made = api.post("/api/v1/actions", json=lighting(), headers=coordinator).json()
    no_note = api.post(
        f"/api/v1/actions/{made['id']}/followups", json={"status": "red"}, headers=coordinator
    )
    assert no_note.status_code == 422
    assert no_note.json()["errors"] == [
        {"field": "note", "message": no_note.json()["errors"][0]["message"]}
    ]
    assert "note is required" in no_note.json()["detail"]
    status = api.patch(f"/api/v1/actions/{made['id']}", json={"status": "red"}, headers=coordinator)
    assert status.status_code == 409
    assert "followup" in status.json()["detail"]
    unknown = api.post("/api/v1/actions", json=lighting(colour="blå"), headers=coordinator)
    assert unknown.status_code == 422  # no such field


def test_who_may_not_keep_the_register_is_refused(api: TestClient, store: Store) -> None:
    refused = api.post("/api/v1/actions", json=lighting(), headers=as_(store, NOBODY))
    assert refused.status_code == 403
    made = api.post("/api/v1/actions", json=lighting(), headers=as_(store, COORDINATOR)).json()
    patch = api.patch(
        f"/api/v1/actions/{made['id']}", json={"title": "Annat"}, headers=as_(store, OWNER)
    )
    assert patch.status_code == 403  # the owner follows up, a coordinator changes it
    note = {"note": "Jag tycker"}
    other = api.post(
        f"/api/v1/actions/{made['id']}/followups", json=note, headers=as_(store, NOBODY)
    )
    assert other.status_code == 403
    assert api.get("/api/v1/actions").status_code == 401


def test_the_session_needs_its_csrf_token(api: TestClient, store: Store) -> None:
    token = demo_sign_in(api, COORDINATOR)
    assert api.post("/api/v1/actions", json=lighting()).status_code == 403
    made = api.post("/api/v1/actions", json=lighting(), headers={"X-CSRF-Token": token})
    assert made.status_code == 201


def test_the_plans_versions(api: TestClient, engine: Engine) -> None:
    first = Actions(engine).add(COORDINATOR, lighting(cost="5000"))
    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    version, route = action_plans.propose(engine, COORDINATOR, cycle.ref, "Plan", [first.id])
    Decisions(engine).record(
        SECRETARY, version.decision_id, route.body, dt.date(2027, 3, 8), "§ 41", "approved"
    )
    (found,) = api.get("/api/v1/action-plans", headers=as_(engine.store, NOBODY)).json()
    assert (found["version"], found["in_force"], found["paragraph"], found["actions"]) == (
        1,
        True,
        "§ 41",
        [first.id],
    )


# ---------------------------------------------------------------- tsk action through the service


@pytest.fixture
def served(engine: Engine, clock: Clock) -> Iterator[str]:
    with live_service(engine.store, clock) as url:
        yield url


def tsk_as(
    url: str, store: Store, person: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """``tsk ARGS`` as ``person`` through the service at ``url``."""
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(folder))
        client.write_token(client.Stored(url, token_for(store, person), person, "herrljunga"))
    env = {
        "TSK_URL": url,
        "XDG_CONFIG_HOME": str(folder),
        "TSK_DATABASE_URL": None,
        "TSK_ORG": None,
        "TSK_USER": None,
        "TSK_NOW": None,
        "TSK_LANG": "en",
    }

    def run(*args: str) -> Result:
        return CliRunner(env=env).invoke(cli, list(args))

    return run


def on_the_database(store: Store, person: str, *args: str) -> str:
    env = {"TSK_URL": None, "TSK_LANG": "en", "TSK_NOW": "2027-03-08T11:00"}
    result = CliRunner(env=env).invoke(
        cli, ["--db", store.url, "--org", "herrljunga", "--as", person, *args]
    )
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def test_tsk_action_through_the_service_prints_as_on_the_database(
    served: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = engine.store
    coordinator = tsk_as(served, store, COORDINATOR, tmp_path / "c", monkeypatch)
    added = coordinator(
        "action",
        "add",
        "--title",
        "Belysning i Stationsparken",
        "--cause",
        "Otrygghet vid stationen",
        "--due",
        "2027-05-31",
        "--owner",
        OWNER,
        "--town",
        "Herrljunga",
        "--category",
        "otrygg_plats",
        "--cycle",
        "est-2027-03",
    )
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("Action 1 added.\n  #1 [green] Belysning i Stationsparken")
    owner = tsk_as(served, store, OWNER, tmp_path / "o", monkeypatch)
    refused = owner("action", "followup", "1", "--status", "red")
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1  # one line, as on the database
    assert "note is required" in refused.stderr
    followed = owner("action", "followup", "1", "--status", "yellow", "--note", "Försenad")
    assert followed.exit_code == 0, followed.output
    assert "[yellow]" in followed.stdout
    changed = coordinator("action", "update", "1", "--due", "2027-06-30", "--json")
    assert changed.exit_code == 0, changed.output
    data = json.loads(changed.stdout)
    assert data["due"] == "2027-06-30"
    assert not NAMES & set(data)  # the JSON the database's command prints

    for args in (
        ("action", "list"),
        ("action", "list", "--mine"),
        ("action", "list", "--status", "yellow", "--json"),
        ("action", "list", "--state", "all", "--overdue"),
        ("action", "show", "1"),
        ("action", "show", "1", "--json"),
    ):
        through = owner(*args)
        assert through.exit_code == 0, (args, through.output)
        assert through.stdout == on_the_database(store, OWNER, *args), args
    bad = coordinator("action", "add", "--title", "X", "--cause", "Y", "--due", "31/5")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("tsk: the action is not right: due:")
    assert bad.stderr.count("\n") == 1


def test_a_value_too_long_to_read_is_refused_before_the_engine(
    api: TestClient, store: Store
) -> None:
    answer = api.post(
        "/api/v1/actions", json=lighting(cause="x" * 20_000), headers=as_(store, COORDINATOR)
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"].startswith("cause")


# ---------------------------------------------------------------- the safety survey's figures


def survey_round(engine: Engine, clock: Clock, year: int, share: float, town: float) -> str:
    """A November round of Herrljunga's survey, its result entered as figures."""
    chair = "hanna.nyberg"  # folkhälsostrateg
    clock.set(local(year, 11, 2, 9))
    cycle = engine.open_cycle(chair, "trygghetsundersokning", str(year))
    task = next(t for t in cycle.tasks if t.key == "ta_ut_resultat")
    answers = {
        "andel_trygga_kommunen": share,
        "svarande_kommunen": 350,
        "andel_trygga.herrljunga": town,
        "svarande.herrljunga": 140,
    }
    engine.complete_task(chair, task.id, None, answers)
    return cycle.ref


def test_the_action_page_and_the_api_compare_the_survey(
    api: TestClient, engine: Engine, store: Store, clock: Clock
) -> None:
    earlier = survey_round(engine, clock, 2027, 70, 61)
    made = Actions(engine).add(
        COORDINATOR, lighting(start="2027-12-01", due="2028-01-31", town="herrljunga")
    )
    later = survey_round(engine, clock, 2028, 71, 72.5)
    shown = api.get(f"/api/v1/actions/{made.id}", headers=as_(store, NOBODY)).json()
    survey = shown["effect"]["survey"]
    assert (survey["verdict"], survey["place"], survey["whole_municipality"]) == (
        "safer",
        "herrljunga",
        False,
    )
    assert survey["share_before"] == {"round": earlier, "share": 61, "respondents": 140}
    assert survey["share_after"] == {"round": later, "share": 72.5, "respondents": 140}
    assert survey["change_points"] == 11.5
    assert survey["judgement"].startswith(
        f"safer: 72.5 % feel safe in Herrljunga in {later} against 61 % in {earlier}"
    )
    demo_sign_in(api, NOBODY)
    page = api.get(f"/actions/{made.id}", params={"lang": "sv"}).text
    effect = re.search(r'<section id="effect".*?</section>', page, re.S)
    assert effect
    assert (
        f"Trygghetsundersökning: tryggare: 72,5 % känner sig trygga i Herrljunga i {later} mot"
        f" 61 % i {earlier} (+11,5 procentenheter; 140 och 140 svarande)"
    ) in effect.group(0)

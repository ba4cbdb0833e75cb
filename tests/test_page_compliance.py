"""The compliance view in the web app (``web/page_compliance.py``), the API
(``GET /api/v1/compliance``) and ``tsk compliance`` through the service: each item's level as a
word beside its colour, its reason, section and setting, with links to where the work is done;
in Swedish by default and in English; for those ``engine.compliance.may_read`` lets see it, and
a page (or a problem) saying so to anyone else, the refusal recorded. On SQLite and PostgreSQL,
through HTTP (Starlette's TestClient), the command against the service on uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.test_api_actions import as_, tsk_as
from tests.webkit import demo_sign_in, herrljunga, live_service, service_client
from tsk_workflow import i18n
from tsk_workflow.cli import cli
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.compliance import compliance, may_read
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct

CLOCK_START = local(2027, 9, 1, 10)
COORDINATOR = "jessica.wahlstrom"  # säkerhetschef: admin, holds the samordningsfunktion
KS_CHAIR = "gunilla.ahlberg"  # chairs the styrgrupp
HOLDER = "hanna.nyberg"  # folkhälsostrateg: holds the samordningsfunktion, chairs SSPF
MEMBER = "ida.wikstrom"  # a member of EST and SSPF, chair of none
NOBODY = "rachel.moore"  # a reporter of no group
PARTS = {
    "kartlaggning": "Skadegörelse och klotter ökar i centrum.",
    "ovrig_information": "Trygghetsenkäten 2026: fler känner sig otrygga vid stationen.",
    "analys": "Få vuxna ute kvällstid och dålig belysning.",
}


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with service_client(engine.store, clock) as client:
        yield client


def write_strategic_lagesbild(engine: Engine) -> str:
    cycle = engine.open_cycle(KS_CHAIR, "fordjupad_lagesbild", "2027")
    engine.advance(KS_CHAIR, cycle.ref, "analysera")
    with engine.store.reading() as session:
        [(task, person)] = [
            (t.id, t.assignee_ids[0])
            for t in engine.find_cycle(session, cycle.ref).tasks
            if t.key == "skriv_lagesbild"
        ]
    engine.complete_task(person, task, "Lägesbilden är skriven.", PARTS)
    return cycle.ref


def overdue_action(engine: Engine) -> int:
    made = Actions(engine).add(
        COORDINATOR,
        {
            "title": "Belysning i gångtunneln",
            "cause": "Otrygghet kvällstid",
            "start": "2027-06-01",
            "due": "2027-08-20",
            "owner": "jonas.ek",
        },
    )
    return made.id


def sign_in(client: TestClient, person: str, lang: str) -> None:
    demo_sign_in(client, person)
    client.get("/", params={"lang": lang})


def section(page: str, key: str) -> str:
    start = page.index(f'<section class="compliance-item" id="item-{key}"')
    return page[start : page.index("</section>", start)]


def refusals(store: Store) -> list[RefusedAct]:
    with store.reading() as session:
        return list(session.scalars(select(RefusedAct)))


def test_may_read_is_for_those_who_answer_for_the_work(engine: Engine) -> None:
    org = engine.org
    assert may_read(org, COORDINATOR)  # an admin
    assert may_read(org, "marie.lind")  # an admin
    assert may_read(org, HOLDER)  # holds the samordningsfunktion
    assert may_read(org, KS_CHAIR)  # chairs a group
    assert may_read(org, "stefan.moller")  # the styrgrupp's deputy chair
    assert not may_read(org, MEMBER)  # a member is not enough
    assert not may_read(org, NOBODY)


def test_the_page_in_english_with_levels_reasons_sections_settings_and_links(
    engine: Engine, client: TestClient
) -> None:
    ref = write_strategic_lagesbild(engine)
    late = overdue_action(engine)
    sign_in(client, COORDINATOR, "en")
    page = client.get("/compliance")
    assert page.status_code == 200, page.text
    text = page.text
    assert '<a href="/compliance" aria-current="page">What the law asks</a>' in text  # the menu
    assert "<h1>What the law asks</h1>" in text
    assert "where Herrljunga kommun stands on 2027-09-01" in text
    overall = text[text.index('<p class="compliance-overall">') :].split("</p>")[0]
    assert 'class="light light-red"' in overall
    assert "red</span>" in overall
    assert "(not met)" in overall

    lagesbild = section(text, "lagesbild")
    assert "<h2" in lagesbild
    assert "Strategic lägesbild</h2>" in lagesbild
    assert 'class="light light-green"' in lagesbild
    assert "green</span>" in lagesbild
    assert "(in order)" in lagesbild
    assert f"2027-09-01 ({ref}), with its three parts; renew by 2029-09-01" in lagesbild
    assert "<dt>Basis</dt><dd>4 § lag (2023:196)</dd>" in lagesbild
    assert "every 2 years (compliance.lagesbild_renewal: P2Y)" in lagesbild
    assert f'href="/cycles/{ref}"' in lagesbild

    plan = section(text, "atgardsplan")
    assert 'class="light light-red"' in plan
    assert "no åtgärdsplan has been decided" in plan
    assert 'href="/actions/plan"' in plan

    overdue = section(text, "forsenade")
    assert 'class="light light-yellow"' in overdue
    assert "yellow</span>" in overdue
    assert f"1 overdue, the longest by 12 days: #{late}" in overdue
    assert 'href="/actions?overdue=1"' in overdue
    assert client.get("/actions?overdue=1").text.count(f'<a href="/actions/{late}">') == 1

    function = section(text, "samordningsfunktion")
    assert "Jessica Wahlström" in function
    assert "<dt>Setting</dt>" not in function
    assert 'href="/actions/plan"' not in function


def test_the_page_is_swedish_by_default(engine: Engine, client: TestClient) -> None:
    demo_sign_in(client, KS_CHAIR)
    page = client.get("/compliance")
    assert page.status_code == 200, page.text
    assert '<html lang="sv">' in page.text
    assert "Strategisk lägesbild</h2>" in page.text
    assert "ingen strategisk lägesbild har skrivits" in page.text
    assert "röd</span>" in page.text
    assert "<dd>4 § lag (2023:196)</dd>" in page.text
    assert "kommunens val: vart 2:e år (compliance.lagesbild_renewal: P2Y)" in page.text
    assert 'lang="en"' in page.text
    assert 'href="?lang=en"' in page.text


def test_someone_not_allowed_gets_no_entry_and_a_page_saying_so(
    engine: Engine, client: TestClient, store: Store
) -> None:
    for person in (MEMBER, NOBODY):
        sign_in(client, person, "en")
        assert 'href="/compliance"' not in client.get("/").text  # no entry in the menu
        page = client.get("/compliance")
        assert page.status_code == 403
        assert "<h1>Not allowed</h1>" in page.text
        assert f"{person} may not see what the law asks of Herrljunga kommun" in page.text
        assert '<a href="/actions">' in page.text  # the menu is there, without the entry
        assert 'href="/compliance"' not in page.text
    assert [(r.actor, r.action) for r in refusals(store)] == [
        (MEMBER, "read_compliance"),
        (NOBODY, "read_compliance"),
    ]
    sign_in(client, HOLDER, "en")
    assert '<li><a href="/compliance">What the law asks</a></li>' in client.get("/").text


def test_the_api_answers_what_tsk_compliance_json_prints(
    engine: Engine, client: TestClient, store: Store
) -> None:
    write_strategic_lagesbild(engine)
    overdue_action(engine)
    answer = client.get("/api/v1/compliance", headers=as_(store, COORDINATOR))
    assert answer.status_code == 200, answer.text
    with i18n.speaking("en"):
        assert answer.json() == compliance(engine).to_dict()
    assert answer.json()["level"] == "red"
    refused = client.get("/api/v1/compliance", headers=as_(store, NOBODY))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "may not see what the law asks" in refused.json()["detail"]
    assert client.get("/api/v1/compliance").status_code == 401  # without a token or session


# ---------------------------------------------------------------- tsk compliance through the service


@pytest.fixture
def served(engine: Engine, clock: Clock) -> Iterator[str]:
    with live_service(engine.store, clock) as url:
        yield url


def on_the_database(store: Store, *args: str) -> str:
    env = {"TSK_URL": None, "TSK_LANG": "en", "TSK_NOW": "2027-09-01T10:00"}
    result = CliRunner(env=env).invoke(cli, ["--db", store.url, "--org", "herrljunga", *args])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def test_tsk_compliance_through_the_service_prints_as_on_the_database(
    served: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = engine.store
    write_strategic_lagesbild(engine)
    overdue_action(engine)
    chair = tsk_as(served, store, KS_CHAIR, tmp_path / "c", monkeypatch)
    for args in (("compliance",), ("compliance", "--json")):
        through = chair(*args)
        assert through.exit_code == 0, (args, through.output)
        assert through.stdout == on_the_database(store, *args), args
    assert json.loads(chair("compliance", "--json").stdout)["municipality"] == "herrljunga"
    assert "▲ YELLOW Actions past their due date" in chair("compliance").stdout
    refused = tsk_as(served, store, NOBODY, tmp_path / "n", monkeypatch)("compliance")
    assert refused.exit_code == 1
    assert "may not see what the law asks" in refused.stderr

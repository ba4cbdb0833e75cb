"""The compliance view (``tsk compliance``) on both databases: each requirement of Lag
(2023:196) green, yellow or red with its reason, its section and the municipality's setting,
read from what the record holds: the strategic lägesbild's three parts, the åtgärdsplan adopted
through a decision, the samordningsfunktion, the follow-ups due and the overdue actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, Tsk, local, make_engine, set_up
from tsk_workflow import i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.compliance import Compliance, compliance, period_words
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.service import Engine
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 9, 1, 10)
COORDINATOR = "jessica.wahlstrom"
KS_CHAIR = "gunilla.ahlberg"  # chairs the styrgrupp and the strategic lägesbild
OWNER = "jonas.ek"
PARTS = {
    "kartlaggning": "Skadegörelse och klotter ökar i centrum; våld i nära relationer ligger still.",
    "ovrig_information": "Trygghetsenkäten 2026: fler känner sig otrygga vid stationen kvällstid.",
    "analys": "Orsakerna är få vuxna ute kvällstid och dålig belysning.",
}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.speaking("en"):
        yield


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return make_engine(store, "herrljunga", clock)


def items(view: Compliance) -> dict[str, Any]:
    return {item.key: item for item in view.items}


def write_strategic_lagesbild(engine: Engine, answers: dict[str, str] | None = None) -> str:
    cycle = engine.open_cycle(KS_CHAIR, "fordjupad_lagesbild", "2027")
    engine.advance(KS_CHAIR, cycle.ref, "analysera")
    with engine.store.reading() as session:
        [(task, person)] = [
            (t.id, t.assignee_ids[0])
            for t in engine.find_cycle(session, cycle.ref).tasks
            if t.key == "skriv_lagesbild"
        ]
    engine.complete_task(person, task, "Lägesbilden är skriven.", answers or PARTS)
    return cycle.ref


def action(**given: Any) -> dict[str, Any]:
    return {
        "title": "Belysning i gångtunneln",
        "cause": "Otrygghet kvällstid",
        "due": "2027-12-31",
        "owner": OWNER,
        **given,
    }


def adopt_plan(engine: Engine, clock: Clock, day: dt.date) -> None:
    cycle = engine.open_cycle(KS_CHAIR, "styrgrupp", f"{day.year}-t1")
    version, route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Åtgärdsplan", None, {"strategisk": "ja"}
    )
    assert route.body == "styrgrupp"  # Herrljunga's styrgrupp decides strategic measures (003)
    clock.set(local(day.year, day.month, day.day, 15))
    Decisions(engine).record(KS_CHAIR, version.decision_id, "styrgrupp", day, "§ 4", "approved")


def test_a_municipality_that_has_done_nothing_yet_is_red(engine: Engine) -> None:
    view = compliance(engine)
    found = items(view)
    assert view.level == "red"
    assert list(found) == [
        "lagesbild",
        "atgardsplan",
        "samordningsfunktion",
        "uppfoljning",
        "forsenade",
        "styrdokument",
    ]
    assert found["lagesbild"].level == "red"
    assert found["lagesbild"].reason == "no strategic lägesbild has been written"
    assert found["lagesbild"].law == "4 § lag (2023:196)"
    assert found["lagesbild"].setting == (
        "the municipality's choice: every 2 years (compliance.lagesbild_renewal: P2Y)"
    )
    assert found["atgardsplan"].level == "red"
    assert found["samordningsfunktion"].level == "green"
    assert "Jessica Wahlström" in found["samordningsfunktion"].reason
    assert "trygghet@herrljunga.example.org" in found["samordningsfunktion"].reason


def test_the_strategic_lägesbild_with_its_three_parts_and_the_adopted_plan_are_green(
    engine: Engine, clock: Clock
) -> None:
    ref = write_strategic_lagesbild(engine)
    Actions(engine).add(COORDINATOR, action())
    adopt_plan(engine, clock, dt.date(2027, 10, 26))
    found = items(compliance(engine))
    assert found["lagesbild"].level == "green"
    assert found["lagesbild"].details["cycle"] == ref
    assert found["lagesbild"].details["sections"] == dict.fromkeys(PARTS, True)
    assert found["lagesbild"].reason.endswith("with its three parts; renew by 2029-09-01")
    assert found["atgardsplan"].level == "green"
    assert found["atgardsplan"].reason == "version 1, STYRGRUPP 2027-10-26 § 4, 1 actions"

    clock.set(local(2029, 9, 2, 9))  # two years on
    assert items(compliance(engine))["lagesbild"].level == "red"


def test_a_plan_decided_before_the_current_lägesbild_is_yellow(
    engine: Engine, clock: Clock
) -> None:
    Actions(engine).add(COORDINATOR, action())
    adopt_plan(engine, clock, dt.date(2027, 10, 26))
    clock.set(local(2027, 11, 2, 9))
    write_strategic_lagesbild(engine)
    plan = items(compliance(engine))["atgardsplan"]
    assert plan.level == "yellow"
    assert "decided before the current lägesbild (2027-11-02)" in plan.reason


def test_follow_ups_due_and_overdue_actions(engine: Engine, clock: Clock) -> None:
    register = Actions(engine)
    late = register.add(COORDINATOR, action(start="2027-09-01", due="2027-09-30"))
    kept = register.add(COORDINATOR, action(title="Nattvandring", due="2028-06-30"))
    clock.set(local(2027, 10, 5, 9))
    found = items(compliance(engine))
    assert found["forsenade"].level == "yellow"
    assert found["forsenade"].reason == f"1 overdue, the longest by 5 days: #{late.id}"
    clock.set(local(2028, 1, 15, 9))  # more than 90 days late
    assert items(compliance(engine))["forsenade"].level == "red"

    # Herrljunga follows up every 6 months (compliance.followup_interval: P6M)
    clock.set(local(2028, 3, 2, 9))
    register.followup(OWNER, kept.id, note="Går enligt plan.")
    follow = items(compliance(engine))["uppfoljning"]
    assert follow.level == "yellow"  # one of two not followed up within 6 months
    assert follow.details["late"] == [late.id]
    register.followup(OWNER, late.id, state="done", note="Klart till slut.")
    follow = items(compliance(engine))["uppfoljning"]
    assert (follow.level, follow.details["late"]) == ("green", [])
    assert items(compliance(engine))["forsenade"].level == "green"


def test_period_words() -> None:
    assert [period_words(p) for p in ("P1Y", "P2Y", "P6M", "P1Y6M")] == [
        "every year",
        "every 2 years",
        "every 6 months",
        "P1Y6M",
    ]
    with i18n.speaking("sv"):
        assert period_words("P2Y") == "vart 2:e år"


# ---------------------------------------------------------------- the command


@pytest.fixture
def tsk(
    store: Store, engine: Engine, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Tsk:
    set_up(engine)
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_tsk_compliance(tsk: Tsk, engine: Engine) -> None:
    found = tsk.ok("compliance", as_=COORDINATOR)
    assert found["municipality"] == "herrljunga"
    assert found["level"] == "red"
    assert [i["level"] for i in found["items"]][:3] == ["red", "red", "green"]
    swedish = tsk.text("compliance", as_=COORDINATOR)
    assert swedish.startswith("Herrljunga kommun, 2027-09-01: röd\n")
    assert "■ RÖD    Strategisk lägesbild" in swedish
    assert "Grund: 4 § lag (2023:196)" in swedish
    assert "kommunens val: vart 2:e år (compliance.lagesbild_renewal: P2Y)" in swedish
    english = tsk.text("--lang", "en", "compliance", as_=COORDINATOR)
    assert "● GREEN  Samordningsfunktion" in english

"""Decisions routed beyond KLG and KS, end to end on both databases (propose, routed, record):
the styrgrupp (Herrljunga, seed 003), the department concerned (Svenljunga's analysgrupp, seeds
000/001), a delegate under the delegationsordning (Tingsryd) and KF. A body that meets puts the
decision on its next agenda; one that decides without a meeting has none, and its decision is
numbered in the register of delegation decisions. Example rules are marked in the route's
reason and in ``tsk org show``."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import (
    Clock,
    Tsk,
    counts,
    local,
    make_engine,
    shared_catalog,
    shared_organisation,
)
from tsk_workflow import i18n
from tsk_workflow.cli.decision import BODY_KEYS
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.organisation.model import BODIES, Routing
from tsk_workflow.routing import EXAMPLE
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage

CLOCK_START = local(2027, 3, 8, 10)  # a Monday
EST_MEMBER = "tomas.berglund"  # Herrljunga's EST, the housing company


def routed_mail(store: Store, decision_id: int) -> set[str]:
    """Who was told that decision ``decision_id`` was routed."""
    with store.reading() as session:
        rows = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.context).where(
                OutboxMessage.template == "decision_routed"
            )
        ).all()
    return {who for who, context in rows if context["decision"]["id"] == decision_id}


def test_the_cli_offers_every_body() -> None:
    assert BODY_KEYS == BODIES


# --- the styrgrupp ------------------------------------------------------------------------------


def test_a_strategic_measure_goes_to_the_styrgrupp_and_its_chair_records_it(
    engine: Engine, store: Store, clock: Clock
) -> None:
    cycle = engine.open_cycle("jessica.wahlstrom", "est", "2027-03").id
    decisions = Decisions(engine)

    proposed, route = decisions.propose(
        EST_MEMBER, cycle, "Prioritera centrum", 500_000, {"strategisk": "ja"}
    )

    assert (proposed.routed_to, proposed.rule, route.example) == (
        "styrgrupp",
        "strategisk_inriktning",
        False,
    )
    assert "styrgruppen beslutar" in proposed.reason
    assert "exempel" not in proposed.reason
    assert "example" not in proposed.reason
    # Two weeks' lead from Monday 8 March: the last Tuesday of March.
    assert proposed.agenda_date == dt.date(2027, 3, 30)
    # The secretary (the säkerhetschef) and the chair are told, and the one who proposed.
    assert routed_mail(store, proposed.id) == {"jessica.wahlstrom", "gunilla.ahlberg", EST_MEMBER}

    clock.set(local(2027, 3, 30, 12))
    with pytest.raises(PermissionDenied, match="gunilla.ahlberg"):
        decisions.record(
            EST_MEMBER, proposed.id, "styrgrupp", dt.date(2027, 3, 30), "§ 3", "approved"
        )
    recorded = decisions.record(
        "gunilla.ahlberg", proposed.id, "styrgrupp", dt.date(2027, 3, 30), "3", "approved"
    )

    assert (recorded.status, recorded.body, recorded.paragraph) == ("approved", "styrgrupp", "§ 3")
    assert decisions.may_record("stefan.moller", "styrgrupp")  # the deputy, in the chair's place
    assert not decisions.may_record(EST_MEMBER, "styrgrupp")


# --- the department concerned -----------------------------------------------------------------


@pytest.fixture
def svenljunga(store: Store, clock: Clock) -> Engine:
    return make_engine(store, "svenljunga", clock)


def test_a_measure_goes_to_the_department_concerned_whose_head_records_it(
    svenljunga: Engine, store: Store, clock: Clock
) -> None:
    cycle = svenljunga.open_cycle("maria.holm", "est", "2027-03").id
    decisions = Decisions(svenljunga)
    attrs = {"forvaltning": "Socialförvaltningen"}

    proposed, route = decisions.propose("maria.holm", cycle, "Fältassistenter", 60_000, attrs)

    assert (proposed.routed_to, proposed.rule) == ("forvaltning", "berord_forvaltning")
    assert "(forvaltning = Socialförvaltningen)" in route.reason("en")
    assert proposed.agenda_date is None  # the head of the department decides alone
    assert routed_mail(store, proposed.id) == {"annika.lund", "maria.holm"}
    assert decisions.recorders("forvaltning", attrs) == ["annika.lund"]

    clock.set(local(2027, 3, 10, 9))
    with pytest.raises(PermissionDenied, match="annika.lund"):  # another department's head
        decisions.record(
            "per.svensson", proposed.id, "forvaltning", dt.date(2027, 3, 10), "D 1", "approved"
        )
    before = counts(store)  # a refusal of a permission is kept; one of a value is not
    with pytest.raises(Refused, match="paragraf sju"):  # a number has a digit
        decisions.record(
            "annika.lund",
            proposed.id,
            "forvaltning",
            dt.date(2027, 3, 10),
            "paragraf sju",
            "approved",
        )
    assert counts(store) == before

    recorded = decisions.record(
        "annika.lund", proposed.id, "forvaltning", dt.date(2027, 3, 10), " D  2027:14 ", "approved"
    )

    assert (recorded.body, recorded.paragraph, recorded.agenda_date) == (
        "forvaltning",
        "D 2027:14",
        None,
    )


def test_without_a_department_named_every_head_may_record(svenljunga: Engine) -> None:
    heads = Decisions(svenljunga).recorders("forvaltning", {})
    assert heads == ["per.svensson", "annika.lund", "kristina.dahl"]


def test_a_proposal_that_names_no_department_takes_the_default(svenljunga: Engine) -> None:
    cycle = svenljunga.open_cycle("maria.holm", "est", "2027-03").id
    proposed, _ = Decisions(svenljunga).propose("maria.holm", cycle, "Bänkar", 5_000)
    assert (proposed.routed_to, proposed.rule) == ("klg", "default")


# --- a delegate ---------------------------------------------------------------------------------


def test_a_delegated_decision_goes_to_the_delegate_without_a_meeting(
    store: Store, clock: Clock
) -> None:
    tingsryd = make_engine(store, "tingsryd", clock)
    cycle = tingsryd.open_cycle("malin.gustavsson", "samverkan").id
    decisions = Decisions(tingsryd)

    proposed, _ = decisions.propose(
        "malin.gustavsson", cycle, "Belysning i parken", 80_000, {"delegerat": "ja"}
    )

    assert (proposed.routed_to, proposed.agenda_date) == ("delegat", None)
    # The kommunchef is the delegate; the ekonomichef stands in for the kommunchef.
    assert routed_mail(store, proposed.id) == {"bengt.rydell", "malin.gustavsson"}
    assert decisions.recorders("delegat") == ["bengt.rydell", "sven.nilsson"]

    clock.set(local(2027, 3, 9, 9))
    postponed = decisions.record(
        "bengt.rydell", proposed.id, "delegat", dt.date(2027, 3, 9), "2027/31", "postponed"
    )
    assert (postponed.status, postponed.agenda_date) == ("postponed", None)
    approved = decisions.record(
        "bengt.rydell", proposed.id, "delegat", dt.date(2027, 3, 9), "2027/32", "approved"
    )
    assert (approved.status, approved.paragraph) == ("approved", "2027/32")


# --- KF -----------------------------------------------------------------------------------------


def test_a_decision_for_kf_goes_on_its_agenda_and_the_kansli_records_it(
    store: Store, clock: Clock
) -> None:
    from tsk_workflow.features import build_engine

    herrljunga = shared_organisation("herrljunga")
    to_kf = Routing.model_validate(
        {
            "default": "klg",
            "rules": [
                {
                    "name": "budget",
                    "to": "kf",
                    "when": {"attr": {"budget": "ja"}},
                    "reason": {"sv": "Budgeten beslutas av fullmäktige", "en": "The council"},
                }
            ],
        }
    )
    org = herrljunga.model_copy(update={"routing": to_kf})
    engine = build_engine(store, shared_catalog(), org, clock)
    cycle = engine.open_cycle("jessica.wahlstrom", "est", "2027-03").id
    decisions = Decisions(engine)

    proposed, _ = decisions.propose(
        "jessica.wahlstrom", cycle, "Trygghetsbudget", None, {"budget": "ja"}
    )

    # Six weeks' lead from 8 March is 19 April; KF meets the third Tuesday of April: the 20th.
    assert (proposed.routed_to, proposed.agenda_date) == ("kf", dt.date(2027, 4, 20))
    assert decisions.recorders("kf") == []  # no secretary set: the kansli records
    clock.set(local(2027, 4, 20, 20))
    with pytest.raises(PermissionDenied, match="kanslichef"):
        decisions.record(EST_MEMBER, proposed.id, "kf", dt.date(2027, 4, 20), "§ 44", "approved")
    recorded = decisions.record(
        "marie.lind", proposed.id, "kf", dt.date(2027, 4, 20), "§ 44", "approved"
    )
    assert (recorded.body, recorded.paragraph) == ("kf", "§ 44")


# --- example rules ------------------------------------------------------------------------------


def test_an_example_rule_says_so_in_the_stored_reason(engine: Engine) -> None:
    cycle = engine.open_cycle("jessica.wahlstrom", "est", "2027-03").id
    proposed, route = Decisions(engine).propose(EST_MEMBER, cycle, "Kameror", 250_000)

    assert (proposed.rule, route.example) == ("kostnad_over_200000", True)
    with i18n.speaking("sv"):
        marker = i18n._(EXAMPLE)
    assert proposed.reason.endswith(f"[{marker}]")
    assert route.reason("en").endswith("[example rule – to be set by the municipality]")


@pytest.fixture
def tsk(store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    tsk = Tsk(runner, store, "herrljunga", clock, monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_="jessica.wahlstrom")
    return tsk


def test_cli_routes_to_the_styrgrupp_and_records_for_it(tsk: Tsk, clock: Clock) -> None:
    text = tsk.text(
        "--lang", "en", "decision", "propose", "est-2027-03", "--title", "Prioritera centrum",
        "--attr", "strategisk=ja", as_=EST_MEMBER,
    )  # fmt: skip
    assert "to STYRGRUPP by the rule 'strategisk_inriktning'" in text
    assert "on the agenda of STYRGRUPP 2027-03-30" in text

    clock.set(local(2027, 3, 30, 12))
    row = tsk.ok(
        "decision", "record", "1", "--body", "styrgrupp", "--date", "2027-03-30",
        "--paragraph", "§ 3", "--outcome", "approved", as_="gunilla.ahlberg",
    )  # fmt: skip
    assert (row["body"], row["paragraph"], row["status"]) == ("styrgrupp", "§ 3", "approved")


def test_org_show_marks_the_example_rules(tsk: Tsk) -> None:
    shown = tsk.ok("org", "show")
    rules = {rule["name"]: rule for rule in shown["routing"]["rules"]}
    assert rules["strategisk_inriktning"]["to"] == "styrgrupp"
    assert not rules["strategisk_inriktning"]["example"]
    assert rules["kostnad_over_200000"]["example"]
    assert rules["kostnad_over_200000"]["when"] == {"cost_over": 200000.0}
    assert shown["bodies"]["styrgrupp"]["group"] == "styrgrupp"

    text = tsk.text("--lang", "en", "org", "show")
    lines = {line.split()[0]: line for line in text.splitlines() if "->" in line}
    assert "[example rule – to be set by the municipality]" in lines["kostnad_over_200000"]
    assert "example" not in lines["strategisk_inriktning"]
    assert "styrgrupp" in lines["strategisk_inriktning"]

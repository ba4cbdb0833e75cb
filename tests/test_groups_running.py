"""A process more than one group runs: "även andra operativa grupper ska vid behov ta fram
lägesbilder och åtgärdsplaner" (seed 003). The organisation names the process's group and the
groups that ``also_run_by`` it; a chair of one of them opens a cycle for that group (``tsk cycle
open --group``, ``group`` in the API), and the cycle is that group's: its chair's tasks, its
members' mail, its members' proposals and actions, recorded in ``cycle.opened`` and checked by
``audit verify``. On SQLite and PostgreSQL where a store is used."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, local, set_up, shared_catalog, shared_organisation
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import i18n, replay
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import check_organisation
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Cycle, OutboxMessage

CLOCK_START = local(2027, 3, 1, 9)

PROCESS = "operativ_lagesbild"
FOLKHALSOSTRATEG = "hanna.nyberg"  # chairs SSPF and Rättighetsnätverket
RN_MEMBER = "ali.rahimi"  # Rättighetsnätverket, not SSPF
SSPF_MEMBER = "viktor.holmberg"  # SSPF, not Rättighetsnätverket
EST_CHAIR = "jessica.wahlstrom"  # chairs EST, a member of SSPF


def _with_also(org: Organisation, *groups: str) -> Organisation:
    settings = org.processes[PROCESS].model_copy(update={"also_run_by": groups})
    return org.model_copy(update={"processes": {**org.processes, PROCESS: settings}})


def _problems(org: Organisation) -> list[tuple[tuple[str | int, ...], str]]:
    with i18n.speaking("en"):
        found = check_organisation(org, shared_catalog().definitions)
    return [(tuple(path), message) for path, message in found if path[:2] == ("processes", PROCESS)]


# ---------------------------------------------------------------- the organisation file


def test_herrljungas_operative_groups_both_run_the_on_demand_lagesbild() -> None:
    org = shared_organisation("herrljunga")
    assert org.processes[PROCESS].group == "sspf"
    assert org.processes[PROCESS].also_run_by == ("rattighetsnatverket",)
    assert _problems(org) == []


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (
            ("rattighetsnatverkt",),
            [
                (
                    ("processes", PROCESS, "also_run_by", 0),
                    "unknown group 'rattighetsnatverkt' (did you mean 'rattighetsnatverket'?)",
                )
            ],
        ),
        (
            ("rattighetsnatverket", "sspf", "rattighetsnatverket"),
            [
                (("processes", PROCESS, "also_run_by", 1), "group 'sspf' is named twice"),
                (
                    ("processes", PROCESS, "also_run_by", 2),
                    "group 'rattighetsnatverket' is named twice",
                ),
            ],
        ),
        (
            ("fri_fran_vald",),
            [
                (
                    ("processes", PROCESS, "also_run_by", 0),
                    "process 'operativ_lagesbild' is chaired by the folkhalsostrateg, but the"
                    " chair of group 'fri_fran_vald' (amanda.lindh) does not hold that role",
                )
            ],
        ),
    ],
    ids=["unknown", "twice", "chair-without-the-role"],
)
def test_the_validator_checks_each_group_that_also_runs_a_process(
    groups: tuple[str, ...], expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    assert _problems(_with_also(shared_organisation("herrljunga"), *groups)) == expected


# ---------------------------------------------------------------- the engine


@pytest.fixture
def herr(store: Store, clock: Clock) -> Engine:
    return herrljunga(store, clock)


def _mailed(store: Store, cycle_id: int, template: str) -> set[str]:
    with store.reading() as session:
        found = select(OutboxMessage.recipient).where(
            OutboxMessage.cycle_id == cycle_id, OutboxMessage.template == template
        )
        return set(session.scalars(found))


def test_a_chair_opens_a_cycle_for_another_group_that_runs_the_process(
    herr: Engine, store: Store
) -> None:
    own = herr.open_cycle(FOLKHALSOSTRATEG, PROCESS)
    other = herr.open_cycle(FOLKHALSOSTRATEG, PROCESS, group="rattighetsnatverket")

    assert (own.group_key, own.period) == ("sspf", "1")
    assert (other.group_key, other.period) == ("rattighetsnatverket", "2")
    network = shared_organisation("herrljunga").group("rattighetsnatverket")
    assert network is not None
    mailed = _mailed(store, other.id, "cycle_opened")
    assert RN_MEMBER in mailed
    assert mailed <= {FOLKHALSOSTRATEG, *network.members}  # its group's, no one else
    assert SSPF_MEMBER not in mailed
    assert SSPF_MEMBER in _mailed(store, own.id, "cycle_opened")
    with store.reading() as session:
        opened = session.scalars(
            select(AuditPayload.payload)
            .join(AuditEvent, AuditEvent.seq == AuditPayload.seq)
            .where(AuditEvent.action == "cycle.opened", AuditEvent.cycle_id == other.id)
        ).one()
        assert opened["group"] == "rattighetsnatverket"
        assert session.get(Cycle, other.id).group_key == "rattighetsnatverket"  # type: ignore[union-attr]
        assert replay.verify_record(session).ok


def test_only_a_group_that_runs_the_process_and_only_its_chair_may_open_one(
    herr: Engine,
) -> None:
    with i18n.speaking("en"), pytest.raises(Refused) as refused:
        herr.open_cycle(EST_CHAIR, PROCESS, group="est")
    assert str(refused.value) == (
        "group 'est' does not run the process 'operativ_lagesbild'; these do: sspf,"
        " rattighetsnatverket"
    )
    with pytest.raises(PermissionDenied):
        herr.open_cycle(RN_MEMBER, PROCESS, group="rattighetsnatverket")
    with pytest.raises(PermissionDenied):  # a member of SSPF is no chair of the network
        herr.open_cycle(EST_CHAIR, PROCESS, group="rattighetsnatverket")


def test_the_groups_members_read_it_propose_from_it_and_add_its_actions(herr: Engine) -> None:
    cycle = herr.open_cycle(FOLKHALSOSTRATEG, PROCESS, group="rattighetsnatverket")
    decisions = Decisions(herr)
    with herr.store.reading() as session:
        row = herr.readable_cycle(session, RN_MEMBER, cycle.ref)
        assert decisions.may_propose(RN_MEMBER, row)
        assert not decisions.may_propose(SSPF_MEMBER, row)
        with pytest.raises(PermissionDenied):
            herr.readable_cycle(session, SSPF_MEMBER, cycle.ref)
    decision, _route = decisions.propose(RN_MEMBER, cycle.ref, "Stödsamtal i skolan", 5_000)
    assert decision.proposed_by == RN_MEMBER
    with pytest.raises(PermissionDenied):
        decisions.propose(SSPF_MEMBER, cycle.ref, "Något annat", 1_000)


# ---------------------------------------------------------------- the CLI and the service


@pytest.fixture
def cli(runner: Any, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    set_up(herrljunga(store, clock))
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_cycle_open_takes_the_group(cli: Tsk) -> None:
    opened = cli.ok(
        "cycle", "open", PROCESS, "--group", "rattighetsnatverket", as_=FOLKHALSOSTRATEG
    )
    assert opened["group"] == "rattighetsnatverket"
    shown = cli("cycle", "show", opened["ref"], as_=FOLKHALSOSTRATEG)
    assert "gruppen rattighetsnatverket" in shown.output, shown.output
    refused = cli("cycle", "open", PROCESS, "--group", "est", as_=EST_CHAIR)
    assert refused.exit_code != 0
    assert "det gör: sspf, rattighetsnatverket" in refused.output, refused.output
    listed = cli("org", "show")
    assert "operativ_lagesbild       sspf; även rattighetsnatverket, vid behov" in listed.output


def test_the_service_opens_a_cycle_for_the_group_given(store: Store, clock: Clock) -> None:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        token = demo_sign_in(client, FOLKHALSOSTRATEG)
        opened = client.post(
            "/api/v1/cycles",
            json={"process": PROCESS, "group": "rattighetsnatverket"},
            headers={"X-CSRF-Token": token},
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["group"] == "rattighetsnatverket"
        token = demo_sign_in(client, EST_CHAIR)
        refused = client.post(
            "/api/v1/cycles",
            json={"process": PROCESS, "group": "est"},
            headers={"X-CSRF-Token": token},
        )
        assert refused.status_code in {403, 409, 422}, refused.text

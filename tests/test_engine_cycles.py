"""The engine on both databases: opening cycles, the tasks a step creates, moving on by itself,
triggers, documents, closing, and Tingsryd's cycle that starts again when it closes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.enginekit import (
    Clock,
    counts,
    cycle_state,
    events,
    finish_step,
    local,
    make_engine,
    tasks,
)
from tsk_workflow.engine.actions import Actions
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, OutboxMessage, Timer

CHAIR, DEPUTY = "jessica.wahlstrom", "hanna.nyberg"
REPORTERS = ("johanna.falk", "viktor.holmberg", "ida.wikstrom", "jonas.ek", "rachel.moore")
SAMORDNARE = ("erik.sundin", "hanna.nyberg", "jessica.wahlstrom", "tomas.berglund")
# One coordinator per organisation (the municipality, the police, the housing company); the
# chair's deputy stands in for the role, so shares the pool but has no own lägesbild.
OWN_LAGESBILD = ("erik.sundin", "jessica.wahlstrom", "tomas.berglund")
T_CHAIR, T_DEPUTY, POLICE = "malin.gustavsson", "lina.axelsson", "jonas.lindberg"


@pytest.fixture
def tingsryd(store: Store, clock: Clock) -> Engine:
    return make_engine(store, "tingsryd", clock)


def opened_est(engine: Engine, period: str = "2027-03") -> int:
    return engine.open_cycle(CHAIR, "est", period).id


# --- opening -------------------------------------------------------------------------------


def test_open_creates_a_task_for_each_reporter(engine: Engine, store: Store) -> None:
    cycle = engine.open_cycle(CHAIR, "est")

    assert (cycle.ref, cycle.period, cycle.state, cycle.status) == (
        "est-2027-03",
        "2027-03",
        "insamling",
        "open",
    )
    assert cycle.opened_by == CHAIR
    opened = tasks(engine, cycle.id)
    assert sorted(t.assignees for t in opened) == sorted((p,) for p in REPORTERS)
    assert {t.key for t in opened} == {"rapport"}
    # 7 working days from Monday 1 March: Wednesday 10 March, end of the working day.
    assert {t.due for t in opened} == {local(2027, 3, 10, 17)}
    with store.reading() as session:
        mailed = set(session.scalars(select(OutboxMessage.recipient)))
        timers = {
            (t.kind, t.task_id) for t in session.scalars(select(Timer).where(Timer.task_id > 0))
        }
    assert set(REPORTERS) <= mailed
    assert {kind for kind, _ in timers} >= {"due", "reminder", "escalation"}
    assert [e.action for e in events(store)] == ["cycle.opened"]
    (opened_event,) = events(store)
    assert (opened_event.actor, opened_event.role) == (CHAIR, "chair")


def test_shared_tasks_go_to_holders_and_deputies(tingsryd: Engine) -> None:
    cycle = tingsryd.open_cycle(T_CHAIR, "samverkan")

    by_key = {t.key: t.assignees for t in tasks(tingsryd, cycle.id)}
    assert by_key == {
        "skapa_struktur": (T_DEPUTY, T_CHAIR),
        "polisens_samordnare": (POLICE,),
        "resursinventering": (T_DEPUTY, T_CHAIR),
        "forsta_overenskommelse": (T_DEPUTY, T_CHAIR),
    }
    assert cycle.ref == "samverkan-1"
    finish_step(tingsryd, cycle.id)
    by_key = {t.key: t.assignees for t in tasks(tingsryd, cycle.id)}
    # kommunchef is held by bengt.rydell, with sven.nilsson as deputy.
    assert by_key["forutsattningar"] == ("bengt.rydell", "sven.nilsson")


def test_the_same_cycle_cannot_be_opened_twice(engine: Engine, store: Store) -> None:
    opened_est(engine)
    before = counts(store)

    with pytest.raises(Refused, match="cykeln est-2027-03 finns redan"):
        engine.open_cycle(DEPUTY, "est", "2027-03")
    assert counts(store) == before


def test_unknown_process_and_cycle_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound, match="okänd process 'nope'"):
        engine.open_cycle(CHAIR, "nope")
    with pytest.raises(NotFound, match="driver inte processen 'samverkan'"):
        engine.open_cycle(CHAIR, "samverkan")
    with pytest.raises(NotFound, match="ingen cykel 'est-2030-01'"):
        engine.advance(CHAIR, "est-2030-01", "sammanstall")


# --- moving on -------------------------------------------------------------------------------


def test_step_moves_on_when_its_required_tasks_are_done(
    engine: Engine, store: Store, clock: Clock
) -> None:
    cycle = opened_est(engine)
    reports = tasks(engine, cycle)
    for task in reports[:-1]:
        engine.complete_task(task.assignees[0], task.id, "inga händelser", nothing_to_report=True)
    assert cycle_state(engine, cycle) == ("insamling", "open")

    clock.advance(days=2)
    last = reports[-1]
    answers = {"kategori": "klotter", "ort": "herrljunga", "beskrivning": "Vid stationen"}
    engine.complete_task(last.assignees[0], last.id, "klotter vid stationen", answers)

    # Each organisation's coordinator compiles its own lägesbild, then one the common one.
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    own = tasks(engine, cycle)
    assert {t.key for t in own} == {"sammanstall_egen_lagesbild"}
    assert sorted(t.assignees for t in own) == [(person,) for person in OWN_LAGESBILD]
    assert last_advanced(store) == (last.assignees[0], "insamling", "egna_lagesbilder")
    for task in own:
        engine.complete_task(task.assignees[0], task.id, "vår lägesbild")

    assert cycle_state(engine, cycle) == ("sammanstallning", "open")
    (compile_task,) = tasks(engine, cycle)
    assert compile_task.key == "sammanstall_lagesbild"
    assert compile_task.assignees == SAMORDNARE
    assert last_advanced(store) == (own[-1].assignees[0], "egna_lagesbilder", "sammanstallning")


def last_advanced(store: Store) -> tuple[str, str, str]:
    """Who moved the cycle on last, from where to where (moved on automatically)."""
    from tsk_workflow import audit

    advanced = events(store, "cycle.advanced")[-1]
    with store.reading() as session:
        (row,) = [r for r in audit.query(session) if r.seq == advanced.seq]
    assert row.payload is not None
    assert row.payload["automatic"] is True
    return advanced.actor, row.payload["from"], row.payload["to"]


def test_every_act_on_a_cycle_counts_its_version(engine: Engine) -> None:
    cycle = opened_est(engine)
    first = tasks(engine, cycle)[0]

    def version() -> int:
        with engine.store.reading() as session:
            return engine.find_cycle(session, cycle).version

    start = version()
    engine.complete_task(first.assignees[0], first.id, nothing_to_report=True)
    assert version() == start + 1


def test_optional_task_does_not_hold_the_step(tingsryd: Engine) -> None:
    cycle = tingsryd.open_cycle(T_CHAIR, "samverkan").id

    assert finish_step(tingsryd, cycle) == "egna_forberedelser"

    everything = {t.key: t.status for t in tasks(tingsryd, cycle, status=None)}
    assert everything["forsta_overenskommelse"] == "cancelled"
    assert everything["skapa_struktur"] == "done"


def test_wrong_trigger_is_refused_naming_the_allowed_ones(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    before = counts(store)

    with pytest.raises(Refused) as refused:
        engine.advance(CHAIR, cycle, "analysera")

    message = str(refused.value)
    assert "'analysera' kan inte göras från steget 'insamling'" in message
    assert "tillåtna: sammanstall" in message
    assert counts(store) == before
    with pytest.raises(Refused, match="tillåtna: sammanstall"):
        engine.advance(CHAIR, cycle, "no_such_trigger")


def test_advancing_by_hand_cancels_the_open_tasks_of_the_step(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    reports = {t.id for t in tasks(engine, cycle)}

    engine.advance("tomas.berglund", cycle, "sammanstall", note="alla har rapporterat muntligt")

    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    statuses = {t.id: t.status for t in tasks(engine, cycle, status=None)}
    assert {statuses[i] for i in reports} == {"cancelled"}
    with store.reading() as session:
        pending = session.scalars(
            select(Timer).where(Timer.task_id.in_(reports), Timer.status == "pending")
        ).all()
    assert pending == []
    advanced = events(store, "cycle.advanced")[-1]
    assert (advanced.actor, advanced.role) == ("tomas.berglund", "samordnare")


def test_meeting_step_plans_the_meeting_and_invites(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    finish_step(engine, cycle)
    finish_step(engine, cycle)
    assert finish_step(engine, cycle) == "orsaksanalys"

    assert [e.actor for e in events(store, "meeting.planned")] == ["tsk"]
    with store.reading() as session:
        invited = set(
            session.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.template == "meeting_invitation"
                )
            )
        )
    assert {CHAIR, DEPUTY, "erik.sundin", "sofie.ahlin"} <= invited


def test_whole_est_month_closes_by_itself(engine: Engine, store: Store, clock: Clock) -> None:
    cycle = opened_est(engine)
    steps = []
    for _ in range(7):
        clock.advance(days=3)
        state = finish_step(engine, cycle)
        if steps[-1:] == [state] == ["atgardsplan"]:  # the plan written, it waits for an action
            action = {"title": "Belysning", "cause": "Otryggt", "due": "2027-05-31"}
            Actions(engine).add(CHAIR, {**action, "owner": CHAIR, "cycle": cycle})
            state = cycle_state(engine, cycle)[0]
        steps.append(state)

    assert steps == [
        "egna_lagesbilder",
        "sammanstallning",
        "orsaksanalys",
        "atgardsplan",
        "beslut",  # the plan written, then an action added
        "aterkoppling",
        "avslutad",
    ]
    assert cycle_state(engine, cycle) == ("avslutad", "closed")
    statuses = {t.key: t.status for t in tasks(engine, cycle, status=None)}
    assert statuses["aterkoppla_forvaltningsledning"] == "cancelled"  # optional
    with store.reading() as session:
        closed = engine.find_cycle(session, cycle)
        assert closed.closed_by is not None
        assert closed.closed_at == clock.now
        assert not closed.forced
        live = session.scalars(
            select(Timer).where(Timer.cycle_id == closed.id, Timer.status == "pending")
        ).all()
    assert live == []
    assert events(store)[-1].action == "cycle.closed"


# --- documents -------------------------------------------------------------------------------


def test_step_waits_for_the_documents_it_must_produce(tingsryd: Engine, store: Store) -> None:
    cycle = tingsryd.open_cycle(T_CHAIR, "samverkan").id
    finish_step(tingsryd, cycle)

    assert finish_step(tingsryd, cycle) == "egna_forberedelser"  # tasks done, no lägesbild
    with pytest.raises(Refused, match="dokument saknas: lagesbild"):
        tingsryd.advance(T_CHAIR, cycle, "till_gemensamma_forberedelser")

    document = attach(
        tingsryd, POLICE, cycle, Upload("lagesbild.pdf", b"%PDF-1.7 lagesbild"), "lagesbild"
    )

    assert document.step == "egna_forberedelser"
    assert cycle_state(tingsryd, cycle) == ("gemensamma_forberedelser", "open")
    assert [e.action for e in events(store)][-3:] == [
        "document.attached",
        "cycle.advanced",
        "meeting.planned",
    ]


def test_document_of_an_unknown_kind_is_refused(tingsryd: Engine, store: Store) -> None:
    cycle = tingsryd.open_cycle(T_CHAIR, "samverkan").id
    before = counts(store)

    with pytest.raises(Refused, match="okänd dokumenttyp 'memo'"):
        attach(tingsryd, T_CHAIR, cycle, Upload("memo.txt", b"x"), "memo")
    with pytest.raises(Refused, match="får inte innehålla en mapp"):
        attach(tingsryd, T_CHAIR, cycle, Upload("../etc/passwd", b"x"), "other")
    assert counts(store) == before


# --- closing ---------------------------------------------------------------------------------


def test_closing_with_open_tasks_needs_force_and_a_note(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    before = counts(store)

    with pytest.raises(Refused, match="5 öppna uppgifter"):
        engine.close_cycle(CHAIR, cycle)
    with pytest.raises(Refused, match="kräver en --note"):
        engine.close_cycle(CHAIR, cycle, force=True)
    with pytest.raises(Refused, match="kräver en --note"):
        engine.close_cycle(CHAIR, cycle, "   ", force=True)
    assert counts(store) == before

    closed = engine.close_cycle(DEPUTY, cycle, "Ingen EST i mars: sammanfaller med KS", force=True)

    assert (closed.status, closed.forced, closed.closed_by) == ("closed", True, DEPUTY)
    assert closed.close_note == "Ingen EST i mars: sammanfaller med KS"
    assert {t.status for t in tasks(engine, cycle, status=None)} == {"cancelled"}
    from tsk_workflow import audit

    with store.reading() as session:
        row = audit.query(session)[-1]
    assert (row.action, row.actor, row.role) == ("cycle.closed", DEPUTY, "deputy chair")
    assert row.payload is not None
    assert row.payload["forced"] is True
    assert row.payload["note"] == "Ingen EST i mars: sammanfaller med KS"
    assert len(row.payload["cancelled_tasks"]) == 5


def test_a_closed_cycle_refuses_further_acts(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    task = tasks(engine, cycle)[0]
    engine.close_cycle(CHAIR, cycle, "inställd", force=True)
    before = counts(store)

    with pytest.raises(Refused, match="est-2027-03 är stängd"):
        engine.advance(CHAIR, cycle, "sammanstall")
    with pytest.raises(Refused, match="est-2027-03 är stängd"):
        engine.close_cycle(CHAIR, cycle, "igen", force=True)
    with pytest.raises(Refused, match="redan avbruten"):
        engine.complete_task(task.assignees[0], task.id)
    assert counts(store) == before


def test_closing_tingsryds_cycle_opens_the_next_round(
    tingsryd: Engine, store: Store, clock: Clock
) -> None:
    first = tingsryd.open_cycle(T_CHAIR, "samverkan").id
    produced = {
        "egna_forberedelser": ["lagesbild"],
        "gemensamma_forberedelser": ["lagesbild", "orsaksanalys", "samverkansoverenskommelse"],
        "genomforande": ["atgardsplan", "protokoll"],
        "uppfoljning": ["rapport"],
    }
    visited = []
    for _ in range(5):  # each step: its documents (and actions) attached, then its tasks done
        state, _ = cycle_state(tingsryd, first)
        for kind in produced.get(state, []):
            attach(
                tingsryd, T_CHAIR, first, Upload(f"{kind}.pdf", b"%PDF-1.7 " + kind.encode()), kind
            )
        if state == "genomforande":  # its plan is actions in the register
            action = {"title": "Fler vuxna ute", "cause": "Oro i centrum", "due": "2027-12-31"}
            Actions(tingsryd).add(T_CHAIR, {**action, "owner": T_CHAIR, "cycle": first})
        clock.advance(weeks=3)
        visited.append(finish_step(tingsryd, first))

    assert visited == [
        "egna_forberedelser",
        "gemensamma_forberedelser",
        "genomforande",
        "uppfoljning",
        "avslutad",
    ]
    assert cycle_state(tingsryd, first) == ("avslutad", "closed")
    with store.reading() as session:
        rounds = list(session.scalars(select(Cycle).order_by(Cycle.id)))
    assert [(c.ref, c.status, c.parent_id) for c in rounds] == [
        ("samverkan-1", "closed", None),
        ("samverkan-2", "open", first),
    ]
    assert rounds[1].opened_at == clock.now
    assert {t.key for t in tasks(tingsryd, "samverkan-2")} >= {"skapa_struktur"}


def test_times_are_kept_as_given(engine: Engine, clock: Clock) -> None:
    clock.set(dt.datetime(2027, 3, 1, 7, 30, 15, tzinfo=dt.UTC))
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")

    with engine.store.reading() as session:
        assert engine.find_cycle(session, cycle.id).opened_at == clock.now


def test_overdue_tasks_are_those_past_their_due_time(engine: Engine, clock: Clock) -> None:
    cycle = opened_est(engine)
    first = tasks(engine, cycle)[0]
    engine.complete_task(first.assignees[0], first.id, nothing_to_report=True)

    with engine.store.reading() as session:
        assert engine.tasks(session, overdue=True, now=local(2027, 3, 10, 16, 59)) == []
        late = engine.tasks(session, overdue=True, now=local(2027, 3, 10, 17, 1))
        mine = engine.tasks(session, person="rachel.moore")
        assert len(late) == 4  # the done one is not overdue
        assert first.id not in {t.id for t in late}
        assert [t.assignee_ids for t in mine] == [["rachel.moore"]]

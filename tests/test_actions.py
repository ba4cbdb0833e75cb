"""The action register on both databases: actions in Brå's columns with their links, every
change an audited act, bad input refused in one line with nothing changed, the owners'
reminders and overdue notices once per due date, and the decided åtgärdsplan (a version adopted
through a decision, the last adopted in force)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.enginekit import Clock, Tsk, local, make_engine, meeting, set_up
from tsk_workflow import audit, i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions, InvalidAction
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import NotFound, Refused
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Action, OutboxMessage

CLOCK_START = local(2027, 3, 8, 10)  # a Monday; the clock fixture (conftest.py)
COORDINATOR = "jessica.wahlstrom"  # säkerhetschef, samordnare, chair of EST
OWNER = "jonas.ek"  # Samhällsbyggnad – fastighet
REPORTER = "ida.wikstrom"  # a reporter, no chair, no coordinator
SECRETARY = "nina.bergqvist"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.speaking("en"):
        yield


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return make_engine(store, "herrljunga", clock)


@pytest.fixture
def register(engine: Engine) -> Actions:
    return Actions(engine)


def lighting(**given: Any) -> dict[str, Any]:
    return {
        "title": "Belysning i Stationsparken",
        "cause": "Otrygghet kvällstid vid stationen (lägesbilden i februari)",
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


def audit_actions(store: Store, prefix: str = "action") -> list[audit.AuditRow]:
    with store.reading() as session:
        return [r for r in audit.query(session) if r.action.startswith(prefix)]


def count(store: Store, model: Any) -> int:
    with store.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- adding and changing


def test_an_action_has_brås_columns_and_its_links(engine: Engine, register: Actions) -> None:
    cycle = engine.open_cycle(COORDINATOR, "est", "2027-03")
    made = register.add(COORDINATOR, lighting(cycle=cycle.ref))

    assert (made.title, made.owner, made.status, made.state) == (
        "Belysning i Stationsparken",
        OWNER,
        "green",
        "active",
    )
    assert (made.start, made.due) == (dt.date(2027, 3, 15), dt.date(2027, 5, 31))
    assert made.owner_organisation == "Samhällsbyggnad – fastighet"  # the owner's department
    assert (made.cost, made.category, made.town, made.place) == (
        120_000.0,
        "otrygg_plats",
        "herrljunga",
        "Stationsparken",
    )
    assert made.cycle_id == cycle.id
    [added] = audit_actions(engine.store)
    assert (added.action, added.actor, added.subject) == (
        "action.added",
        COORDINATOR,
        f"action:{made.id}",
    )
    assert added.payload is not None
    assert added.payload["due"] == "2027-05-31"
    assert added.cycle_id == cycle.id


BAD = [
    ({"owner": None}, "owner", "an action needs an owner"),
    ({"start": "2027-06-01", "due": "2027-05-01"}, "due", "before the start 2027-06-01"),
    ({"town": "Atlantis"}, "town", "'Atlantis' is not a town or area of Herrljunga kommun"),
    ({"owner": "kalle.anka"}, "owner", "'kalle.anka' is not a person of Herrljunga kommun"),
    ({"due": "31/5"}, "due", "'31/5' is not a date"),
    ({"status": "blå"}, "status", "is not a status (green, yellow or red)"),
    ({"cost": "-5"}, "cost", "is not a plausible amount"),
    ({"category": "brand"}, "category", "'brand' is not one of the categories"),
    ({"cycle": "est-1999-01"}, "cycle", "no cycle est-1999-01"),
    ({"decision": "99"}, "decision", "no decision 99"),
    ({"latitude": "58.07"}, "longitude", "give both latitude and longitude"),
]


@pytest.mark.parametrize(("change", "field", "says"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_refused_and_changes_nothing(
    engine: Engine, register: Actions, change: dict[str, Any], field: str, says: str
) -> None:
    given = {k: v for k, v in lighting(**change).items() if v is not None}
    with pytest.raises(InvalidAction) as refused:
        register.add(COORDINATOR, given)
    assert refused.value.field == field
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)
    assert count(engine.store, Action) == 0
    assert audit_actions(engine.store) == []


def test_every_problem_is_named_at_once(register: Actions) -> None:
    with pytest.raises(InvalidAction) as refused:
        register.add(COORDINATOR, {"title": "x", "cause": "y", "due": "2026-01-01", "town": "z"})
    assert set(refused.value.by_field()) == {"due", "owner", "town"}


def test_only_coordinators_and_chairs_keep_the_register(engine: Engine, register: Actions) -> None:
    with pytest.raises(PermissionDenied):
        register.add(REPORTER, lighting())
    assert count(engine.store, Action) == 0
    from tsk_workflow.store.models import RefusedAct

    with engine.store.reading() as session:
        refusal = session.scalars(select(RefusedAct)).one()
    assert (refusal.actor, refusal.action) == (REPORTER, "action.add")
    # a chair of any group may (the folkhälsostrateg chairs SSPF)
    assert register.add("hanna.nyberg", lighting()).id


def test_an_update_records_each_change_old_and_new(engine: Engine, register: Actions) -> None:
    made = register.add(COORDINATOR, lighting())
    changed = register.update(COORDINATOR, made.id, {"due": "2027-06-30", "place": "Parken"})
    assert (changed.due, changed.place) == (dt.date(2027, 6, 30), "Parken")
    updated = audit_actions(engine.store, "action.updated")[0]
    assert updated.payload is not None
    assert updated.payload["changes"] == {
        "due": ["2027-05-31", "2027-06-30"],
        "place": ["Stationsparken", "Parken"],
    }
    with pytest.raises(InvalidAction, match="before the start"):
        register.update(COORDINATOR, made.id, {"due": "2027-03-01"})
    with pytest.raises(Refused, match="a status changes with a follow-up"):
        register.update(COORDINATOR, made.id, {"status": "red"})
    with pytest.raises(NotFound):
        register.update(COORDINATOR, 999, {"place": "x"})
    assert len(audit_actions(engine.store, "action.updated")) == 1


def test_the_owner_follows_up_and_a_status_change_needs_a_note(
    engine: Engine, register: Actions, clock: Clock
) -> None:
    made = register.add(COORDINATOR, lighting())
    with pytest.raises(InvalidAction, match="a follow-up note is required"):
        register.followup(OWNER, made.id, status="red")
    assert register.show(made.id).status == "green"

    register.followup(OWNER, made.id, status="gul", note="Offerten dröjer")
    clock.advance(days=30)
    done = register.followup(OWNER, made.id, state="done", note="Lamporna är uppsatta")
    assert (done.status, done.state, done.done_on) == ("yellow", "done", dt.date(2027, 4, 7))
    assert [(f.status, f.state, f.note) for f in done.followups] == [
        ("yellow", "active", "Offerten dröjer"),
        ("yellow", "done", "Lamporna är uppsatta"),
    ]
    events = audit_actions(engine.store, "action.followed_up")
    assert [e.payload["state"] for e in events if e.payload] == [
        ["active", "active"],
        ["active", "done"],
    ]
    assert all("Lamporna" not in str(e.payload) for e in events)  # the note stays in its row
    with pytest.raises(PermissionDenied):
        register.followup(REPORTER, made.id, note="Jag tycker till")


# ---------------------------------------------------------------- reminders and notices


def test_reminder_before_and_notice_after_the_due_date_once_each(
    engine: Engine, register: Actions, clock: Clock
) -> None:
    cycle = engine.open_cycle(COORDINATOR, "est", "2027-03")
    made = register.add(COORDINATOR, lighting(cycle=cycle.ref, due="2027-04-30"))

    def mails() -> list[tuple[str, str]]:
        with engine.store.reading() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.template.like("action_%"))
            )
            return sorted((r.template, r.recipient) for r in rows)

    assert register.send_notices(local(2027, 4, 15, 7)) == 0  # 15 days before
    assert register.send_notices(local(2027, 4, 16, 7)) == 1  # two weeks before
    assert register.send_notices(local(2027, 4, 17, 7)) == 0  # once
    assert mails() == [("action_due_soon", OWNER)]
    assert register.send_notices(local(2027, 4, 30, 23)) == 0  # due that day: not late yet
    assert register.send_notices(local(2027, 5, 1, 7)) == 1
    assert register.send_notices(local(2027, 5, 2, 7)) == 0
    assert mails() == [
        ("action_due_soon", OWNER),
        ("action_overdue", "hanna.nyberg"),  # the EST group's deputy chair
        ("action_overdue", COORDINATOR),  # and its chair
        ("action_overdue", OWNER),
    ]
    assert [e.action for e in audit_actions(engine.store, "action.")][-2:] == [
        "action.due_soon",
        "action.overdue",
    ]
    # a new due date: a new reminder and notice in their time; a done action: none
    register.update(COORDINATOR, made.id, {"due": "2027-05-20"})
    assert register.send_notices(local(2027, 5, 6, 7)) == 1
    register.followup(OWNER, made.id, state="done", note="Klart")
    assert register.send_notices(local(2027, 5, 21, 7)) == 0


def test_the_scheduler_pass_queues_the_notices(engine: Engine, register: Actions) -> None:
    from tsk_workflow.schedpass import SchedulerPass

    register.add(COORDINATOR, lighting(start="2027-03-01", due="2027-03-10"))
    result = SchedulerPass({"herrljunga": engine}, {})(local(2027, 3, 11, 8))
    assert result.actions == 1
    assert result.as_dict()["action_notices"] == 1


# ---------------------------------------------------------------- the decided åtgärdsplan


def test_a_plan_is_adopted_through_a_decision_and_the_last_adopted_is_in_force(
    engine: Engine, register: Actions, clock: Clock
) -> None:
    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    first = register.add(COORDINATOR, lighting())
    second = register.add(COORDINATOR, lighting(title="Nattvandring", cost="5000"))
    assert action_plans.in_force(engine) is None

    version, route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Åtgärdsplan 2027", [first.id, second.id]
    )
    assert (version.version, version.action_ids, version.status) == (
        1,
        (first.id, second.id),
        "proposed",
    )
    assert action_plans.in_force(engine) is None  # proposed, not decided
    decisions = Decisions(engine)
    adopted = meeting(engine, route.body, dt.date(2027, 4, 7))  # the body's next meeting
    clock.set(local(adopted.year, adopted.month, adopted.day, 15))
    decisions.record(SECRETARY, version.decision_id, route.body, adopted, "§ 41", "approved")
    current = action_plans.in_force(engine)
    assert current is not None
    assert (current.version, current.body, current.decided_on, current.paragraph) == (
        1,
        route.body,
        adopted,
        "§ 41",
    )

    later, _route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Reviderad åtgärdsplan", [second.id]
    )
    assert later.version == 2
    assert action_plans.in_force(engine).version == 1  # type: ignore[union-attr]
    rejected = meeting(engine, _route.body, dt.date(2027, 5, 5))
    clock.set(local(rejected.year, rejected.month, rejected.day, 15))
    decisions.record(SECRETARY, later.decision_id, _route.body, rejected, "§ 60", "rejected")
    assert action_plans.in_force(engine).version == 1  # type: ignore[union-attr]
    shown, held = action_plans.show(engine)
    assert [a.id for a in held] == [first.id, second.id]
    assert [v.version for v in action_plans.versions(engine)] == [2, 1]
    proposed = audit_actions(engine.store, "action_plan.proposed")
    assert [e.payload["version"] for e in proposed if e.payload] == [1, 2]


def test_a_plan_needs_actions(engine: Engine) -> None:
    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    with pytest.raises(Refused, match="a plan needs at least one action"):
        action_plans.propose(engine, COORDINATOR, cycle.ref, "Tom plan")
    with pytest.raises(NotFound, match="no åtgärdsplan has been adopted"):
        action_plans.show(engine)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def tsk(
    store: Store, engine: Engine, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Tsk:
    set_up(engine)
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_tsk_action_commands(tsk: Tsk, engine: Engine) -> None:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in lighting().items()]
    made = tsk.ok("action", "add", *options, as_=COORDINATOR)
    number = str(made["id"])
    assert made["owner"] == OWNER
    assert made["status"] == "green"

    assert [a["id"] for a in tsk.ok("action", "list", as_=OWNER)] == [made["id"]]
    assert tsk.ok("action", "list", "--state", "done", as_=OWNER) == []
    shown = tsk.text("--lang", "en", "action", "show", number, as_=OWNER)
    assert "Cause:" in shown
    assert "Stationsparken" in shown
    assert "120\u00a0000 kr" in shown

    changed = tsk.ok("action", "update", number, "--due", "2027-06-15", as_=COORDINATOR)
    assert changed["due"] == "2027-06-15"
    followed = tsk.ok(
        "action", "followup", number, "--status", "yellow", "--note", "Dröjer", as_=OWNER
    )
    assert followed["status"] == "yellow"
    line = tsk.text("--lang", "en", "action", "list", as_=OWNER)
    assert line.startswith(f"#{number} [yellow] Belysning i Stationsparken · Jonas Ek")

    # bad input: one line, nothing changed
    assert "an action needs an owner" in tsk.refused(
        "--lang", "en", "action", "add", "--title", "x", "--cause", "y", "--due", "2027-05-01",
        as_=COORDINATOR,
    )  # fmt: skip
    assert "a follow-up note is required" in tsk.refused(
        "--lang", "en", "action", "followup", number, "--status", "red", as_=OWNER
    )
    assert "no action 99" in tsk.refused("--lang", "en", "action", "show", "99", as_=OWNER)
    assert len(tsk.ok("action", "list", "--state", "all", as_=OWNER)) == 1


def test_tsk_action_plan_commands(tsk: Tsk, engine: Engine) -> None:
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    options = [f"--{k.replace('_', '-')}={v}" for k, v in lighting().items()]
    tsk.ok("action", "add", *options, as_=COORDINATOR)
    made = tsk.ok("action", "plan", "propose", "styrgrupp-2027-t1", "--title", "Plan 2027",
                  as_=COORDINATOR)  # fmt: skip
    assert made["version"] == 1
    assert made["status"] == "proposed"
    text = tsk.text("--lang", "en", "action", "plan", "list", as_=COORDINATOR)
    assert text.startswith("Version 1: Plan 2027 (1 actions), proposed to")
    assert "no åtgärdsplan has been adopted" in tsk.refused(
        "--lang", "en", "action", "plan", "show", as_=COORDINATOR
    )


# ---------------------------------------------------------------- a step whose plan is actions


def at_action_plan(engine: Engine, period: str) -> Any:
    """An EST cycle of ``period`` moved by its chair to the step whose plan is actions."""
    cycle = engine.open_cycle(COORDINATOR, "est", period)
    for trigger in ("sammanstall", "sammanstall_gemensam", "analysera", "planera"):
        engine.advance(COORDINATOR, cycle.ref, trigger)
    return cycle


def test_an_action_plan_step_waits_for_an_action_or_the_chairs_note(
    engine: Engine, register: Actions
) -> None:
    cycle = at_action_plan(engine, "2027-03")
    with pytest.raises(Refused, match="no action has been added to the register from this"):
        engine.advance(COORDINATOR, cycle.ref, "till_beslut")
    with pytest.raises(Refused, match="a note is required"):
        engine.advance(COORDINATOR, cycle.ref, "inga_nya_atgarder")
    moved = engine.advance(COORDINATOR, cycle.ref, "inga_nya_atgarder", "Inget nytt i mars.")
    assert moved.state == "beslut"


def test_the_step_moves_on_when_its_work_is_done_and_an_action_is_added(
    engine: Engine, register: Actions
) -> None:
    cycle = at_action_plan(engine, "2027-04")
    with engine.store.reading() as session:
        [task] = [
            (t.id, t.assignee_ids[0])
            for t in engine.find_cycle(session, cycle.ref).tasks
            if t.key == "skriv_atgardsplan"
        ]
    engine.complete_task(task[1], task[0], "Planen är skriven.")
    with engine.store.reading() as session:
        assert engine.find_cycle(session, cycle.ref).state == "atgardsplan"  # it waits
    register.add(COORDINATOR, lighting(cycle=cycle.ref))
    with engine.store.reading() as session:
        assert engine.find_cycle(session, cycle.ref).state == "beslut"
    [moved] = audit_actions(engine.store, "cycle.advanced")[-1:]
    assert moved.payload is not None
    assert (moved.payload["to"], moved.actor) == ("beslut", "tsk")


# ---------------------------------------------------------------- the record


def test_audit_verify_replays_the_register_and_finds_an_edited_action(
    engine: Engine, register: Actions
) -> None:
    from sqlalchemy import update

    from tsk_workflow import replay

    made = register.add(COORDINATOR, lighting())
    register.update(COORDINATOR, made.id, {"due": "2027-06-30", "owner": "hanna.nyberg"})
    register.followup("hanna.nyberg", made.id, status="red", note="Försenad")
    with engine.store.reading() as session:
        verified = replay.verify_record(session)
    assert verified.ok, verified.problems

    with engine.store.transaction() as session:  # someone edits the row behind the engine
        session.execute(update(Action).where(Action.id == made.id).values(status="green"))
    with engine.store.reading() as session:
        verified = replay.verify_record(session)
    assert not verified.ok
    [problem] = verified.problems
    assert problem.kind == "state_mismatch"
    assert f"action {made.id}: status is 'green' but event" in problem.detail
    assert "(action.followed_up) says 'red'" in problem.detail


def test_a_purge_blanks_the_follow_ups_notes_and_keeps_the_register(
    engine: Engine, register: Actions, clock: Clock
) -> None:
    from tsk_workflow import gdpr, replay

    made = register.add(COORDINATOR, lighting())
    register.followup(OWNER, made.id, status="yellow", note="Kalle på fastighet har inte svarat")
    clock.advance(days=10)
    register.followup(OWNER, made.id, note="Svar kommer nästa vecka")
    done = gdpr.purge(engine, "marie.lind", dt.date(2027, 3, 12), force=True)
    assert done.counts()["action_notes"] == 1
    shown = register.show(made.id)
    assert [(f.status, f.note) for f in shown.followups] == [
        ("yellow", None),
        ("yellow", "Svar kommer nästa vecka"),
    ]
    assert (shown.title, shown.cause) == (made.title, made.cause)  # the plan stays
    assert (
        gdpr.purge(engine, "marie.lind", dt.date(2027, 3, 12), force=True).counts()["action_notes"]
        == 0
    )
    with engine.store.reading() as session:
        assert replay.verify_record(session).ok


def test_a_medborgarlöfte_links_to_the_actions_that_serve_it(
    engine: Engine, register: Actions, tsk: Tsk
) -> None:
    promise = engine.open_cycle(COORDINATOR, "medborgarloften", "2027")
    est = engine.open_cycle(COORDINATOR, "est", "2027-03")
    serving = register.add(COORDINATOR, lighting(promise=promise.ref))
    register.add(COORDINATOR, lighting(title="Annat"))
    assert serving.promise_cycle_id == promise.id
    listed = register.listing(promise=promise.ref)
    assert [a.id for a in listed] == [serving.id]
    assert [a["id"] for a in tsk.ok("action", "list", "--promise", promise.ref, as_=OWNER)] == [
        serving.id
    ]
    with pytest.raises(InvalidAction, match="is not a medborgarlöfte"):
        register.add(COORDINATOR, lighting(promise=est.ref))

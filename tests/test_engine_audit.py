"""One act, one transaction, on both databases: every act writes its audit event together with
its change; a refused or failed act leaves no event, no task, no timer and no outbox row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, counts, cycle_state, events, tasks
from tsk_workflow import audit
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.documents import Upload, attach
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import TskError
from tsk_workflow.store import acts
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct

CHAIR = "jessica.wahlstrom"


def test_every_act_writes_its_event(engine: Engine, store: Store, clock: Clock) -> None:
    """Each act adds exactly the events it should, by the person who acted, at the act's time."""
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    first = tasks(engine, cycle)[0]
    acts: list[tuple[Callable[[], Any], list[str], str]] = [
        (
            lambda: engine.complete_task(
                first.assignees[0], first.id, "ok", nothing_to_report=True
            ),
            ["task.done"],
            first.assignees[0],
        ),
        (
            lambda: attach(engine, CHAIR, cycle, Upload("bild.pdf", b"%PDF"), "lagesbild"),
            ["document.attached"],
            CHAIR,
        ),
        (
            lambda: engine.advance("erik.sundin", cycle, "sammanstall", "muntligt"),
            ["cycle.advanced"],
            "erik.sundin",
        ),
        (
            lambda: engine.advance("erik.sundin", cycle, "sammanstall_gemensam", "muntligt"),
            # the common lägesbild's step produces it from the reports by itself
            ["cycle.advanced", "document.attached"],
            "erik.sundin",
        ),
        (
            lambda: Decisions(engine).propose(CHAIR, cycle, "Belysning i parken", 40_000),
            # the decision, and its case cycle (beslut) opened and moved on by the system
            ["decision.proposed", "cycle.opened", "cycle.advanced", "cycle.advanced"],
            CHAIR,
        ),
        (
            lambda: engine.close_cycle(CHAIR, cycle, "avbruten", force=True),
            ["cycle.closed"],
            CHAIR,
        ),
    ]
    for act, actions, actor in acts:
        clock.advance(hours=5)
        seen = len(events(store))

        act()

        new = events(store)[seen:]
        assert [e.action for e in new] == actions
        assert new[0].actor == actor
        assert {e.at for e in new} == {clock.now}
    with store.reading() as session:
        assert audit.verify(session).ok


def test_refused_acts_leave_nothing_behind(engine: Engine, store: Store) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    task = tasks(engine, cycle)[0]
    decisions = Decisions(engine)
    refused: list[Callable[[], Any]] = [
        lambda: engine.open_cycle(CHAIR, "est", "2027-03"),  # exists
        lambda: engine.open_cycle(CHAIR, "est", "bad period!"),
        lambda: engine.open_cycle(None, "est", "2027-04"),
        lambda: engine.advance(CHAIR, cycle, "avsluta"),  # wrong step
        lambda: engine.close_cycle(CHAIR, cycle),  # open tasks
        lambda: engine.close_cycle(CHAIR, cycle, force=True),  # no note
        lambda: engine.complete_task(CHAIR, 10_000),
        lambda: decisions.propose(CHAIR, cycle, "   "),
        lambda: decisions.propose(CHAIR, cycle, "Dyrt", cost=-5),
        lambda: decisions.record(
            "nina.bergqvist", 999, "klg", dt.date(2027, 3, 1), "§ 1", "approved"
        ),
        lambda: attach(engine, CHAIR, cycle, Upload("x.exe", b"MZ"), "binary"),
    ]
    before = counts(store)
    for act in refused:
        with pytest.raises(TskError):
            act()
        assert counts(store) == before, act
    assert [t.id for t in tasks(engine, cycle)][0] == task.id


def test_an_unknown_person_is_refused_and_the_attempt_kept(engine: Engine, store: Store) -> None:
    before = counts(store)
    with pytest.raises(TskError, match="okänd person 'okand.person'"):
        engine.open_cycle("okand.person", "est", "2027-04")
    assert counts(store) == {**before, "refused": before["refused"] + 1}  # nothing else
    with store.reading() as session:
        kept = session.scalars(select(RefusedAct)).one()
    assert (kept.actor, kept.action, kept.subject) == ("okand.person", "cycle.open", "process:est")


def test_a_permission_refusal_is_kept_outside_the_chain(engine: Engine, store: Store) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    before = counts(store)

    with pytest.raises(TskError, match="bara ordföranden"):
        engine.close_cycle("sofie.ahlin", cycle, "vill stänga", force=True)

    after = counts(store)
    assert after == {**before, "refused": before["refused"] + 1}
    with store.reading() as session:
        (row,) = session.scalars(select(RefusedAct)).all()
    assert (row.actor, row.action, row.subject) == ("sofie.ahlin", "cycle.close", f"cycle:{cycle}")
    assert row.reason.startswith("bara ordföranden i ")  # as the act was refused, in Swedish


class Boom(RuntimeError):
    """The mail of an act could not be queued (a bug, a full disk, ...)."""


def fail_on_mail(monkeypatch: pytest.MonkeyPatch, template: str) -> None:
    real = acts.insert_mail  # every mail an act queues is written here

    def insert_mail(session: Any, rows: Any) -> Any:
        if any(row["template"] == template for row in rows):
            raise Boom(f"cannot queue {template}")
        return real(session, rows)

    monkeypatch.setattr(acts, "insert_mail", insert_mail)


def test_an_open_that_fails_halfway_leaves_nothing(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(store)
    # cycle row, opened event, mail to the group and the first tasks are written before this
    fail_on_mail(monkeypatch, "task_assigned")

    with pytest.raises(Boom):
        engine.open_cycle(CHAIR, "est", "2027-03")

    assert counts(store) == before


def test_a_step_change_that_fails_halfway_leaves_the_task_open(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    reports = tasks(engine, cycle)
    for task in reports[:-1]:
        engine.complete_task(task.assignees[0], task.id, nothing_to_report=True)
    before = counts(store)
    last = reports[-1]
    # Completing the last report moves the cycle on; the new step's task mail fails.
    fail_on_mail(monkeypatch, "task_assigned")

    with pytest.raises(Boom):
        engine.complete_task(last.assignees[0], last.id, "sista rapporten", nothing_to_report=True)

    assert counts(store) == before
    assert cycle_state(engine, cycle) == ("insamling", "open")
    assert [t.id for t in tasks(engine, cycle)] == [last.id]
    monkeypatch.undo()
    engine.complete_task(last.assignees[0], last.id, "sista rapporten", nothing_to_report=True)
    assert cycle_state(engine, cycle) == ("egna_lagesbilder", "open")
    with store.reading() as session:
        assert audit.verify(session).ok

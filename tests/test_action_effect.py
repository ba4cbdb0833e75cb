"""The effect follow-up of an action: the verdicts on counts per window (fewer, more, about the
same, too little data, too early, what is missing), and, on both databases, events reported
before and after an action at its town, with a reporter's monthly answer, judged as the
lägesbild counts them; ``tsk action show`` with its effect and the styrgrupp's ``tsk action
review``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, Tsk, local, make_engine, set_up, shared_organisation, tasks
from tsk_workflow import i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions, ActionView
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.events import report_events
from tsk_workflow.engine.service import Engine
from tsk_workflow.lagesbild.effect import (
    MIN_INCIDENTS,
    Window,
    effect_of,
    judge,
    measure,
    review,
    windows,
)
from tsk_workflow.lagesbild.model import Report
from tsk_workflow.store.database import Store

CLOCK_START = local(2027, 9, 1, 10)
COORDINATOR = "jessica.wahlstrom"
OWNER = "jonas.ek"
REPORTER = "johanna.falk"
SECRETARY = "nina.bergqvist"
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with i18n.speaking("en"):
        yield


# ---------------------------------------------------------------- the verdicts (pure)


def window(count: float, days: int = 90, first: dt.date = dt.date(2027, 1, 1)) -> Window:
    return Window(first, first + days * DAY, count)


@pytest.mark.parametrize(
    ("before", "after", "verdict", "change"),
    [
        (12, 4, "fewer", -66.7),
        (4, 12, "more", 200.0),  # few before, but enough after to judge
        (10, 11, "same", 10.0),
        (10, 8, "same", -20.0),  # the edge: within 20 % either way
        (10, 7, "fewer", -30.0),
        (0, 6, "more", None),  # nothing before: no percentage
        (3, 1, "too_little", -66.7),
        (0, 0, "too_little", None),
        (4, 4, "too_little", 0.0),
    ],
)
def test_the_verdict_on_two_whole_windows(
    before: int, after: int, verdict: str, change: float | None
) -> None:
    found, percent = judge(window(before), window(after), complete=True)
    assert found == verdict
    assert (round(percent, 1) if percent is not None else None) == change


def test_too_early_while_the_after_window_runs_with_the_figures_so_far() -> None:
    before, after = window(9), window(1, days=30)
    verdict, change = judge(before, after, complete=False)
    assert verdict == "too_early"
    assert change == pytest.approx(-66.67, 0.01)
    # the rates per month compare windows of different lengths
    assert before.per_month == pytest.approx(3.04, 0.01)
    assert after.per_month == pytest.approx(1.01, 0.01)
    assert judge(window(0), window(0, days=0), complete=False) == ("too_early", None)


def test_the_minimum_is_documented_and_used() -> None:
    assert MIN_INCIDENTS == 5
    assert judge(window(4), window(4), complete=True)[0] == "too_little"
    assert judge(window(5), window(1), complete=True)[0] == "fewer"


def test_the_windows_around_the_action_are_cut_at_today() -> None:
    before, after, ends = windows(
        dt.date(2027, 4, 1), dt.date(2027, 5, 31), 90, today=dt.date(2027, 6, 9)
    )
    assert (before.first, before.last, before.days) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 3, 31),
        90,
    )
    assert (after.first, after.last, after.days) == (dt.date(2027, 5, 31), dt.date(2027, 6, 9), 10)
    assert ends == dt.date(2027, 8, 29)
    _before, not_begun, _ends = windows(
        dt.date(2027, 4, 1), dt.date(2027, 5, 31), 90, today=dt.date(2027, 5, 1)
    )
    assert not_begun.days == 0


def a_view(**changes: object) -> ActionView:
    base = ActionView(
        id=7,
        title="Belysning i Stationsparken",
        cause="Otrygghet vid stationen",
        goal=None,
        followup_plan=None,
        start=dt.date(2027, 4, 1),
        due=dt.date(2027, 5, 31),
        owner=OWNER,
        owner_organisation=None,
        status="green",
        state="active",
        cost=None,
        category="klotter",
        town="herrljunga",
        place="stationen",
        point=None,
        window_days=90,
        cycle_id=None,
        decision_id=None,
        promise_cycle_id=None,
        created_by=COORDINATOR,
        created_at=CLOCK_START,
        updated_at=CLOCK_START,
        done_on=None,
        followups=(),
        overdue=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def incident(
    day: dt.date, category: str = "klotter", town: str = "herrljunga", count: float = 1
) -> tuple[dt.date, Report]:
    return (
        day,
        Report(day.strftime("%Y-%m"), None, REPORTER, None, True, (category,), town, count=count),
    )


def test_an_action_without_category_or_town_says_what_is_missing() -> None:
    org = shared_organisation("herrljunga")
    today = dt.date(2027, 12, 1)
    both = measure(a_view(category=None, town=None), [], org, today)
    assert (both.verdict, both.missing) == ("missing", ("category", "town"))
    assert "no category and no town or area" in both.judgement
    assert "tsk action update" in both.judgement
    town = measure(a_view(town=None), [], org, today)
    assert town.missing == ("town",)
    assert "no town or area" in town.judgement
    assert measure(a_view(category=None), [], org, today).missing == ("category",)
    assert both.to_dict()["before"] is None


def test_the_effect_counts_its_category_at_its_place_and_says_it_plainly() -> None:
    org = shared_organisation("herrljunga")
    found = [
        *(incident(dt.date(2027, 2, d)) for d in range(1, 11)),  # 10 before
        incident(dt.date(2027, 3, 31), count=2),  # the last day before the start
        incident(dt.date(2027, 4, 15), count=50),  # during the work: in neither window
        incident(dt.date(2027, 6, 1)),
        incident(dt.date(2027, 6, 2), count=2),  # 3 after
        incident(dt.date(2027, 6, 3), category="nedskrapning"),  # another category
        incident(dt.date(2027, 6, 4), town="ljung"),  # another town
        incident(dt.date(2026, 12, 31)),  # before the window
    ]
    effect = measure(a_view(), found, org, today=dt.date(2027, 12, 1))
    assert effect.verdict == "fewer"
    assert effect.before is not None
    assert effect.after is not None
    assert (effect.before.count, effect.after.count) == (12, 3)
    assert effect.end_from == "due"
    assert effect.judgement == (
        "fewer: 3 incidents in the 90 days after against 12 incidents in the 90 days before (−75 %)"
    )
    shown = effect.to_dict()
    assert shown["before"] == {
        "first": "2027-01-01",
        "last": "2027-03-31",
        "days": 90,
        "incidents": 12,
        "per_month": 4.06,
        "reporter_months": 0,
    }
    assert (shown["after"]["first"], shown["after_ends"]) == ("2027-05-31", "2027-08-28")
    assert (shown["verdict"], shown["change_percent"], shown["complete"]) == ("fewer", -75.0, True)

    # done early: the after-window runs from the day it was done, and has not ended
    done = measure(
        a_view(done_on=dt.date(2027, 5, 1), state="done"), found, org, dt.date(2027, 6, 9)
    )
    assert (done.verdict, done.end_from) == ("too_early", "done_on")
    assert done.judgement == (
        "too early: the after-window has not ended (it ends 2027-07-29); so far 3 incidents in"
        " 40 days (2.3 a month) against 12 incidents in 90 days before (4.1 a month)"
    )
    not_begun = measure(a_view(), found, org, dt.date(2027, 5, 1))
    assert not_begun.judgement.startswith(
        "too early: the after-window has not begun (it runs 2027-05-31 – 2027-08-28); before:"
        " 12 incidents"
    )
    little = measure(a_view(category="narkotika"), found, org, dt.date(2027, 12, 1))
    assert little.judgement == (
        "too little data to judge: 0 incidents before and 0 incidents after"
        " (at least 5 in one of the windows are needed)"
    )


def test_a_caution_when_the_reporters_were_asked_in_more_months_in_one_window() -> None:
    """EST has no cycle in July: the window after (June to August) had its reporters asked in
    two months, the window before in three."""
    org = shared_organisation("herrljunga")
    asked = [dt.date(2027, m, 15) for m in (1, 2, 3, 6, 8)]
    found = [incident(dt.date(2027, 2, 15), count=9), incident(dt.date(2027, 6, 15), count=3)]
    effect = measure(a_view(), found, org, dt.date(2027, 12, 1), asked=asked)
    assert effect.before is not None
    assert effect.after is not None
    assert (effect.before.asked, effect.after.asked) == (3, 2)
    assert effect.judgement.endswith(
        "(−67 %); mind that the reporters were asked in 3 of the months before and 2 of those after"
    )
    assert effect.to_dict()["after"]["reporter_months"] == 2
    same = measure(a_view(), found, org, dt.date(2027, 12, 1), asked=asked[:2] + asked[3:])
    assert "mind that" not in same.judgement


def test_an_area_counts_its_own_incidents_and_its_towns() -> None:
    org = shared_organisation("svenljunga")
    found = [
        incident(dt.date(2027, 2, 1), town="hogvad", count=3),
        incident(dt.date(2027, 2, 2), town="overlida", count=4),  # a town of Högvad
        incident(dt.date(2027, 2, 3), town="svenljunga", count=9),  # not in it
    ]
    effect = measure(a_view(town="hogvad"), found, org, dt.date(2027, 12, 1))
    assert effect.before is not None
    assert effect.before.count == 7
    town = measure(a_view(town="overlida"), found, org, dt.date(2027, 12, 1))
    assert town.before is not None
    assert town.before.count == 4  # the area's own reports are not the town's


# ---------------------------------------------------------------- on the database


@pytest.fixture
def engine(store: Store, clock: Clock) -> Engine:
    return make_engine(store, "herrljunga", clock)


def report(engine: Engine, *days: str, category: str = "klotter", town: str = "Herrljunga") -> None:
    report_events(
        engine,
        REPORTER,
        [
            {"category": category, "when": day, "town": town, "description": "Taggar på busskuren"}
            for day in days
        ],
    )


def lighting(**given: str) -> dict[str, str]:
    return {
        "title": "Sanering av klotter vid stationen",
        "cause": "Klotter vid stationen (lägesbilden i februari)",
        "start": "2027-04-01",
        "due": "2027-05-31",
        "owner": OWNER,
        "category": "klotter",
        "town": "herrljunga",
        "place": "stationen",
        "cost": "30000",
        **given,
    }


def test_events_before_and_after_an_action_give_its_verdict(engine: Engine) -> None:
    report(engine, *(f"2027-02-{d:02d}" for d in range(1, 9)))  # 8 before
    report(engine, "2027-04-20", "2027-05-05")  # while the work goes on
    report(engine, "2027-06-10", "2027-07-01")  # 2 after
    report(engine, "2027-06-11", town="Ljung")  # elsewhere
    report(engine, "2027-06-12", category="nedskrapning")  # another category
    # a reporter's monthly answer counts as the lägesbild counts it, on the 15th of its month
    cycle = engine.open_cycle(COORDINATOR, "est", "2027-03")
    task = next(t for t in tasks(engine, cycle.ref) if t.assignees == (REPORTER,))
    engine.complete_task(
        REPORTER,
        task.id,
        None,
        {"kategori": "klotter", "ort": "herrljunga", "antal": 3, "beskrivning": "Klotter"},
    )
    register = Actions(engine)
    made = register.add(COORDINATOR, lighting())

    effect = effect_of(engine, made)  # today 2027-09-01: the after-window ended 2027-08-28
    assert effect.before is not None
    assert effect.after is not None
    assert (effect.verdict, effect.before.count, effect.after.count) == ("fewer", 11, 2)
    assert effect.judgement == (
        "fewer: 2 incidents in the 90 days after against 11 incidents in the 90 days before"
        " (−82 %); mind that the reporters were asked in 1 of the months before and 0 of those"
        " after"
    )
    assert effect.before.asked == 1  # only March had an EST cycle here

    # done today: the after-window starts now
    done = register.followup(OWNER, made.id, state="done", note="Sanerat")
    later = effect_of(engine, done)
    assert (later.verdict, later.end_from) == ("too_early", "done_on")
    assert later.after is not None
    assert later.after.count == 0
    # and without a place to count at, it says what is missing
    bare = register.add(COORDINATOR, {k: v for k, v in lighting().items() if k != "category"})
    assert effect_of(engine, bare).missing == ("category",)


@pytest.fixture
def tsk(
    store: Store, engine: Engine, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Tsk:
    set_up(engine)
    return Tsk(runner, store, "herrljunga", clock, monkeypatch)


def test_tsk_action_show_has_the_effect(tsk: Tsk, engine: Engine) -> None:
    report(engine, *(f"2027-02-{d:02d}" for d in range(1, 7)))
    options = [f"--{k}={v}" for k, v in lighting().items()]
    number = str(tsk.ok("action", "add", *options, as_=COORDINATOR)["id"])
    shown = tsk.ok("action", "show", number, as_=OWNER)
    assert shown["effect"]["verdict"] == "fewer"
    assert shown["effect"]["before"]["incidents"] == 6
    assert shown["effect"]["after"]["incidents"] == 0
    text = tsk.text("--lang", "en", "action", "show", number, as_=OWNER)
    assert (
        "Effect (90 days before and after): fewer: 0 incidents in the 90 days after against"
        " 6 incidents in the 90 days before (−100 %)"
    ) in text
    assert "  before: 2027-01-01 – 2027-03-31" in text
    assert "  after: 2027-05-31 – 2027-08-28 (from its due date)" in text


def test_tsk_action_review_follows_up_the_plan_in_force(
    tsk: Tsk, engine: Engine, clock: Clock
) -> None:
    report(engine, *(f"2027-02-{d:02d}" for d in range(1, 7)))
    register = Actions(engine)
    first = register.add(COORDINATOR, lighting())
    second = register.add(
        COORDINATOR, lighting(title="Nattvandring", category="", town="", cost="5000")
    )
    outside = register.add(COORDINATOR, lighting(title="Utanför planen", cost="999"))
    dropped = register.add(COORDINATOR, lighting(title="Kamera", cost="80000"))
    register.followup(OWNER, first.id, state="done", note="Sanerat, och kameran är uppe")

    # no plan in force: every action of the register
    found = tsk.ok("action", "review", as_=OWNER)
    assert found["plan"] is None
    assert [a["id"] for a in found["actions"]] == [first.id, second.id, outside.id, dropped.id]

    cycle = engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t2")
    version, route = action_plans.propose(
        engine, COORDINATOR, cycle.ref, "Åtgärdsplan 2027", [first.id, second.id, dropped.id]
    )
    Decisions(engine).record(
        SECRETARY, version.decision_id, route.body, dt.date(2027, 9, 1), "§ 70", "approved"
    )
    register.followup(COORDINATOR, dropped.id, state="cancelled", note="Polisen sätter upp en")
    found = review(engine)
    assert found.plan is not None
    assert [i.action.id for i in found.items] == [first.id, second.id]
    assert (found.done, found.planned, found.cost, found.cost_done) == (1, 2, 35000.0, 30000.0)
    assert (found.overdue, found.cancelled) == (1, 1)  # the second is past its due date

    shown = tsk.ok("action", "review", as_=OWNER)
    assert shown["plan"]["version"] == 1
    assert shown["totals"]["planned"] == 2
    assert shown["totals"]["done"] == 1
    assert shown["totals"]["cancelled"] == 1
    assert shown["totals"]["verdicts"]["too_early"] == 1
    assert shown["totals"]["verdicts"]["missing"] == 1
    item = shown["actions"][0]
    assert item["last_followup"]["note"] == "Sanerat, och kameran är uppe"
    assert item["effect"]["verdict"] == "too_early"

    text = tsk.text("--lang", "en", "action", "review", as_=OWNER)
    lines = text.splitlines()
    assert lines[0].startswith("Version 1: Åtgärdsplan 2027 (3 actions), adopted by")
    assert lines[1].startswith(f"#{first.id} [green] Sanering av klotter vid stationen")
    assert lines[2] == "    last followed up 2027-09-01: Sanerat, och kameran är uppe"
    assert lines[3].startswith(
        "    effect: too early: the after-window has not ended (it ends 2027-11-29)"
    )
    assert "    not followed up yet" in lines
    assert any("cannot be judged: the action has no category and no town" in x for x in lines)
    assert (
        "How many of the planned actions have been carried out? 1 of 2 (1 overdue, 1 cancelled)"
        in lines
    )
    assert "Cost: 35\u00a0000 kr planned, 30\u00a0000 kr of it for the actions done" in lines
    swedish = tsk.text("action", "review", as_=OWNER)
    assert len(swedish.splitlines()) == len(lines)  # Swedish by default (the catalogue's words)


def test_the_survey_rounds_around_the_action_are_named(store: Store, clock: Clock) -> None:
    """Svenljunga runs the safety survey: its result is a document, so the effect names the
    rounds before and after (to compare by reading) and says there is no figure to count."""
    engine = make_engine(store, "svenljunga", clock)
    coordinator = "maria.holm"
    clock.set(local(2026, 11, 2, 9))
    earlier = engine.open_cycle(coordinator, "trygghetsundersokning", "2026")
    clock.set(local(2027, 9, 1, 10))
    made = Actions(engine).add(
        coordinator,
        {
            "title": "Belysning vid busstationen",
            "cause": "Otrygghet kvällstid",
            "start": "2027-04-01",
            "due": "2027-05-31",
            "owner": coordinator,
            "category": "otrygg_plats",
            "town": "svenljunga",
        },
    )
    effect = effect_of(engine, made)
    assert effect.survey is not None
    assert (effect.survey.before, effect.survey.after) == (earlier.ref, None)
    shown = effect.to_dict()["survey"]
    assert shown["comparable"] is False
    assert "no figure per town" in shown["reason"]
    assert effect.survey.line().endswith(
        f"the last round before: {earlier.ref}; the first after: none yet"
    )
    # Tranemo runs no survey: nothing to name
    assert effect_of(make_engine(store, "tranemo", clock), a_view()).survey is None

"""The effect follow-up of an action: the verdicts on counts per window (fewer, more, about the
same, too little data, too early, what is missing), and, on both databases, events reported
before and after an action at its town, with a reporter's monthly answer, judged as the
lägesbild counts them; ``tsk action show`` with its effect and the styrgrupp's ``tsk action
review``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.enginekit import (
    Clock,
    Tsk,
    local,
    make_engine,
    meeting,
    set_up,
    shared_organisation,
    tasks,
)
from tsk_workflow import i18n
from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions, ActionView
from tsk_workflow.engine.decisions import Decisions
from tsk_workflow.engine.events import report_events
from tsk_workflow.engine.service import Engine
from tsk_workflow.lagesbild.effect import (
    MIN_INCIDENTS,
    MIN_RESPONDENTS,
    SURVEY_SAME_WITHIN,
    Figures,
    Round,
    Survey,
    Window,
    compare_survey,
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
    adopted = meeting(engine, route.body, dt.date(2027, 9, 1))  # the body's next meeting
    clock.set(local(adopted.year, adopted.month, adopted.day, 15))
    Decisions(engine).record(
        SECRETARY, version.decision_id, route.body, adopted, "§ 70", "approved"
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


# ---------------------------------------------------------------- the safety survey's figures


def a_round(
    ref: str,
    opened: dt.date,
    share: float | None = 70,
    respondents: int | None = 400,
    towns: dict[str, tuple[float, int | None]] | None = None,
) -> Round:
    towns = towns or {}
    figures = Figures(
        share,
        respondents,
        {town: figure for town, (figure, _n) in towns.items()},
        {town: n for town, (_figure, n) in towns.items() if n is not None},
    )
    return Round(ref, opened, (), figures)


BEFORE_DAY, AFTER_DAY = dt.date(2026, 11, 1), dt.date(2027, 11, 1)


def compared(first: Round, second: Round, town: str | None = "svenljunga") -> Survey:
    org = shared_organisation("svenljunga")
    return compare_survey([first, second], org, town, dt.date(2027, 4, 1), dt.date(2027, 5, 31))


@pytest.mark.parametrize(
    ("before", "after", "verdict", "word"),
    [
        (62, 71, "safer", "safer"),
        (71, 62, "less_safe", "less safe"),
        (70, 68, "same", "about as safe"),
    ],
)
def test_the_share_who_feel_safe_at_the_town_before_and_after(
    before: float, after: float, verdict: str, word: str
) -> None:
    found = compared(
        a_round("trygghetsundersokning-2026", BEFORE_DAY, towns={"svenljunga": (before, 120)}),
        a_round("trygghetsundersokning-2027", AFTER_DAY, towns={"svenljunga": (after, 130)}),
    )
    assert (found.verdict, found.too_little, found.whole) == (verdict, None, False)
    assert found.change == pytest.approx(after - before)
    assert found.line().startswith(
        f"{word}: {after} % feel safe in Svenljunga in trygghetsundersokning-2027 against"
        f" {before} % in trygghetsundersokning-2026 ("
    )
    assert found.line().endswith("percentage points; 120 and 130 respondents)")
    shown = found.to_dict()
    assert shown["comparable"] is True
    assert shown["share_before"] == {
        "round": "trygghetsundersokning-2026",
        "share": before,
        "respondents": 120,
    }
    assert shown["judgement"] == found.line()


def test_too_few_respondents_is_too_little_to_judge() -> None:
    assert MIN_RESPONDENTS == 30
    found = compared(
        a_round("r-2026", BEFORE_DAY, towns={"svenljunga": (50, 29)}),
        a_round("r-2027", AFTER_DAY, towns={"svenljunga": (80, 40)}),
    )
    assert (found.verdict, found.too_little) == ("too_little", "few_respondents")
    assert found.line().startswith(
        "too little data to judge: 29 and 40 respondents (at least 30 in each round are"
        " needed); 80 % feel safe in Svenljunga in r-2027 against 50 % in r-2026"
    )
    # a share without its number of respondents cannot be judged either
    unknown = compared(
        a_round("r-2026", BEFORE_DAY, towns={"svenljunga": (50, None)}),
        a_round("r-2027", AFTER_DAY, towns={"svenljunga": (80, 40)}),
    )
    assert unknown.too_little == "few_respondents"
    assert "– and 40 respondents" in unknown.line()


def test_the_survey_thresholds_are_the_documented_ones() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "coordinator.md").read_text(encoding="utf-8")
    prose = " ".join(guide.split())
    assert f"more than {SURVEY_SAME_WITHIN:g} percentage points" in prose
    assert f"fewer than {MIN_RESPONDENTS} respondents" in prose
    edge = compared(
        a_round("r-2026", BEFORE_DAY, towns={"svenljunga": (60, MIN_RESPONDENTS)}),
        a_round("r-2027", AFTER_DAY, towns={"svenljunga": (60 + SURVEY_SAME_WITHIN, 30)}),
    )
    assert edge.verdict == "same"  # within the points, and just enough respondents


def test_no_round_with_figures_before_or_after_is_too_little_to_judge() -> None:
    org = shared_organisation("svenljunga")
    start, end = dt.date(2027, 4, 1), dt.date(2027, 5, 31)
    document_only = Round("r-2025", dt.date(2025, 11, 1), ("enkatresultat.pdf",))
    after = a_round("r-2027", AFTER_DAY)
    none_before = compare_survey([document_only, after], org, "svenljunga", start, end)
    assert (none_before.too_little, none_before.before) == ("no_before", "r-2025")
    assert none_before.line() == (
        "too little data to judge: no round with figures before the action (the last round"
        " before: r-2025; the first after: r-2027)"
    )
    none_after = compare_survey([a_round("r-2026", BEFORE_DAY)], org, "svenljunga", start, end)
    assert none_after.to_dict()["comparable"] is False
    assert none_after.line() == (
        "too little data to judge: no round with figures after the action yet (the last round"
        " before: r-2026; the first after: none yet)"
    )
    # the round before the start that has figures is compared, not a later one without
    older = compare_survey(
        [a_round("r-2026", BEFORE_DAY), Round("r-2027a", dt.date(2027, 3, 1)), after],
        org,
        "svenljunga",
        start,
        end,
    )
    assert (older.before, older.after, older.verdict) == ("r-2026", "r-2027", "same")


def test_a_town_without_a_figure_falls_back_to_the_whole_municipality() -> None:
    found = compared(
        a_round("r-2026", BEFORE_DAY, share=60, respondents=500, towns={"kalv": (50, 40)}),
        a_round("r-2027", AFTER_DAY, share=68, respondents=520),
        town="kalv",
    )
    assert (found.verdict, found.whole) == ("safer", True)
    assert found.line() == (
        "safer: 68 % feel safe in the whole municipality in r-2027 against 60 % in r-2026"
        " (+8 percentage points; 500 and 520 respondents); Kalv does not have a figure of its"
        " own in both rounds, so the whole municipality's share is compared"
    )
    assert found.to_dict()["whole_municipality"] is True
    no_town = compared(a_round("r-2026", BEFORE_DAY), a_round("r-2027", AFTER_DAY), town=None)
    assert no_town.whole
    assert no_town.line().endswith(
        "the action has no town or area, so the whole municipality's share is compared"
    )


def test_an_area_weighs_its_towns_by_their_respondents() -> None:
    # Träffpunkt Högvad: Mjöbäck, Överlida, Holsljunga
    found = compared(
        a_round("r-2026", BEFORE_DAY, towns={"mjoback": (60, 30), "overlida": (80, 10)}),
        a_round("r-2027", AFTER_DAY, towns={"mjoback": (70, 20), "holsljunga": (70, 20)}),
        town="hogvad",
    )
    assert found.share_before is not None
    assert found.share_after is not None
    assert (found.share_before.share, found.share_before.respondents) == (65, 40)
    assert (found.share_after.share, found.share_after.respondents) == (70, 40)
    assert (found.verdict, found.whole) == ("same", False)
    assert "in Träffpunkt Högvad" in found.line()


def survey_round(engine: Engine, clock: Clock, year: int, answers: dict[str, object]) -> str:
    """A November round of Svenljunga's survey, its result entered as figures."""
    clock.set(local(year, 11, 2, 9))
    cycle = engine.open_cycle(SURVEY_CHAIR, "trygghetsundersokning", str(year))
    task = next(t for t in tasks(engine, cycle.ref) if t.key == "ta_ut_resultat")
    engine.complete_task(SURVEY_CHAIR, task.id, None, answers)
    return cycle.ref


SURVEY_CHAIR = "emelie.sandberg"


def bus_station(engine: Engine) -> ActionView:
    return Actions(engine).add(
        "maria.holm",
        {
            "title": "Belysning vid busstationen",
            "cause": "Otrygghet kvällstid",
            "start": "2027-04-01",
            "due": "2027-05-31",
            "owner": "maria.holm",
            "category": "otrygg_plats",
            "town": "svenljunga",
        },
    )


def test_the_survey_figures_entered_are_compared_around_the_action(
    store: Store, clock: Clock
) -> None:
    """Svenljunga runs the survey: the figures the chair enters for each November are the
    share compared, for the action's town (both databases)."""
    engine = make_engine(store, "svenljunga", clock)
    earlier = survey_round(
        engine,
        clock,
        2026,
        {
            "andel_trygga_kommunen": "66,5",
            "svarande_kommunen": 480,
            "andel_trygga.svenljunga": "58",
            "svarande.svenljunga": "210",
        },
    )
    clock.set(local(2027, 9, 1, 10))
    made = bus_station(engine)
    effect = effect_of(engine, made)
    assert effect.survey is not None
    assert (effect.survey.before, effect.survey.after) == (earlier, None)
    assert effect.survey.too_little == "no_after"

    later = survey_round(
        engine,
        clock,
        2027,
        {
            "andel_trygga_kommunen": 69,
            "svarande_kommunen": 455,
            "andel_trygga": {"Svenljunga": 67.5},
            "svarande": {"svenljunga": 190},
        },
    )
    effect = effect_of(engine, made)
    assert effect.survey is not None
    assert (effect.survey.before, effect.survey.after) == (earlier, later)
    assert (effect.survey.verdict, effect.survey.whole) == ("safer", False)
    assert effect.survey.line() == (
        f"safer: 67.5 % feel safe in Svenljunga in {later} against 58 % in {earlier}"
        " (+9.5 percentage points; 210 and 190 respondents)"
    )
    shown = effect.to_dict()["survey"]
    assert shown["change_points"] == 9.5
    assert shown["share_after"] == {"round": later, "share": 67.5, "respondents": 190}
    # Tranemo runs no survey: nothing to compare
    assert effect_of(make_engine(store, "tranemo", clock), a_view()).survey is None


def test_tsk_action_show_and_review_have_the_survey(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(store, "svenljunga", clock)
    set_up(engine)
    given = {"andel_trygga_kommunen": 70, "svarande_kommunen": 400}
    earlier = survey_round(engine, clock, 2026, given)
    later = survey_round(engine, clock, 2027, given | {"andel_trygga_kommunen": 61})
    made = bus_station(engine)
    tsk = Tsk(runner, store, "svenljunga", clock, monkeypatch)
    shown = tsk.ok("action", "show", str(made.id), as_="maria.holm")["effect"]["survey"]
    assert (shown["verdict"], shown["whole_municipality"]) == ("less_safe", True)
    assert (shown["before"], shown["after"]) == (earlier, later)
    assert shown["change_points"] == -9
    text = tsk.text("--lang", "en", "action", "show", str(made.id), as_="maria.holm")
    assert (
        f"  Safety survey: less safe: 61 % feel safe in the whole municipality in {later}"
        f" against 70 % in {earlier} (−9 percentage points; 400 and 400 respondents);"
        " Svenljunga does not have a figure of its own in both rounds, so the whole"
        " municipality's share is compared"
    ) in text.splitlines()
    review_text = tsk.text("--lang", "en", "action", "review", as_="maria.holm")
    assert any(
        line.startswith("    safety survey: less safe: 61 % feel safe")
        for line in review_text.splitlines()
    )
    found = tsk.ok("action", "review", as_="maria.holm")
    assert found["actions"][0]["effect"]["survey"]["verdict"] == "less_safe"
    swedish = tsk.text("action", "show", str(made.id), as_="maria.holm")
    assert "Trygghetsundersökning: otryggare: 61 % känner sig trygga i hela kommunen" in swedish
